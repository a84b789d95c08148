"""Conversions between FADA's 0..1000 coordinates, pixels, boxes, polygons and masks.

Pixel coordinates (as in COCO): ``x`` runs along columns and ``y`` along rows, pixel ``(i, j)``
covers ``[j, j + 1] x [i, i + 1]``, so the image spans ``[0, width] x [0, height]`` and FADA's
0..1000 range maps onto that extent. napari puts pixel centres at integers: the layer code shifts
by half a pixel at that boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_fada.core.proposal import Box, Point

NORM = 1000.0


def norm_to_px(x: float, y: float, width: int, height: int) -> Point:
    """A point in FADA's 0..1000 convention to pixels of a ``width`` x ``height`` image."""
    return (x / NORM * width, y / NORM * height)


def px_to_norm(x: float, y: float, width: int, height: int) -> Point:
    return (x / width * NORM, y / height * NORM)


def clamp_point(x: float, y: float, width: float, height: float) -> Point:
    return (min(max(x, 0.0), width), min(max(y, 0.0), height))


def normalize_box(box: Sequence[float]) -> Box:
    """Order a box's corners so that ``x0 <= x1`` and ``y0 <= y1`` (models emit flipped boxes)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def clamp_box(box: Box, width: float, height: float) -> Box:
    x0, y0 = clamp_point(box[0], box[1], width, height)
    x1, y1 = clamp_point(box[2], box[3], width, height)
    return (x0, y0, x1, y1)


def box_area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def polygon_box(polygon: Sequence[Point]) -> Box:
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    return (min(xs), min(ys), max(xs), max(ys))


def polygon_area(polygon: Sequence[Point]) -> float:
    """Absolute area by the shoelace formula."""
    if len(polygon) < 3:
        return 0.0
    pts = np.asarray(polygon, dtype=float)
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def polygon_to_mask(polygon: Sequence[Point], width: int, height: int) -> np.ndarray:
    """Rasterize a polygon in pixel coordinates to a boolean ``(height, width)`` mask.

    A pixel is set when its centre (``x + 0.5``, ``y + 0.5``) lies inside the polygon, so that
    :func:`mask_to_polygons` and this function invert each other exactly.
    """
    from skimage.draw import polygon as fill_polygon

    mask = np.zeros((height, width), dtype=bool)
    if len(polygon) >= 3:
        pts = np.asarray(polygon, dtype=float) - 0.5
        rows, cols = fill_polygon(pts[:, 1], pts[:, 0], shape=(height, width))
        mask[rows, cols] = True
    return mask


def mask_to_polygons(
    mask: np.ndarray, tolerance: float = 1.0, min_area: float = 4.0
) -> list[list[Point]]:
    """Outer contours of a boolean mask as polygons in pixel coordinates, largest first.

    Contours are traced on pixel edges so that rasterizing the polygon gives the mask back
    (up to ``tolerance`` pixels of simplification). Holes are not represented.
    """
    from skimage.measure import approximate_polygon, find_contours, label

    mask = np.asarray(mask, dtype=bool)
    polygons: list[tuple[float, list[Point]]] = []
    components = label(mask, connectivity=1)
    for index in range(1, int(components.max()) + 1):
        component = np.pad(components == index, 1)
        contours = find_contours(component.astype(np.uint8), 0.5)
        if not contours:
            continue
        outer = max(contours, key=len)
        if tolerance > 0:
            outer = approximate_polygon(outer, tolerance)
        # find_contours gives (row, col) on pixel centres of the padded grid; shift to pixel edges
        points = [(float(c) - 1 + 0.5, float(r) - 1 + 0.5) for r, c in outer[:-1]]
        area = polygon_area(points)
        if len(points) >= 3 and area >= min_area:
            polygons.append((area, points))
    polygons.sort(key=lambda item: -item[0])
    return [p for _, p in polygons]


def mask_box(mask: np.ndarray) -> Box | None:
    """Tight box around a mask's pixels, on pixel edges; None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def dedupe_points(polygon: Sequence[Point], eps: float = 1e-6) -> list[Point]:
    """Drop consecutive repeated vertices and a closing vertex equal to the first."""
    out: list[Point] = []
    for p in polygon:
        if not out or abs(p[0] - out[-1][0]) > eps or abs(p[1] - out[-1][1]) > eps:
            out.append((float(p[0]), float(p[1])))
    if len(out) > 1 and abs(out[0][0] - out[-1][0]) <= eps and abs(out[0][1] - out[-1][1]) <= eps:
        out.pop()
    return out
