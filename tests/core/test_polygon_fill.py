"""The scanline fill gives exactly the masks of geometry.polygon_to_mask, much faster."""

from __future__ import annotations

import numpy as np

from napari_fada.core.geometry import mask_to_polygons, polygon_to_mask
from napari_fada.core.polygon_fill import fill_polygon


def test_matches_polygon_to_mask_on_random_polygons_partly_outside():
    rng = np.random.default_rng(0)
    for _ in range(200):
        width, height = (int(v) for v in rng.integers(5, 40, 2))
        polygon = [(float(x), float(y)) for x, y in rng.uniform(-8, 48, (rng.integers(3, 10), 2))]
        expected = polygon_to_mask(polygon, width, height)
        np.testing.assert_array_equal(fill_polygon(polygon, width, height), expected)


def test_traced_outlines_fill_back_to_their_mask():
    rng = np.random.default_rng(1)
    for _ in range(20):
        mask = rng.random((30, 40)) > 0.55
        filled = np.zeros_like(mask)
        for polygon in mask_to_polygons(mask, tolerance=0.0, min_area=0.0):
            filled |= fill_polygon(polygon, 40, 30)
        outer = np.zeros_like(mask)
        for polygon in mask_to_polygons(mask, tolerance=0.0, min_area=0.0):
            outer |= polygon_to_mask(polygon, 40, 30)
        np.testing.assert_array_equal(filled, outer)
        assert (filled >= mask).all()


def test_degenerate_input_gives_an_empty_mask():
    assert not fill_polygon([(0.0, 0.0), (5.0, 5.0)], 8, 8).any()
    assert not fill_polygon([(0.0, 2.0), (5.0, 2.0), (7.0, 2.0)], 8, 8).any()
    assert fill_polygon([(0.0, 0.0), (4.0, 0.0), (4.0, 4.0)], 0, 8).shape == (8, 0)
    square = fill_polygon([(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)], 5, 4)
    np.testing.assert_array_equal(np.argwhere(square), [[1, 1], [1, 2], [2, 1], [2, 2]])
