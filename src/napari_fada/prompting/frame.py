"""The crop the prompt network sees, and the prompt channels drawn into it.

A :class:`Frame` is a square of the image (centre, side, and for training a rotation and a
mirror) resampled to the network's crop. The image is kept as a :class:`Pyramid` made once per
image, so a crop of a large region is read from a level at about its own scale (no aliasing) and
each prompt costs one small resampling. Training and prediction build their inputs with the same
functions, so the network sees the same thing in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from napari_fada.core.proposal import Box
from napari_fada.prompting.clicks import Click

#: The smallest region side a frame shows, in image pixels (a click on a speck still has context).
MIN_SIDE_PX = 24.0


@dataclass(frozen=True)
class Frame:
    """A square of side ``side`` image pixels centred on (``cx``, ``cy``), turned by ``angle``
    radians and mirrored left-right when ``flip``.

    Image coordinates are continuous, pixel ``i`` spanning ``i`` to ``i + 1`` as in the
    annotations' geometry; crop coordinates are pixel indices (a pixel's centre)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0
    flip: bool = False

    def image_points(self, size: int) -> torch.Tensor:
        """Image (x, y) of each crop pixel's centre: (size, size, 2)."""
        steps = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5
        v, u = torch.meshgrid(steps, steps, indexing="ij")
        u = -u if self.flip else u
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        x = self.cx + self.side * (cos * u - sin * v)
        y = self.cy + self.side * (sin * u + cos * v)
        return torch.stack([x, y], dim=-1)

    def to_crop(self, x: float, y: float, size: int) -> tuple[float, float]:
        """Crop pixel coordinates (col, row) of image point (``x``, ``y``)."""
        dx, dy = (x - self.cx) / self.side, (y - self.cy) / self.side
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        u = -u if self.flip else u
        return (u + 0.5) * size - 0.5, (v + 0.5) * size - 0.5


def region_frame(region: Box, margin: float) -> Frame:
    """The axis-aligned frame showing ``region`` (x0, y0, x1, y1) with ``margin`` around it."""
    x0, y0, x1, y1 = region
    side = max(x1 - x0, y1 - y0, MIN_SIDE_PX) * margin
    return Frame((x0 + x1) / 2, (y0 + y1) / 2, side)


def whole_frame(height: int, width: int) -> Frame:
    """The frame of the whole image (the first click, when nothing says how large the object is)."""
    return Frame(width / 2, height / 2, float(max(height, width)))


def _normalised_grid(points: torch.Tensor, height: int, width: int, factor: float) -> torch.Tensor:
    """``points`` (image px of the full image) as grid_sample coordinates on a level that is
    ``factor`` times smaller and ``height`` x ``width`` large."""
    x = points[..., 0] / factor / width * 2 - 1
    y = points[..., 1] / factor / height * 2 - 1
    return torch.stack([x, y], dim=-1)[None]


def sample_plane(plane: torch.Tensor, points: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    """Bilinear samples of ``plane`` (H, W) float at image ``points`` (S, S, 2); 0 outside."""
    height, width = plane.shape
    grid = _normalised_grid(points, height, width, factor)
    return F.grid_sample(plane[None, None], grid, mode="bilinear", align_corners=False)[0, 0]


class Pyramid:
    """An image (2-D, any numeric type, 0..255) as float planes halved in size level by level."""

    def __init__(self, image: np.ndarray) -> None:
        if image.ndim != 2:
            raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
        self.height, self.width = image.shape
        level = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / 255.0)
        self.levels = [level]
        while min(level.shape) > 32:
            level = F.avg_pool2d(level[None, None], 2, ceil_mode=True)[0, 0]
            self.levels.append(level)

    def crop(self, frame: Frame, size: int) -> torch.Tensor:
        """The frame's crop (size, size), standardised to mean 0 and deviation 1."""
        scale = frame.side / size
        index = min(len(self.levels) - 1, max(0, math.floor(math.log2(max(scale, 1.0)))))
        pixels = sample_plane(self.levels[index], frame.image_points(size), float(2**index))
        return (pixels - pixels.mean()) / (pixels.std() + 1e-3)


def click_disks(points: Sequence[tuple[float, float]], size: int, radius: float) -> torch.Tensor:
    """A (size, size) map, 1 within ``radius`` crop pixels of any (col, row) of ``points``."""
    disks = torch.zeros(size, size)
    if not points:
        return disks
    steps = torch.arange(size, dtype=torch.float32)
    for col, row in points:
        near = (steps[:, None] - row) ** 2 + (steps[None, :] - col) ** 2 <= radius**2
        disks[near] = 1.0
    return disks


def box_plane(box: Box | None, points: torch.Tensor) -> torch.Tensor:
    """1 where the crop shows the inside of ``box`` (image x0, y0, x1, y1), else 0."""
    if box is None:
        return torch.zeros(points.shape[:2])
    x, y = points[..., 0], points[..., 1]
    return ((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])).float()


def prompt_inputs(
    image: torch.Tensor,
    previous: torch.Tensor,
    clicks: Sequence[tuple[float, float, bool]],
    box: torch.Tensor,
    radius: float,
) -> torch.Tensor:
    """The network's input (5, S, S): standardised ``image`` crop, ``previous`` mask (0..1),
    positive and negative click disks (``clicks`` as crop (col, row, positive)), ``box``."""
    size = image.shape[-1]
    positive = click_disks([(c, r) for c, r, p in clicks if p], size, radius)
    negative = click_disks([(c, r) for c, r, p in clicks if not p], size, radius)
    return torch.stack([image, previous, positive, negative, box])


def clicks_in_frame(
    clicks: Sequence[Click], frame: Frame, size: int
) -> list[tuple[float, float, bool]]:
    """Image-space ``clicks`` as crop (col, row, positive)."""
    return [(*frame.to_crop(c.x, c.y, size), c.positive) for c in clicks]
