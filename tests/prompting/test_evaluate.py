"""Interactive evaluation: the simulated annotator's session and the figures it reports."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_fada.prompting.clicks import Click
from napari_fada.prompting.evaluate import evaluate_interactive
from napari_fada.prompting.frame import Pyramid
from napari_fada.prompting.targets import Target, TargetSet


class GrowingPredictor:
    """Answers a box with the object's left ``start`` fraction of columns and each click with
    ``step`` more, so the Dice after each prompt is known in advance."""

    model_id = "fake"

    def __init__(self, truth: np.ndarray, start: float, step: float) -> None:
        self.truth, self.start, self.step = truth, start, step
        self.prompts: list[tuple[object, tuple[Click, ...]]] = []

    @staticmethod
    def encode(image: np.ndarray) -> Pyramid:
        return Pyramid(image)

    def predict(self, pyramid, box, clicks, previous=None) -> np.ndarray:
        self.prompts.append((box, tuple(clicks)))
        cols = np.flatnonzero(self.truth.any(axis=0))
        share = min(1.0, (self.start if box is not None else 0.0) + self.step * len(clicks))
        mask = np.zeros_like(self.truth)
        mask[:, cols[0] : cols[0] + round(share * len(cols))] = self.truth[
            :, cols[0] : cols[0] + round(share * len(cols))
        ]
        return mask


def _one_object() -> TargetSet:
    truth = np.zeros((40, 60), dtype=bool)
    truth[10:30, 10:50] = True
    return TargetSet(
        images=[np.zeros((40, 60), dtype=np.uint8)],
        image_ids=["a"],
        targets=[Target(0, "head", truth, (10.0, 10.0, 50.0, 30.0))],
    )


def test_box_start_reports_dice_and_noc():
    targets = _one_object()
    predictor = GrowingPredictor(targets.targets[0].mask, start=0.5, step=0.1)
    report = evaluate_interactive(predictor, targets, max_clicks=20, start="box")  # type: ignore[arg-type]
    # share after k clicks: 0.5 + 0.1 k, Dice = 2 s / (1 + s)
    assert report.dice_box["head"] == pytest.approx(2 * 0.5 / 1.5)
    assert report.dice_clicks["head"]["1"] == pytest.approx(2 * 0.6 / 1.6)
    assert report.dice_clicks["head"]["5"] == pytest.approx(1.0)
    assert report.noc85 == {"head": 3.0}  # share 0.8: Dice 0.889
    assert report.noc90 == {"head": 4.0}  # share 0.9: Dice 0.947
    first_box, first_clicks = predictor.prompts[0]
    assert first_box == (10.0, 10.0, 50.0, 30.0) and first_clicks == ()
    _, clicks = predictor.prompts[1]
    assert clicks[0].positive and 10 < clicks[0].y < 30 and clicks[0].x > 30  # the missed part
    assert set(report.to_json()) >= {"dice_box", "dice_clicks", "noc85", "noc90", "ms_per_prompt"}


def test_failures_count_at_the_cap_and_a_click_start_has_no_box_dice():
    targets = _one_object()
    predictor = GrowingPredictor(targets.targets[0].mask, start=0.0, step=0.01)
    report = evaluate_interactive(predictor, targets, max_clicks=6, start="click")  # type: ignore[arg-type]
    assert report.dice_box == {"head": None}
    assert report.noc85 == {"head": 6.0} and report.noc90 == {"head": 6.0}
    assert len(predictor.prompts) == 6  # the first click and five more, up to the cap
    assert report.ms_per_prompt["head"] >= 0 and not math.isnan(report.ms_per_prompt["head"])


def test_too_few_clicks_to_report_is_refused():
    with pytest.raises(ValueError, match="at least 5"):
        evaluate_interactive(None, _one_object(), max_clicks=3)  # type: ignore[arg-type]
