"""Batch augmentation for ultrasound training, done on whole batches in torch.

What differs between machines, hospitals and sonographers, drawn anew for every image: the
probe's position (rotation, zoom, shift, the aspect a stretch to a square gives a frame of
another shape, crops), mirror images where the anatomy allows it, the machine's gain, contrast
and gamma, depth attenuation and time-gain compensation, speckle, blur or edge enhancement,
the sector's shape, and what the screen draws over the image (calipers, text).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _chance(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def _geometry(
    images: torch.Tensor, masks: torch.Tensor, mirror_ok: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    n = images.shape[0]
    angle = _uniform(n, -20, 20, generator) * math.pi / 180
    scale = _uniform(n, 0.75, 1.3, generator)
    aspect = torch.exp(_uniform(n, -0.2, 0.2, generator))
    flip = torch.where(mirror_ok & _chance(n, 0.5, generator), -1.0, 1.0)
    sx, sy = 1 / (scale * aspect.sqrt()), aspect.sqrt() / scale
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos * sx * flip, -sin * sy, _uniform(n, -0.12, 0.12, generator)], dim=1),
            torch.stack([sin * sx * flip, cos * sy, _uniform(n, -0.12, 0.12, generator)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", align_corners=False)
    masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", align_corners=False)
    return images, masks[:, 0].long()


def _sector(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Where a random sector fan shows the image (on a third of the images; all elsewhere):
    (N, H, W) bool."""
    n, _, height, width = images.shape
    yy = torch.linspace(0, 1, height).view(1, height, 1)
    xx = torch.linspace(-0.5, 0.5, width).view(1, 1, width)
    apex_y = _uniform(n, -0.6, 0.0, generator).view(n, 1, 1)
    half = _uniform(n, 0.45, 0.9, generator).view(n, 1, 1)
    reach = _uniform(n, 1.0, 1.6, generator).view(n, 1, 1)
    angle = torch.atan2(xx, yy - apex_y)
    inside = (angle.abs() < half) & (torch.hypot(xx, yy - apex_y) < reach - apex_y)
    return inside | ~_chance(n, 0.33, generator).view(n, 1, 1)


def _overlays(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Bright caliper crosses and text dashes, as scanners draw them (on a third of the images)."""
    n, _, height, width = images.shape
    marks = torch.zeros_like(images)
    for index in torch.nonzero(_chance(n, 0.33, generator)).flatten().tolist():
        for _ in range(int(torch.randint(1, 6, (1,), generator=generator))):
            y = int(torch.randint(0, height, (1,), generator=generator))
            x = int(torch.randint(0, width, (1,), generator=generator))
            length = int(torch.randint(2, 10, (1,), generator=generator))
            marks[index, 0, y, max(0, x - length) : x + length] = 1.0
            if torch.rand(1, generator=generator) < 0.5:
                marks[index, 0, max(0, y - length) : y + length, x] = 1.0
    return torch.maximum(images, marks * _uniform(n, 0.6, 1.0, generator).view(n, 1, 1, 1))


def intensity(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n, _, height, _ = images.shape
    shape = (n, 1, 1, 1)

    def draw(low: float, high: float) -> torch.Tensor:
        return _uniform(n, low, high, generator).view(shape)

    blurred = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    images = images + draw(-0.9, 1.0) * (images - blurred)  # blur (< 0) or sharpen (> 0)
    depth = torch.linspace(0, 1, height).view(1, 1, height, 1)
    attenuation = torch.exp(-draw(-0.3, 0.9) * depth)  # below 0: over-compensated gain
    speckle = draw(0.0, 0.25)
    noise = torch.randn(images.shape, generator=generator)
    images = images.clamp(0, 1) ** torch.exp(draw(-0.5, 0.5)) * attenuation
    images = images * (1 + speckle * noise)
    contrast = draw(0.7, 1.4)
    images = (images - 0.5) * contrast + 0.5 + draw(-0.1, 0.1)
    return images * draw(0.75, 1.25)


def augment(
    images: torch.Tensor, masks: torch.Tensor, mirror_ok: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` (N, 1, H, W) in 0..1, ``masks`` (N, H, W) class indices, ``mirror_ok`` (N,)
    bool: which samples may be flipped left-right. Returns augmented copies."""
    images, masks = _geometry(images, masks, mirror_ok, generator)
    shown = _sector(images, generator)
    images = intensity(images * shown[:, None], generator) * shown[:, None]
    return _overlays(images.clamp(0, 1), generator), masks * shown
