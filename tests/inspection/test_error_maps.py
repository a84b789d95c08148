"""False-positive and false-negative pixels and boxes on a constructed case with known masks."""

from __future__ import annotations

import numpy as np

from napari_fada.inspection.error_maps import (
    BOTH,
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    error_boxes,
    error_label_image,
    structure_errors,
)
from napari_fada.inspection.per_image import inspect_case
from tests.inspection.cases import HEIGHT, WIDTH, prediction, rectangle, rectangle_mask, reference


def _constructed() -> tuple:
    """Head shifted down 3 rows; the Brain called CSP; an invented LV."""
    truth = reference("case", [rectangle("head", 4, 5, 24, 25), rectangle("Brain", 10, 10, 16, 16)])
    found = prediction(
        [
            rectangle("head", 4, 8, 24, 28, score=0.9),
            rectangle("CSP", 10, 10, 16, 16, score=0.7),
            rectangle("LV", 30, 2, 36, 9, score=0.3),
        ]
    )
    return found, truth


def test_error_pixels_are_exactly_the_set_differences_of_the_masks() -> None:
    found, truth = _constructed()
    errors = {e.label: e for e in structure_errors(found, truth)}
    head_true, head_found = rectangle_mask(4, 5, 24, 25), rectangle_mask(4, 8, 24, 28)
    brain = rectangle_mask(10, 10, 16, 16)
    lv = rectangle_mask(30, 2, 36, 9)
    assert sorted(errors) == ["Brain", "CSP", "LV", "head"]
    np.testing.assert_array_equal(errors["head"].false_positive, head_found & ~head_true)
    np.testing.assert_array_equal(errors["head"].false_negative, head_true & ~head_found)
    np.testing.assert_array_equal(errors["Brain"].false_negative, brain)
    np.testing.assert_array_equal(errors["CSP"].false_positive, brain)
    assert not errors["CSP"].false_negative.any() and not errors["LV"].false_negative.any()

    image = error_label_image(list(errors.values()), WIDTH, HEIGHT)
    expected = np.zeros((HEIGHT, WIDTH), np.uint8)
    expected[(head_found & ~head_true) | lv] = FALSE_POSITIVE
    expected[head_true & ~head_found] = FALSE_NEGATIVE
    expected[brain] = BOTH
    np.testing.assert_array_equal(image, expected)
    assert int((image == FALSE_POSITIVE).sum()) == 3 * 20 + 6 * 7


def test_the_label_filter_shows_only_the_chosen_structure() -> None:
    found, truth = _constructed()
    image = error_label_image(structure_errors(found, truth), WIDTH, HEIGHT, ["Brain"])
    expected = np.where(rectangle_mask(10, 10, 16, 16), FALSE_NEGATIVE, 0)
    np.testing.assert_array_equal(image, expected)


def test_error_boxes_are_the_unmatched_detections_and_the_missed_truths() -> None:
    found, truth = _constructed()
    boxes = error_boxes(inspect_case(found, truth, "model-a"))
    kinds = {(b.kind, b.label, b.box) for b in boxes}
    # the shifted head still overlaps its truth by IoU 17/23 > 0.5: it is a hit
    assert kinds == {
        ("false positive", "CSP", (10, 10, 16, 16)),
        ("false positive", "LV", (30, 2, 36, 9)),
        ("false negative", "Brain", (10, 10, 16, 16)),
    }
