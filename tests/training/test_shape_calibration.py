"""Shape score calibration: a fitted map from expected Dice to the chance of Dice >= 0.9."""

from __future__ import annotations

import numpy as np
import pytest

from napari_fada.models.embedded_weights import ANY_STRUCTURE
from napari_fada.training.shape_calibration import (
    MIN_SHAPES,
    ShapeOutcome,
    fit_shape_calibration,
)


def _probability(fit: tuple[float, float], expected: float) -> float:
    slope, intercept = fit
    return 1 / (1 + np.exp(-(slope * np.log(expected / (1 - expected)) + intercept)))


def _outcomes(structure: str, count: int, right_above: float, seed: int) -> list[ShapeOutcome]:
    """Shapes whose chance of being right rises with the expected Dice past ``right_above``."""
    rng = np.random.default_rng(seed)
    expected = rng.uniform(0.6, 0.99, count)
    chance = 1 / (1 + np.exp(-40 * (expected - right_above)))
    return [
        ShapeOutcome(structure, float(e), bool(r))
        for e, r in zip(expected, rng.random(count) < chance, strict=True)
    ]


def test_the_fit_tells_how_often_shapes_of_each_structure_are_right():
    """A structure that is right only at a higher expected Dice gets lower probabilities for the
    same raw score; each map rises with the raw score; the common map sits between them."""
    outcomes = _outcomes("head", 400, 0.85, 1) + _outcomes("LV", 400, 0.95, 2)
    fit = fit_shape_calibration(outcomes)
    assert set(fit) == {"head", "LV", ANY_STRUCTURE}
    for name in ("head", "LV", ANY_STRUCTURE):
        assert (
            _probability(fit[name], 0.7)
            < _probability(fit[name], 0.9)
            < _probability(fit[name], 0.98)
        )
    assert _probability(fit["LV"], 0.9) < _probability(fit[ANY_STRUCTURE], 0.9)
    assert _probability(fit[ANY_STRUCTURE], 0.9) < _probability(fit["head"], 0.9)
    # calibrated: among head shapes given about 0.5, about half are right
    head = [o for o in outcomes if o.structure == "head"]
    near = [o.right for o in head if 0.3 < _probability(fit["head"], o.expected_dice) < 0.7]
    assert near and np.mean(near) == pytest.approx(0.5, abs=0.25)


def test_no_fit_from_too_few_shapes_or_from_shapes_all_right_or_all_wrong():
    assert fit_shape_calibration(_outcomes("head", MIN_SHAPES - 1, 0.8, 3)) == {}
    assert fit_shape_calibration([ShapeOutcome("head", 0.9, True)] * 50) == {}
    assert fit_shape_calibration([ShapeOutcome("CSP", 0.7, False)] * 50) == {}


def test_outcomes_judge_the_shipped_models_shapes_on_the_real_samples(samples_dir):
    """Each labelled structure the model finds gives one outcome with its raw expected Dice (the
    file's own calibration is not applied); the shipped model outlines most heads right."""
    from napari_fada.models.embedded_weights import SHIPPED_WEIGHTS, load_weights
    from napari_fada.training.data import read_dataset
    from napari_fada.training.shape_calibration import shape_outcomes

    weights = load_weights(SHIPPED_WEIGHTS)
    weights.shape_calibration = {ANY_STRUCTURE: (1.0, -50.0)}  # would squash every score to ~0
    samples = read_dataset(samples_dir, weights.planes)
    outcomes = shape_outcomes(weights, samples)
    names = {o.structure for o in outcomes}
    assert {"head", "fetal_head", "pubic_symphysis"} <= names
    assert len(outcomes) <= sum(len(s.reference.structures) for s in samples)
    assert all(0.0 < o.expected_dice <= 1.0 for o in outcomes)
    assert np.median([o.expected_dice for o in outcomes]) > 0.5  # not squashed
    heads = [o.right for o in outcomes if o.structure in ("head", "fetal_head")]
    assert np.mean(heads) > 0.6
