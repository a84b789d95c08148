"""Score proposals against references, image by image, and gather the figures into a report.

Any backend's proposals are scored against any dataset by the same code: a dataset is reduced to
:class:`Reference` items (true annotations, plane labels, reference HC) before scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from napari_fada.core import strict_json
from napari_fada.core.biometry import reviewed_head_biometry
from napari_fada.core.metrics import (
    detection_ap50,
    expected_calibration_error,
    mean,
    mean_absolute_error,
    plane_confusion,
    scored,
    segmentation_scores,
)
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.core.scan_planes import PLANE_ALIASES, is_segmented
from napari_fada.errors import DatasetError


@dataclass
class Reference:
    """The ground truth of one image.

    ``plane`` is the true plane (a row of the confusion matrix); a predicted plane label is right
    when it equals ``plane`` or one of ``plane_aliases`` (FADA's class label for that plane).
    """

    image_id: str
    width: int
    height: int
    annotations: list[Annotation]
    plane: str | None = None
    plane_aliases: tuple[str, ...] = ()
    hc_mm: float | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    #: The structures this ground truth labels; a prediction of any other is not scored (it is
    #: unlabelled here, not wrong). None: every structure is labelled.
    labelled: frozenset[str] | None = None
    #: The source dataset (a hospital, a device, a collection), for per-source figures.
    source: str | None = None

    def plane_matches(self, label: str | None) -> bool:
        """The predicted plane is the true one, one of its aliases, or one of the planes a
        coarse true name ("brain") stands for."""
        if label is None:
            return False
        accepted = {p.strip().casefold() for p in (self.plane, *self.plane_aliases) if p}
        expanded = {q.casefold() for p in accepted for q in PLANE_ALIASES.get(p, ())}
        return label.strip().casefold() in accepted | expanded

    @property
    def segmented(self) -> bool | None:
        """Whether the true plane is one with outlined structures (None: not a scan plane)."""
        return is_segmented(self.plane) if self.plane else None


@dataclass
class ImageResult:
    """One image's scores, kept for failure inspection."""

    image_id: str
    dice: dict[str, float]
    iou: dict[str, float]
    plane_true: str | None
    plane_predicted: str | None
    plane_correct: bool | None
    hc_reference_mm: float | None
    hc_predicted_mm: float | None
    source: str | None = None
    plane_score: float | None = None
    #: Shapes proposed (not rejected) on an image whose plane has no outlined structures; None
    #: when the image's plane has some or is unknown.
    spurious: int | None = None
    #: Per scored structure, the highest score the model gave a shape of it.
    shape_scores: dict[str, float] = field(default_factory=dict)


@dataclass
class EvaluationReport:
    """Aggregated figures plus the per-image results they were computed from."""

    n_images: int
    dice: dict[str, float]
    iou: dict[str, float]
    mean_dice: float | None
    ap50: dict[str, float]
    map50: float | None
    plane_accuracy: float | None
    plane_confusion: dict[str, dict[str, int]]
    hc_mae_mm: float | None
    per_image: list[ImageResult] = field(default_factory=list)
    model_id: str | None = None
    n_skipped: int = 0
    #: Share of the images on planes without outlined structures that got any shape.
    spurious_rate: float | None = None
    #: Expected calibration error of the plane scores (10 equal-width bins).
    ece: float | None = None
    #: Per source dataset: images, Dice per structure, plane accuracy, HC MAE.
    per_source: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return strict_json.dumps(self.to_dict(), indent=2)

    def format_table(self) -> str:
        """The figures as a plain-text table for a terminal."""
        model = f", model {self.model_id}" if self.model_id else ""
        lines = [f"{self.n_images} images scored{model}"]
        if self.n_skipped:
            lines.append(f"{self.n_skipped} references without a prediction were not scored")
        lines.append(f"{'structure':<18}{'Dice':>8}{'IoU':>8}{'AP@0.50':>9}{'images':>8}")
        for label in sorted({*self.dice, *self.ap50}):
            counted = sum(1 for r in self.per_image if label in r.dice)
            lines.append(
                f"{label:<18}{_cell(self.dice.get(label))}{_cell(self.iou.get(label))}"
                f"{_cell(self.ap50.get(label), 9)}{counted:>8}"
            )
        lines.append(f"{'mean':<18}{_cell(self.mean_dice)}{'':>8}{_cell(self.map50, 9)}")
        with_reference = [r for r in self.per_image if r.hc_reference_mm is not None]
        measured = sum(1 for r in with_reference if r.hc_predicted_mm is not None)
        lines.append(f"plane accuracy  {_cell(self.plane_accuracy)}   ECE {_cell(self.ece)}")
        for truth, row in self.plane_confusion.items():
            answers = ", ".join(f"{label} {count}" for label, count in row.items())
            lines.append(f"  {truth}: {answers}")
        mae = "n/a" if self.hc_mae_mm is None else f"{self.hc_mae_mm:.2f} mm"
        lines.append(
            f"HC MAE {mae} over {measured} of {len(with_reference)} images with a reference HC"
        )
        if self.spurious_rate is not None:
            counted = sum(1 for r in self.per_image if r.spurious is not None)
            lines.append(
                f"spurious rate {self.spurious_rate:.4f}: images on planes without outlined "
                f"structures that got a shape (of {counted})"
            )
        for source, figures in self.per_source.items():
            dice = ", ".join(f"{k} {v:.3f}" for k, v in figures["dice"].items())
            plane = figures["plane_accuracy"]
            plane_text = "" if plane is None else f", plane accuracy {plane:.3f}"
            lines.append(f"  {source}: {figures['n_images']} images{plane_text}; Dice {dice}")
        return "\n".join(lines)


def _cell(value: float | None, width: int = 8) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.4f}"


def predicted_hc_mm(prediction: Sequence[Annotation], reference: Reference) -> float | None:
    """HC, in mm, of the ellipse fitted to the largest predicted head outline (not rejected).

    One head is measured, as a sonographer measures one: a small stray head component elsewhere
    in the image must not pull the ellipse (it is scored by Dice and AP instead)."""
    measured = reviewed_head_biometry(
        prediction,
        reference.width,
        reference.height,
        reference.pixel_spacing_mm,
        ("proposed", "accepted", "edited"),
    )
    return measured.get("hc_mm")


def scored_prediction(prediction: Proposal, reference: Reference) -> list[Annotation]:
    """The predicted annotations that ``reference`` can judge (see :attr:`Reference.labelled`)."""
    predicted = scored(prediction.annotations)
    if reference.labelled is None:
        return predicted
    return [a for a in predicted if a.label in reference.labelled]


def score_image(prediction: Proposal, reference: Reference) -> ImageResult:
    if (prediction.width, prediction.height) != (reference.width, reference.height):
        raise DatasetError(
            f"The proposal for {reference.image_id} is for a {prediction.width}x"
            f"{prediction.height} image but the dataset's image is {reference.width}x"
            f"{reference.height}: score proposals made on the dataset's own images."
        )
    predicted = scored_prediction(prediction, reference)
    segmentation = segmentation_scores(
        predicted, scored(reference.annotations), reference.width, reference.height
    )
    plane = prediction.plane.label if prediction.plane else None
    has_truth = reference.plane is not None or bool(reference.plane_aliases)
    shapes = [a for a in prediction.annotations if a.status != "rejected"]
    return ImageResult(
        image_id=reference.image_id,
        dice={label: scores[0] for label, scores in segmentation.items()},
        iou={label: scores[1] for label, scores in segmentation.items()},
        plane_true=reference.plane or (reference.plane_aliases or (None,))[0],
        plane_predicted=plane,
        plane_correct=reference.plane_matches(plane) if has_truth else None,
        hc_reference_mm=reference.hc_mm,
        hc_predicted_mm=predicted_hc_mm(predicted, reference) if reference.hc_mm else None,
        source=reference.source,
        plane_score=prediction.plane.score if prediction.plane else None,
        spurious=len(shapes) if reference.segmented is False else None,
        shape_scores=_best_scores(predicted),
    )


def _best_scores(annotations: Sequence[Annotation]) -> dict[str, float]:
    best: dict[str, float] = {}
    for annotation in annotations:
        if annotation.score is not None:
            best[annotation.label] = max(annotation.score, best.get(annotation.label, 0.0))
    return best


def _per_structure(results: Sequence[ImageResult], key: str) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for result in results:
        for label, value in getattr(result, key).items():
            values.setdefault(label, []).append(value)
    return {label: float(np.mean(v)) for label, v in sorted(values.items())}


def _summary(results: Sequence[ImageResult]) -> dict[str, Any]:
    planes = [r for r in results if r.plane_correct is not None]
    return {
        "n_images": len(results),
        "dice": _per_structure(results, "dice"),
        "plane_accuracy": mean(float(bool(r.plane_correct)) for r in planes),
        "hc_mae_mm": mean_absolute_error(
            (r.hc_predicted_mm, r.hc_reference_mm) for r in results if r.hc_reference_mm is not None
        ),
    }


def _per_source(results: Sequence[ImageResult]) -> dict[str, dict[str, Any]]:
    sources = sorted({r.source for r in results if r.source})
    return {s: _summary([r for r in results if r.source == s]) for s in sources}


def build_report(
    pairs: Iterable[tuple[Proposal, Reference]], model_id: str | None = None, n_skipped: int = 0
) -> EvaluationReport:
    """Score each (prediction, reference) pair and aggregate: per-structure means over the images
    where a structure was scored, mean Dice over structures, mAP over true classes."""
    results: list[ImageResult] = []
    detections: list[tuple[list[Annotation], list[Annotation]]] = []
    for prediction, reference in pairs:
        results.append(score_image(prediction, reference))
        detections.append((scored_prediction(prediction, reference), scored(reference.annotations)))
    summary = _summary(results)
    ap50 = detection_ap50(detections)
    planes = [r for r in results if r.plane_correct is not None]
    calibrated = [r for r in planes if r.plane_score is not None]
    unsegmented = [r for r in results if r.spurious is not None]
    return EvaluationReport(
        n_images=len(results),
        dice=summary["dice"],
        iou=_per_structure(results, "iou"),
        mean_dice=mean(summary["dice"].values()),
        ap50=ap50,
        map50=mean(ap50.values()),
        plane_accuracy=summary["plane_accuracy"],
        plane_confusion=plane_confusion((r.plane_true or "", r.plane_predicted) for r in planes),
        hc_mae_mm=summary["hc_mae_mm"],
        per_image=results,
        model_id=model_id,
        n_skipped=n_skipped,
        spurious_rate=mean(float(bool(r.spurious)) for r in unsegmented),
        ece=expected_calibration_error(
            [r.plane_score or 0.0 for r in calibrated], [bool(r.plane_correct) for r in calibrated]
        ),
        per_source=_per_source(results),
    )
