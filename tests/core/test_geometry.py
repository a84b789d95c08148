import numpy as np
import pytest

from napari_fada.core.geometry import (
    box_iou,
    clamp_box,
    dedupe_points,
    mask_box,
    mask_to_polygons,
    norm_to_px,
    normalize_box,
    polygon_area,
    polygon_box,
    polygon_to_mask,
    px_to_norm,
)


def test_norm_and_pixels_round_trip():
    assert norm_to_px(500, 1000, 800, 540) == (400.0, 540.0)
    x, y = px_to_norm(*norm_to_px(123.0, 456.0, 959, 661), 959, 661)
    assert x == pytest.approx(123.0) and y == pytest.approx(456.0)


def test_boxes_are_ordered_clamped_and_compared():
    assert normalize_box((10, 40, 5, 20)) == (5.0, 20.0, 10.0, 40.0)
    assert clamp_box((-5.0, 3.0, 900.0, 600.0), 800, 540) == (0.0, 3.0, 800.0, 540.0)
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_polygon_area_and_box():
    square = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)]
    assert polygon_area(square) == 16.0
    assert polygon_box(square) == (0.0, 0.0, 4.0, 4.0)
    assert polygon_area(square[:2]) == 0.0


def test_mask_polygon_round_trip_is_pixel_exact_for_an_ellipse():
    yy, xx = np.mgrid[:120, :160]
    mask = ((xx - 80) / 50.0) ** 2 + ((yy - 60) / 30.0) ** 2 <= 1
    polygons = mask_to_polygons(mask, tolerance=0)
    assert len(polygons) == 1
    back = polygon_to_mask(polygons[0], 160, 120)
    assert (back == mask).all()
    assert mask_box(mask) == (30.0, 30.0, 131.0, 91.0)


def test_mask_to_polygons_splits_components_largest_first():
    mask = np.zeros((50, 50), bool)
    mask[5:10, 5:10] = True
    mask[20:40, 20:45] = True
    polygons = mask_to_polygons(mask, tolerance=0)
    assert len(polygons) == 2
    assert polygon_area(polygons[0]) > polygon_area(polygons[1])
    assert mask_box(np.zeros((3, 3), bool)) is None


def test_dedupe_points_drops_repeats_and_closing_vertex():
    pts = [(0, 0), (0, 0), (1, 0), (1, 1), (0, 0)]
    assert dedupe_points(pts) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
