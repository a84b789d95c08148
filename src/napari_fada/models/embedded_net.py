"""The embedded model's network: a compact U-Net with a plane classifier on its bottleneck.

One forward pass gives per-pixel structure logits (background first) at the input resolution
and plane logits. Kept small (about half a million parameters) so that it trains from scratch on
a CPU in well under an hour and proposes in tens of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class NetConfig:
    """Architecture hyper-parameters, stored in the weights file to rebuild the network."""

    num_structures: int
    num_planes: int
    channels: tuple[int, ...] = (16, 24, 32, 48, 64)
    dropout: float = 0.2
    #: Width of the plane classifier's hidden layer; 0: a single linear layer (models 1.x).
    plane_hidden: int = 0


def _conv(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def conv_block(in_ch: int, out_ch: int, convs: int) -> nn.Sequential:
    layers = [_conv(in_ch, out_ch)] + [_conv(out_ch, out_ch) for _ in range(convs - 1)]
    return nn.Sequential(*layers)


class EmbeddedNet(nn.Module):
    """U-Net: one conv at full resolution (cheap), two per block below; plane head (linear, or
    with one hidden layer) on the bottleneck (average and max pooled)."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.encoders = nn.ModuleList(
            [conv_block(1, ch[0], 1)] + [conv_block(ch[i - 1], ch[i], 2) for i in range(1, len(ch))]
        )
        self.decoders = nn.ModuleList(
            [conv_block(ch[i + 1] + ch[i], ch[i], 1 if i == 0 else 2) for i in range(len(ch) - 1)]
        )
        self.seg_head = nn.Conv2d(ch[0], config.num_structures + 1, 1)
        hidden = config.plane_hidden
        self.plane_head = (
            nn.Sequential(
                nn.Dropout(config.dropout),
                nn.Linear(2 * ch[-1], hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(config.dropout),
                nn.Linear(hidden, config.num_planes),
            )
            if hidden
            else nn.Sequential(nn.Dropout(config.dropout), nn.Linear(2 * ch[-1], config.num_planes))
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: (N, 1, H, W) normalised, H and W divisible by 2**(levels-1).

        Returns (segmentation logits (N, 1 + structures, H, W), plane logits (N, planes)).
        """
        skips = []
        for index, encoder in enumerate(self.encoders):
            if index:
                x = F.max_pool2d(x, 2)
            x = encoder(x)
            skips.append(x)
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        plane_logits = self.plane_head(pooled)
        for index in range(len(self.decoders) - 1, -1, -1):
            skip = skips[index]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.decoders[index](torch.cat([x, skip], dim=1))
        return self.seg_head(x), plane_logits
