"""Where a proposal is wrong, at the image's own resolution: false-positive and false-negative
pixels per structure, and the boxes that AP@0.50 counts as false positives or misses.

Pixels are rasterized with :func:`napari_fada.core.geometry.polygon_to_mask` (a pixel belongs to
a polygon when its centre is inside), the inverse of the outlines traced from label masks, so a
ground-truth mask comes back pixel for pixel. Dice itself is scored on FADA's 1000 x 1000 canvas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from napari_fada.core.geometry import polygon_to_mask
from napari_fada.core.metrics import polygon_labels, scored
from napari_fada.core.proposal import Annotation, Box, Proposal
from napari_fada.core.scoring import Reference
from napari_fada.inspection.per_image import InspectionCase

#: Values of :func:`error_label_image`: a pixel wrongly claimed, one missed, or both (a pixel of
#: one structure given to another).
FALSE_POSITIVE = 1
FALSE_NEGATIVE = 2
BOTH = 3
#: RGBA colours of the overlays, also used by the report's pictures.
ERROR_COLORS: dict[int, tuple[float, float, float, float]] = {
    FALSE_POSITIVE: (1.0, 0.15, 0.15, 1.0),
    FALSE_NEGATIVE: (0.1, 0.85, 1.0, 1.0),
    BOTH: (1.0, 0.9, 0.1, 1.0),
}
ErrorKind = Literal["false positive", "false negative"]
BOX_COLORS: dict[ErrorKind, tuple[float, float, float, float]] = {
    "false positive": ERROR_COLORS[FALSE_POSITIVE],
    "false negative": ERROR_COLORS[FALSE_NEGATIVE],
}


@dataclass
class StructureErrors:
    """One structure's wrong pixels: ``(height, width)`` boolean masks."""

    label: str
    false_positive: np.ndarray
    false_negative: np.ndarray


@dataclass(frozen=True)
class ErrorBox:
    """A box AP@0.50 counts against the model: a detection that hit no true box, or a true box
    that no detection hit."""

    label: str
    box: Box
    kind: ErrorKind
    score: float | None = None


def structure_mask(
    annotations: Iterable[Annotation], label: str, width: int, height: int
) -> np.ndarray:
    """Union of ``label``'s polygons at full resolution."""
    mask = np.zeros((height, width), dtype=bool)
    for annotation in annotations:
        if annotation.label == label and annotation.polygon and len(annotation.polygon) >= 3:
            mask |= polygon_to_mask(annotation.polygon, width, height)
    return mask


def structure_errors(prediction: Proposal, reference: Reference) -> list[StructureErrors]:
    """False-positive and false-negative pixels of every structure either side outlines."""
    predicted = scored(prediction.annotations)
    truth = scored(reference.annotations)
    width, height = reference.width, reference.height
    errors = []
    for label in sorted(polygon_labels([*predicted, *truth])):
        pred_mask = structure_mask(predicted, label, width, height)
        true_mask = structure_mask(truth, label, width, height)
        errors.append(StructureErrors(label, pred_mask & ~true_mask, true_mask & ~pred_mask))
    return errors


def error_label_image(
    errors: Sequence[StructureErrors], width: int, height: int, labels: Iterable[str] | None = None
) -> np.ndarray:
    """One ``uint8`` image of the errors of ``labels`` (default: all): :data:`FALSE_POSITIVE`,
    :data:`FALSE_NEGATIVE`, or :data:`BOTH` where structures disagree in both ways."""
    chosen = None if labels is None else set(labels)
    false_positive = np.zeros((height, width), dtype=bool)
    false_negative = np.zeros((height, width), dtype=bool)
    for error in errors:
        if chosen is None or error.label in chosen:
            false_positive |= error.false_positive
            false_negative |= error.false_negative
    image = np.zeros((height, width), dtype=np.uint8)
    image[false_positive] = FALSE_POSITIVE
    image[false_negative] = FALSE_NEGATIVE
    image[false_positive & false_negative] = BOTH
    return image


def error_boxes(case: InspectionCase) -> list[ErrorBox]:
    """The case's unmatched detections (with their scores) and missed true boxes."""
    unmatched = [d for d in case.detections if not d.matched]
    boxes = [ErrorBox(d.label, d.box, "false positive", d.score) for d in unmatched]
    boxes += [ErrorBox(label, box, "false negative") for label, box in case.missed_boxes]
    return boxes
