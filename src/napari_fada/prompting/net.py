"""The prompt network: a compact U-Net that reads a crop of the image with the prompts drawn in.

Input channels (:data:`CHANNELS`): the image crop (standardised), the previous mask, positive
clicks, negative clicks (disks) and the box (its inside). Output: one channel of mask logits at
the crop's resolution. It knows no classes: whatever the prompts point at is the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from napari_fada.models.embedded_net import decode, encode, unet_blocks

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
        self.encoders, self.decoders = unet_blocks(len(CHANNELS), config.channels)
        self.head = nn.Conv2d(config.channels[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, len(CHANNELS), crop, crop); returns mask logits (N, 1, crop, crop)."""
        return self.head(decode(self.decoders, encode(self.encoders, x)))
