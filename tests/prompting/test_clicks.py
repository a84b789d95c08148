"""The simulated annotator clicks where a mask is most wrong; NoC counts clicks to a Dice."""

from __future__ import annotations

import math

import numpy as np

from napari_fada.prompting.clicks import Click, clicks_to_reach, dice, next_click


def _square(top: int, left: int, side: int, shape=(40, 40)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_a_missed_object_gets_a_positive_click_at_its_centre():
    truth = _square(10, 20, 11)
    assert next_click(truth, np.zeros_like(truth)) == Click(x=25.0, y=15.0, positive=True)


def test_a_spill_gets_a_negative_click_inside_the_spill():
    truth = _square(10, 10, 10)
    predicted = truth | _square(25, 25, 9)
    assert next_click(truth, predicted) == Click(x=29.0, y=29.0, positive=False)


def test_the_largest_error_region_wins_over_a_deeper_but_smaller_one():
    truth = _square(0, 0, 40)
    predicted = truth.copy()
    predicted[2:8, 2:8] = False  # a 6x6 hole: 36 pixels
    predicted[20:22, 0:40] = False  # a 2-pixel band: 80 pixels, larger, shallower
    click = next_click(truth, predicted)
    assert click is not None and click.positive and 20 <= click.y <= 21


def test_the_image_edge_counts_as_the_border_of_a_region():
    truth = np.zeros((20, 20), dtype=bool)
    truth[:, :6] = True  # touches the left edge: its centre is 3 px in, not at the edge
    click = next_click(truth, np.zeros_like(truth))
    assert click is not None and click.x in (2.0, 3.0)


def test_an_exact_mask_gets_no_click():
    truth = _square(5, 5, 5)
    assert next_click(truth, truth.copy()) is None


def test_dice():
    a, b = _square(0, 0, 10), _square(0, 5, 10)
    assert dice(a, b) == 0.5
    assert dice(a, a) == 1.0
    assert dice(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_noc_counts_clicks_after_the_box_and_failures_at_the_cap():
    assert clicks_to_reach([0.91, 0.95], 0.90, 20) == 0  # the box alone did it
    assert clicks_to_reach([0.5, 0.7, 0.86, 0.93], 0.85, 20) == 2
    assert clicks_to_reach([0.5, 0.7, 0.86, 0.93], 0.90, 20) == 3
    assert clicks_to_reach([0.5] * 21, 0.90, 20) == 20
    assert clicks_to_reach([0.5] * 10 + [0.95] * 20, 0.90, 5) == 5  # reached only past the cap
    assert clicks_to_reach([math.nan, 0.95], 0.90, 20) == 1  # a click start has no box Dice
