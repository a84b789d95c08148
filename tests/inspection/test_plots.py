"""Summary figures: reliability bins by hand, and every figure written as a real PNG."""

from __future__ import annotations

import pytest
from PIL import Image

from napari_fada.inspection.plots import (
    FIGURES,
    expected_calibration_error,
    reliability_bins,
    save_figures,
    summary_figures,
)
from tests.inspection.cases import known_set


def test_reliability_bins_hold_mean_score_and_fraction_right() -> None:
    bins = reliability_bins([0.05, 0.15, 0.95, 1.0, 0.92], [False, True, True, True, False], 10)
    assert [(b.low, b.count) for b in bins] == [(0.0, 1), (0.1, 1), (0.9, 3)]
    top = bins[-1]
    assert top.mean_score == pytest.approx((0.95 + 1.0 + 0.92) / 3)
    assert top.accuracy == pytest.approx(2 / 3)
    gaps = 1 * 0.05 + 1 * 0.85 + 3 * abs(top.mean_score - 2 / 3)
    assert expected_calibration_error(bins) == pytest.approx(gaps / 5)
    assert expected_calibration_error([]) is None


def test_every_summary_figure_is_written_as_a_png(tmp_path) -> None:
    inspection, predictions, _ = known_set()
    inspection.add_predictions(predictions)
    paths = save_figures(summary_figures(inspection.worst_first()), tmp_path / "plots")
    assert [p.stem for p in paths] == list(FIGURES)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 300
            assert len(set(image.convert("L").getdata())) > 10  # something was drawn


def test_figures_of_cases_without_planes_or_structures_still_draw(tmp_path) -> None:
    paths = save_figures(summary_figures([]), tmp_path)
    assert len(paths) == len(FIGURES) and all(p.stat().st_size > 0 for p in paths)
