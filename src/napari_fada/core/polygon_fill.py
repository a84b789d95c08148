"""Fast polygon rasterization with the pixel-centre rule of :func:`geometry.polygon_to_mask`.

``skimage.draw.polygon`` tests every pixel of the bounding box against every edge, which takes
seconds for the thousand-vertex outlines that trace a mask exactly. This scanline fill costs
about one operation per edge crossing and pixel, and gives the same mask (even-odd rule, a pixel
set when its centre lies strictly inside).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_fada.core.proposal import Point


def fill_polygon(polygon: Sequence[Point], width: int, height: int) -> np.ndarray:
    """Boolean ``(height, width)`` mask of the pixels whose centres lie inside ``polygon``."""
    mask = np.zeros((height, width), dtype=bool)
    if len(polygon) < 3 or width <= 0 or height <= 0:
        return mask
    start = np.asarray(polygon, dtype=float)
    end = np.roll(start, -1, axis=0)
    low = np.minimum(start[:, 1], end[:, 1])
    high = np.maximum(start[:, 1], end[:, 1])
    # rows whose centre y = i + 0.5 satisfies low <= y < high (half-open: vertices count once)
    first = np.clip(np.ceil(low - 0.5), 0, height).astype(int)
    last = np.clip(np.ceil(high - 0.5), 0, height).astype(int)
    counts = np.maximum(last - first, 0)
    if counts.sum() == 0:
        return mask
    edge = np.repeat(np.arange(len(start)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = first[edge] + offsets
    x0, y0 = start[edge, 0], start[edge, 1]
    x1, y1 = end[edge, 0], end[edge, 1]
    xs = x0 + (rows + 0.5 - y0) * (x1 - x0) / (y1 - y0)
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    # each row has an even number of crossings: consecutive pairs bound the inside spans
    span_rows, left, right = rows[0::2], xs[0::2], xs[1::2]
    begin = np.clip(np.floor(left - 0.5).astype(int) + 1, 0, width)
    stop = np.clip(np.ceil(right - 0.5).astype(int), 0, width)
    keep = stop > begin
    top, bottom = int(rows[0]), int(rows[-1]) + 1  # only the rows the polygon spans
    steps = np.zeros((bottom - top, width + 1), dtype=np.int32)
    np.add.at(steps, (span_rows[keep] - top, begin[keep]), 1)
    np.add.at(steps, (span_rows[keep] - top, stop[keep]), -1)
    mask[top:bottom] = np.cumsum(steps, axis=1)[:, :width] > 0
    return mask
