"""FADA's metrics on hand-computed cases, and AP@0.50 against pycocotools' COCOeval."""

from __future__ import annotations

import contextlib
import io
import random
from typing import Any

import numpy as np
import pytest

from napari_fada.core.metrics import (
    detection_ap50,
    dice,
    mask_iou,
    mean_absolute_error,
    plane_confusion,
    rasterize,
    segmentation_scores,
)
from napari_fada.core.proposal import Annotation

SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]


def box(label: str, b: tuple[float, float, float, float], score: float | None = None) -> Annotation:
    return Annotation(label=label, box=b, score=score)


def shape(label: str, polygon: list[tuple[float, float]]) -> Annotation:
    return Annotation(label=label, polygon=polygon)


def test_perfect_segmentation_scores_one() -> None:
    truth = [shape("head", SQUARE)]
    assert segmentation_scores(truth, truth, 200, 100) == {"head": (1.0, 1.0)}


def test_half_overlap_has_hand_computed_dice_and_iou() -> None:
    # Truth covers x 0..100, prediction x 50..150 of a 200 x 100 image: overlap 50 of 100 each.
    moved = [(x + 50.0, y) for x, y in SQUARE]
    scores = segmentation_scores([shape("head", moved)], [shape("head", SQUARE)], 200, 100)
    assert scores["head"][0] == pytest.approx(0.5, abs=1e-3)
    assert scores["head"][1] == pytest.approx(1 / 3, abs=1e-3)


def test_polygons_are_rasterized_on_a_1000_canvas_scaled_per_axis() -> None:
    # The left half of a 200 x 100 image is the left half of the canvas.
    canvas = rasterize([shape("head", SQUARE)], "head", 200, 100)
    assert canvas.shape == (1000, 1000)
    assert canvas.sum() == 500 * 1000


def test_empty_against_empty_is_one_and_missed_or_invented_is_zero() -> None:
    assert segmentation_scores([], [], 100, 100, structures=["CSP"]) == {"CSP": (1.0, 1.0)}
    missed = segmentation_scores([], [shape("LV", SQUARE)], 100, 100)
    invented = segmentation_scores([shape("LV", SQUARE)], [], 100, 100)
    assert missed == invented == {"LV": (0.0, 0.0)}


def test_rejected_annotations_do_not_count_but_unions_do() -> None:
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert dice(a, b) == pytest.approx(0.5)
    assert mask_iou(a, b) == pytest.approx(1 / 3)
    left = [(0.0, 0.0), (50.0, 0.0), (50.0, 100.0), (0.0, 100.0)]
    right = [(50.0, 0.0), (100.0, 0.0), (100.0, 100.0), (50.0, 100.0)]
    two_parts = [shape("head", left), shape("head", right)]
    assert segmentation_scores(two_parts, [shape("head", SQUARE)], 100, 100)["head"][0] == 1.0


def test_perfect_detection_has_ap_one_and_missed_class_zero() -> None:
    truth = [box("head", (10, 10, 90, 90)), box("CSP", (40, 40, 50, 50))]
    assert detection_ap50([(truth, truth)]) == pytest.approx({"CSP": 1.0, "head": 1.0})
    only_head = [box("head", (10, 10, 90, 90))]
    assert detection_ap50([(only_head, truth)]) == pytest.approx({"CSP": 0.0, "head": 1.0})


def test_shifted_box_matches_only_when_its_iou_reaches_one_half() -> None:
    truth = [box("head", (0, 0, 100, 100))]
    # Shift by 33 px: IoU = 67 / 133 = 0.5038, a match; by 34 px: 66 / 134 = 0.4925, a miss.
    assert detection_ap50([([box("head", (33, 0, 133, 100))], truth)]) == {
        "head": pytest.approx(1.0)
    }
    assert detection_ap50([([box("head", (34, 0, 134, 100))], truth)]) == {"head": 0.0}


def test_false_positive_ranked_first_lowers_ap_by_interpolation() -> None:
    truth = [box("LV", (0, 0, 10, 10))]
    # Ranked: a miss (0.9) then the hit (0.5): precision at recall 1 is 1/2, so AP = 0.5.
    prediction = [box("LV", (50, 50, 60, 60), 0.9), box("LV", (0, 0, 10, 10), 0.5)]
    assert detection_ap50([(prediction, truth)]) == {"LV": pytest.approx(0.5)}
    # A class only in the prediction gets no AP; it is not in the ground truth.
    assert "CSP" not in detection_ap50([([box("CSP", (0, 0, 5, 5))], truth)])


def test_plane_confusion_and_hc_error() -> None:
    pairs = [("trans-thalamic", "trans-thalamic"), ("transperineal", None), ("transperineal", "x")]
    assert plane_confusion(pairs) == {
        "trans-thalamic": {"trans-thalamic": 1},
        "transperineal": {"(none)": 1, "x": 1},
    }
    assert mean_absolute_error([(70.0, 72.0), (None, 60.0), (65.0, 61.0)]) == pytest.approx(3.0)
    assert mean_absolute_error([(None, 60.0)]) is None


LABELS = ("head", "CSP", "LV")


def _random_score(rng: random.Random) -> float | None:
    return rng.choice([None, round(rng.random(), 2)])


def _random_case(rng: random.Random) -> list[tuple[list[Annotation], list[Annotation]]]:
    """Images with a few true boxes, most found with jitter, plus some false positives."""
    images = []
    for _ in range(rng.randint(3, 8)):
        truth = []
        for _ in range(rng.randint(0, 4)):
            x, y, w, h = rng.uniform(0, 300), rng.uniform(0, 300), rng.uniform(10, 80), 40.0
            truth.append(box(rng.choice(LABELS), (x, y, x + w, y + h)))
        prediction = []
        for t in truth:
            if rng.random() < 0.8 and t.box is not None:
                dx, dy = rng.uniform(-15, 15), rng.uniform(-15, 15)
                x0, y0, x1, y1 = t.box
                jittered = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
                prediction.append(box(t.label, jittered, _random_score(rng)))
        for _ in range(rng.randint(0, 3)):
            x, y = rng.uniform(0, 300), rng.uniform(0, 300)
            prediction.append(box(rng.choice(LABELS), (x, y, x + 40, y + 40), _random_score(rng)))
        images.append((prediction, truth))
    return images


def _coco_record(a: Annotation, image_id: int, category_id: int) -> dict[str, Any]:
    assert a.box is not None
    x0, y0, x1, y1 = a.box
    return {
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [x0, y0, x1 - x0, y1 - y0],
        "area": (x1 - x0) * (y1 - y0),
        "iscrowd": 0,
        "score": 1.0 if a.score is None else a.score,
    }


def _coco_ap50(images: list[tuple[list[Annotation], list[Annotation]]]) -> dict[str, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = sorted({a.label for p, t in images for a in [*p, *t]})
    cat = {name: i + 1 for i, name in enumerate(names)}
    gts, dts = [], []
    for image_id, (prediction, truth) in enumerate(images, start=1):
        gts += [_coco_record(a, image_id, cat[a.label]) for a in truth]
        dts += [_coco_record(a, image_id, cat[a.label]) for a in prediction]
    for index, record in enumerate(gts, start=1):
        record["id"] = index
    ground = COCO()
    ground.dataset = {
        "images": [{"id": i + 1} for i in range(len(images))],
        "annotations": gts,
        "categories": [{"id": v, "name": k} for k, v in cat.items()],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ground.createIndex()
        evaluation = COCOeval(ground, ground.loadRes(dts), "bbox")
        evaluation.params.iouThrs = np.array([0.5])
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][0, :, :, 0, -1]  # recall, class; area all, 100 dets
    return {
        name: float(precision[:, cat[name] - 1].mean())
        for name in names
        if (precision[:, cat[name] - 1] > -1).all()
    }


@pytest.mark.parametrize("seed", range(6))
def test_ap50_matches_pycocotools(seed: int) -> None:
    rng = random.Random(seed)
    images = _random_case(rng)
    while not any(p for p, _ in images):  # loadRes needs at least one detection
        images = _random_case(rng)
    ours = detection_ap50(images)
    reference = _coco_ap50(images)
    assert ours.keys() == reference.keys()
    for label, value in reference.items():
        assert ours[label] == pytest.approx(value, abs=1e-6)
