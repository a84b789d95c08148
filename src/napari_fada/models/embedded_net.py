"""The embedded model's network: a compact U-Net with a plane classifier on its bottleneck.

One forward pass gives per-pixel structure logits (background first) at the input resolution
and plane logits. Kept small (about half a million parameters) so that it trains from scratch on
a CPU in well under an hour and proposes in tens of milliseconds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval


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


def unet_blocks(in_ch: int, ch: tuple[int, ...]) -> tuple[nn.ModuleList, nn.ModuleList]:
    """A U-Net's encoder blocks (one conv at full resolution, two per level below) and decoder
    blocks, for ``in_ch`` input channels and ``ch`` channels a level."""
    encoders = nn.ModuleList(
        [conv_block(in_ch, ch[0], 1)] + [conv_block(ch[i - 1], ch[i], 2) for i in range(1, len(ch))]
    )
    decoders = nn.ModuleList(
        [conv_block(ch[i + 1] + ch[i], ch[i], 1 if i == 0 else 2) for i in range(len(ch) - 1)]
    )
    return encoders, decoders


def encode(encoders: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """Each level's features, full resolution first, halved between levels; the last is the
    bottleneck."""
    skips = []
    for index, encoder in enumerate(encoders):
        if index:
            x = F.max_pool2d(x, 2)
        x = encoder(x)
        skips.append(x)
    return skips


def decode(decoders: nn.ModuleList, skips: list[torch.Tensor]) -> torch.Tensor:
    """Up from the bottleneck through the levels of :func:`encode`, to full resolution."""
    x = skips[-1]
    for index in range(len(decoders) - 1, -1, -1):
        skip = skips[index]
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = decoders[index](torch.cat([x, skip], dim=1))
    return x


class EmbeddedNet(nn.Module):
    """U-Net: one conv at full resolution (cheap), two per block below; plane head (linear, or
    with one hidden layer) on the bottleneck (average and max pooled)."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.encoders, self.decoders = unet_blocks(1, ch)
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
        skips = encode(self.encoders, x)
        bottleneck = skips[-1]
        pooled = torch.cat([bottleneck.mean(dim=(2, 3)), bottleneck.amax(dim=(2, 3))], dim=1)
        plane_logits = self.plane_head(pooled)
        return self.seg_head(decode(self.decoders, skips)), plane_logits


def fused_for_inference(net: EmbeddedNet) -> EmbeddedNet:
    """A copy of ``net`` for inference: eval mode, each batch normalisation folded into the
    convolution before it (the same outputs, one pass over memory less per layer)."""
    fused = copy.deepcopy(net).eval()
    for block in fused.modules():
        if (
            isinstance(block, nn.Sequential)
            and len(block) == 3
            and isinstance(block[0], nn.Conv2d)
            and isinstance(block[1], nn.BatchNorm2d)
        ):
            block[0] = fuse_conv_bn_eval(block[0], block[1])
            block[1] = nn.Identity()
    return fused
