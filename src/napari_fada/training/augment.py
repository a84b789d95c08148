"""Cheap batch augmentation for ultrasound training, done on whole batches in torch.

Small affine jitter (the probe moves), mirror images where the anatomy allows it, gamma and
gain changes (machine settings) and multiplicative speckle noise.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def augment(
    images: torch.Tensor, masks: torch.Tensor, mirror_ok: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` (N, 1, H, W) in 0..1, ``masks`` (N, H, W) class indices, ``mirror_ok`` (N,)
    bool: which samples may be flipped left-right. Returns augmented copies."""
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-15, 15) * math.pi / 180
    scale = uniform(0.85, 1.15)
    flip = torch.where(mirror_ok & (torch.rand(n, generator=generator) < 0.5), -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(-0.08, 0.08)], dim=1),
            torch.stack([sin * flip, cos, uniform(-0.08, 0.08)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", align_corners=False)
    masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", align_corners=False)[
        :, 0
    ].long()

    shape = (n, 1, 1, 1)
    gamma = torch.exp(uniform(-0.4, 0.4)).view(shape)
    gain = uniform(0.8, 1.2).view(shape)
    offset = uniform(-0.08, 0.08).view(shape)
    speckle = uniform(0.0, 0.2).view(shape)
    noise = torch.randn(images.shape, generator=generator)
    images = images.clamp(0, 1) ** gamma * gain + offset
    images = images * (1 + speckle * noise)
    return images.clamp(0, 1), masks
