"""Vectorized Douglas-Peucker: fewer vertices, none dropped farther than the tolerance."""

from __future__ import annotations

import numpy as np

from napari_fada.core.geometry import mask_to_polygons
from napari_fada.core.polygon_fill import fill_polygon
from napari_fada.core.polygon_simplify import simplify_polygon


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
    return float(np.hypot(*(p - (a + t * ab))))


def test_collinear_and_near_collinear_vertices_go_corners_stay():
    square = [(0.0, 0.0), (5.0, 0.0), (10.0, 0.1), (10.0, 10.0), (5.0, 10.0), (0.0, 10.0)]
    assert simplify_polygon(square, 0.5) == [(0.0, 0.0), (10.0, 0.1), (10.0, 10.0), (0.0, 10.0)]
    assert simplify_polygon(square, 0.0) == square
    assert simplify_polygon(square[:3], 100.0) == square[:3]


def test_every_dropped_vertex_is_within_tolerance_of_the_outline():
    rng = np.random.default_rng(3)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 300))
    radii = 50 + rng.normal(0, 2, 300)
    xs, ys = radii * np.cos(angles), radii * np.sin(angles)
    polygon = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    for tolerance in (0.5, 2.0, 8.0):
        simple = np.asarray(simplify_polygon(polygon, tolerance))
        assert 3 <= len(simple) < len(polygon)
        edges = list(zip(simple, np.roll(simple, -1, axis=0), strict=True))
        for point in np.asarray(polygon):
            assert min(_segment_distance(point, a, b) for a, b in edges) <= tolerance + 1e-9


def test_traced_outlines_simplified_under_0_35_px_still_fill_the_same_pixels():
    yy, xx = np.mgrid[:60, :80]
    mask = ((xx - 40) / 30.0) ** 2 + ((yy - 30) / 18.0) ** 2 <= 1
    (traced,) = mask_to_polygons(mask, tolerance=0.0, min_area=0.0)
    simple = simplify_polygon(traced, 0.3)
    assert len(simple) < len(traced) / 2
    np.testing.assert_array_equal(fill_polygon(simple, 80, 60), mask)
