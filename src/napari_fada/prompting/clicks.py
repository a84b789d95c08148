"""The simulated annotator and the figures of interactive segmentation.

As RITM, SAM and nnInteractive evaluate: each click goes to the centre (the point farthest from
its border) of the largest error region of the current mask, positive where the mask misses the
object, negative where it spills over. NoC@k is the number of clicks until Dice reaches k,
capped, with failures counted at the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Click:
    """A point prompt in pixel coordinates (``x`` right, ``y`` down): inside the object when
    ``positive``, outside it otherwise."""

    x: float
    y: float
    positive: bool


def _largest_region(error: np.ndarray) -> tuple[int, np.ndarray | None]:
    labels, count = ndimage.label(error)
    if count == 0:
        return 0, None
    sizes = np.bincount(labels.ravel())[1:]
    index = int(np.argmax(sizes))
    return int(sizes[index]), labels == index + 1


def region_centre(region: np.ndarray) -> tuple[int, int]:
    """(row, col) of the pixel of boolean ``region`` farthest from its border (the image's edge
    counts as border)."""
    rows, cols = np.nonzero(region)
    top, left = rows.min(), cols.min()
    window = np.pad(region[top : rows.max() + 1, left : cols.max() + 1], 1)
    distance = ndimage.distance_transform_edt(window)[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(top + row), int(left + col)


def next_click(truth: np.ndarray, predicted: np.ndarray) -> Click | None:
    """Where the simulated annotator clicks next on ``predicted`` (both boolean, same shape):
    the centre of the largest connected false-negative (positive click) or false-positive
    (negative click) region, at that pixel's column and row index; None when the mask is
    exact."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    missed, missed_region = _largest_region(truth & ~predicted)
    spilled, spilled_region = _largest_region(predicted & ~truth)
    if missed_region is None and spilled_region is None:
        return None
    positive = spilled_region is None or (missed_region is not None and missed >= spilled)
    region = missed_region if positive else spilled_region
    assert region is not None
    row, col = region_centre(region)
    return Click(x=float(col), y=float(row), positive=positive)


def dice(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Dice overlap of two boolean masks (1.0 when both are empty)."""
    total = int(truth.sum()) + int(predicted.sum())
    return 1.0 if total == 0 else 2.0 * int((truth & predicted).sum()) / total


def clicks_to_reach(dices: Sequence[float], threshold: float, cap: int) -> int:
    """NoC: the fewest clicks after which Dice is at least ``threshold``; ``dices[k]`` is the
    Dice after k clicks (``dices[0]``: after the box alone, NaN when the session started with a
    click). Sessions that never reach it count ``cap``."""
    for clicks, value in enumerate(dices[: cap + 1]):
        if value >= threshold:
            return clicks
    return cap
