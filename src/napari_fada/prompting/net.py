"""The prompt network: a compact U-Net that reads a crop of the image with the prompts drawn in.

Input channels (:data:`CHANNELS`): the image crop (standardised), the previous mask, positive
clicks, negative clicks (disks) and the box (its inside). Output: one channel of mask logits at
the crop's resolution. It knows no classes: whatever the prompts point at is the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from napari_fada.models.embedded_net import conv_block

CHANNELS = ("image", "previous", "positive", "negative", "box")


@dataclass(frozen=True)
class PromptNetConfig:
    """Architecture and crop, stored in the weights file to rebuild the network."""

    crop: int = 96
    channels: tuple[int, ...] = (16, 24, 32, 48, 64)
    #: Radius of a click's disk, in crop pixels.
    click_radius: float = 3.0
    #: The crop's side over the side of the region it must show (box, mask, clicks).
    margin: float = 1.4


class PromptNet(nn.Module):
    """U-Net over the prompt channels; one conv at full resolution, two per block below."""

    def __init__(self, config: PromptNetConfig) -> None:
        super().__init__()
        if config.crop % 2 ** (len(config.channels) - 1):
            raise ValueError(f"crop {config.crop} must survive {len(config.channels) - 1} halvings")
        self.config = config
        ch = config.channels
        self.encoders = nn.ModuleList(
            [conv_block(len(CHANNELS), ch[0], 1)]
            + [conv_block(ch[i - 1], ch[i], 2) for i in range(1, len(ch))]
        )
        self.decoders = nn.ModuleList(
            [conv_block(ch[i + 1] + ch[i], ch[i], 1 if i == 0 else 2) for i in range(len(ch) - 1)]
        )
        self.head = nn.Conv2d(ch[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, len(CHANNELS), crop, crop); returns mask logits (N, 1, crop, crop)."""
        skips = []
        for index, encoder in enumerate(self.encoders):
            if index:
                x = F.max_pool2d(x, 2)
            x = encoder(x)
            skips.append(x)
        for index in range(len(self.decoders) - 1, -1, -1):
            skip = skips[index]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.decoders[index](torch.cat([x, skip], dim=1))
        return self.head(x)
