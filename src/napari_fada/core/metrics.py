"""FADA's metrics: Dice, IoU, AP@0.50, plane accuracy and HC error, as its paper scores them.

Segmentation: every structure's polygons are rasterized on a 1000 x 1000 canvas (each axis scaled
to 0..1000 as in FADA's answers), and Dice is 1.0 when prediction and truth are both empty.
Detection: COCO-style average precision at IoU 0.50 with 101-point interpolated precision,
detections matched greedily by score (1.0 when a model gives none), per class and averaged over
the classes present in the ground truth; the tests check it against pycocotools' ``COCOeval``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from napari_fada.core.geometry import NORM, box_iou, polygon_box, px_to_norm
from napari_fada.core.polygon_fill import fill_polygon
from napari_fada.core.proposal import Annotation, Box

CANVAS = int(NORM)
IOU_THRESHOLD = 0.5
#: COCO's recall thresholds 0, 0.01, ..., 1 and its detections kept per image and class.
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


def scored(annotations: Iterable[Annotation]) -> list[Annotation]:
    """Annotations that count: everything but what a person rejected."""
    return [a for a in annotations if a.status != "rejected"]


def rasterize(annotations: Iterable[Annotation], label: str, width: int, height: int) -> np.ndarray:
    """Union of ``label``'s polygons on the 1000 x 1000 canvas of an image of this size."""
    canvas = np.zeros((CANVAS, CANVAS), dtype=bool)
    for annotation in annotations:
        if annotation.label == label and annotation.polygon and len(annotation.polygon) >= 3:
            points = [px_to_norm(x, y, width, height) for x, y in annotation.polygon]
            canvas |= fill_polygon(points, CANVAS, CANVAS)
    return canvas


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    total = int(prediction.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(prediction, truth).sum()) / total


def mask_iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    union = int(np.logical_or(prediction, truth).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(prediction, truth).sum()) / union


def polygon_labels(annotations: Iterable[Annotation]) -> set[str]:
    return {a.label for a in annotations if a.polygon and len(a.polygon) >= 3}


def segmentation_scores(
    prediction: Sequence[Annotation],
    truth: Sequence[Annotation],
    width: int,
    height: int,
    structures: Iterable[str] | None = None,
) -> dict[str, tuple[float, float]]:
    """``structure -> (dice, iou)`` for one image.

    Scored structures are ``structures`` when given, else those with a polygon in the prediction
    or the truth (so a missed or an invented structure scores 0).
    """
    labels = set(structures) if structures is not None else polygon_labels([*prediction, *truth])
    result = {}
    for label in sorted(labels):
        pred_mask = rasterize(prediction, label, width, height)
        true_mask = rasterize(truth, label, width, height)
        result[label] = (dice(pred_mask, true_mask), mask_iou(pred_mask, true_mask))
    return result


def annotation_box(annotation: Annotation) -> Box | None:
    if annotation.box is not None:
        return annotation.box
    if annotation.polygon and len(annotation.polygon) >= 3:
        return polygon_box(annotation.polygon)
    return None


@dataclass
class _ClassTally:
    """Scores of one class's detections across images, whether each matched, and the truths."""

    scores: list[float]
    matched: list[bool]
    n_truth: int = 0
    #: Each detection's box (in the order of ``scores``) and the true boxes no detection took.
    boxes: list[Box] = field(default_factory=list)
    missed: list[Box] = field(default_factory=list)


def _match_image(
    detections: list[tuple[float, Box]], truths: list[Box], tally: _ClassTally
) -> None:
    """COCO's greedy matching: by descending score, each detection takes the unmatched truth it
    overlaps most, if that overlap reaches the threshold."""
    order = sorted(range(len(detections)), key=lambda i: -detections[i][0])[:MAX_DETECTIONS]
    taken = [False] * len(truths)
    for index in order:
        score, box = detections[index]
        best, best_iou = -1, IOU_THRESHOLD
        for t, truth in enumerate(truths):
            overlap = box_iou(box, truth)
            if not taken[t] and overlap >= best_iou:
                best, best_iou = t, overlap
        if best >= 0:
            taken[best] = True
        tally.scores.append(score)
        tally.matched.append(best >= 0)
        tally.boxes.append(box)
    tally.n_truth += len(truths)
    tally.missed.extend(box for box, was_taken in zip(truths, taken, strict=True) if not was_taken)


def _interpolated_ap(tally: _ClassTally) -> float:
    order = np.argsort(-np.asarray(tally.scores, dtype=float), kind="mergesort")
    matched = np.asarray(tally.matched, dtype=bool)[order]
    tp = np.cumsum(matched)
    fp = np.cumsum(~matched)
    recall = tp / tally.n_truth
    precision = tp / (tp + fp + np.spacing(1))
    # Precision envelope: the best precision at any recall at least this high.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    indices = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = [precision[i] if i < len(precision) else 0.0 for i in indices]
    return float(np.mean(sampled))


def _tally_image(
    prediction: Sequence[Annotation], truth: Sequence[Annotation], tallies: dict[str, _ClassTally]
) -> None:
    """Match one image's detections to its true boxes, class by class, into ``tallies``."""
    labels = {a.label for a in [*prediction, *truth] if annotation_box(a) is not None}
    for label in labels:
        detections = [
            (1.0 if a.score is None else float(a.score), box)
            for a in prediction
            if a.label == label and (box := annotation_box(a)) is not None
        ]
        truths = [box for a in truth if a.label == label and (box := annotation_box(a)) is not None]
        _match_image(detections, truths, tallies.setdefault(label, _ClassTally([], [])))


@dataclass(frozen=True)
class DetectionMatch:
    """One detection as AP@0.50 counts it: its class, score, box and whether it hit a true box."""

    label: str
    score: float
    box: Box
    matched: bool


def detection_matches(
    prediction: Sequence[Annotation], truth: Sequence[Annotation]
) -> tuple[list[DetectionMatch], list[tuple[str, Box]]]:
    """One image's detections with their outcome under :func:`detection_ap50`'s matching, and
    the ``(label, box)`` of every true box no detection matched (false negatives)."""
    tallies: dict[str, _ClassTally] = {}
    _tally_image(prediction, truth, tallies)
    detections, missed = [], []
    for label, tally in sorted(tallies.items()):
        detections += [
            DetectionMatch(label, score, box, matched)
            for score, box, matched in zip(tally.scores, tally.boxes, tally.matched, strict=True)
        ]
        missed += [(label, box) for box in tally.missed]
    return detections, missed


def detection_ap50(
    images: Iterable[tuple[Sequence[Annotation], Sequence[Annotation]]],
) -> dict[str, float]:
    """AP at IoU 0.50 per class over ``(prediction, truth)`` annotation lists, one per image.

    Only classes with at least one true box get an AP; their mean is mAP@0.50.
    """
    tallies: dict[str, _ClassTally] = {}
    for prediction, truth in images:
        _tally_image(prediction, truth, tallies)
    return {
        label: _interpolated_ap(tally)
        for label, tally in sorted(tallies.items())
        if tally.n_truth > 0
    }


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def plane_confusion(pairs: Iterable[tuple[str, str | None]]) -> dict[str, dict[str, int]]:
    """``truth -> predicted -> count``; a missing prediction counts as ``"(none)"``."""
    counts = Counter((truth, predicted or "(none)") for truth, predicted in pairs)
    confusion: dict[str, dict[str, int]] = {}
    for (truth, predicted), count in sorted(counts.items()):
        confusion.setdefault(truth, {})[predicted] = count
    return confusion


def mean_absolute_error(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """Mean |predicted - reference| over the pairs that have a prediction."""
    return mean(abs(p - r) for p, r in pairs if p is not None)


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float | None:
    """ECE: the mean gap between confidence and accuracy over equal-width confidence bins,
    weighted by the share of calls in each bin; None without calls."""
    if not len(confidences):
        return None
    confidence = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for index in np.unique(which):
        rows = which == index
        total += abs(confidence[rows].mean() - hits[rows].mean()) * rows.sum() / len(confidence)
    return float(total)
