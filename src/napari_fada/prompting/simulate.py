"""Simulated prompting sessions in crop space, batched: what training and its validation run.

A :class:`Episode` is one object in one frame: the image crop, the true mask, the box channel,
the mask so far and the clicks so far. :func:`draw_episode` makes one as an annotator would
start: a jittered box, a first click in the object on the whole image or near it, or a wrong
proposal to correct; :func:`click_step` lets the network answer and adds the next click where it
is most wrong, as the simulated annotator of :mod:`.clicks` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from napari_fada.core.proposal import Box
from napari_fada.prompting.clicks import next_click, region_centre
from napari_fada.prompting.frame import (
    Frame,
    Pyramid,
    box_plane,
    prompt_inputs,
    region_frame,
    sample_plane,
    whole_frame,
)
from napari_fada.prompting.net import PromptNet, PromptNetConfig
from napari_fada.prompting.targets import Target

#: How an episode starts, and how often training draws each start.
STARTS = {"box": 0.45, "click": 0.2, "click_near": 0.15, "proposal": 0.2}


@dataclass
class Episode:
    """One object seen through one frame; tensors are (crop, crop)."""

    image: torch.Tensor
    truth: np.ndarray
    box: torch.Tensor
    previous: torch.Tensor
    clicks: list[tuple[float, float, bool]] = field(default_factory=list)


def _jittered(box: Box, amount: float, rng: np.random.Generator) -> Box:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dx0, dx1 = rng.normal(0, amount * w, 2)
    dy0, dy1 = rng.normal(0, amount * h, 2)
    nx0, nx1 = sorted((x0 + dx0, x1 + dx1))
    ny0, ny1 = sorted((y0 + dy0, y1 + dy1))
    return (nx0, ny0, max(nx1, nx0 + 2), max(ny1, ny0 + 2))


def _turned(frame: Frame, rng: np.random.Generator, scale: float = 0.15) -> Frame:
    """``frame`` with training's geometric augmentation: rotation, mirror, zoom and shift."""
    side = frame.side * math.exp(rng.uniform(-scale, scale))
    shift = rng.normal(0, 0.04 * frame.side, 2)
    angle = rng.uniform(-20, 20) * math.pi / 180
    return Frame(frame.cx + shift[0], frame.cy + shift[1], side, angle, bool(rng.random() < 0.5))


def draw_episode(
    target: Target,
    pyramid: Pyramid,
    config: PromptNetConfig,
    rng: np.random.Generator,
    start: str,
    augment: bool = True,
) -> Episode:
    """An episode of ``target`` beginning as ``start`` (a key of :data:`STARTS`) says."""
    size = config.crop
    box = None
    if start == "box":
        box = _jittered(target.box, 0.07 if augment else 0.03, rng)
        frame = region_frame(box, config.margin)
    elif start == "click":
        frame = whole_frame(pyramid.height, pyramid.width)
    else:
        frame = region_frame(_jittered(target.box, 0.12, rng), config.margin)
    if augment:
        frame = _turned(frame, rng, 0.1 if start != "click" else 0.05)
    points = frame.image_points(size)
    mask = torch.from_numpy(target.mask.astype(np.float32))
    truth = sample_plane(mask, points).numpy() > 0.5
    previous = torch.zeros(size, size)
    if start == "proposal":
        wrong = _turned(region_frame(target.box, 1.0), rng, 0.25)
        offset = wrong.image_points(size) - region_frame(target.box, 1.0).image_points(size)
        previous = (sample_plane(mask, points - offset) > 0.5).float()
    episode = Episode(pyramid.crop(frame, size), truth, box_plane(box, points), previous)
    if start in ("click", "click_near") and truth.any():
        row, col = region_centre(truth)
        episode.clicks.append((float(col), float(row), True))
    elif start == "proposal":
        click = next_click(truth, previous.numpy() > 0.5)
        if click is not None:
            episode.clicks.append((click.x, click.y, click.positive))
    return episode


def batch_inputs(episodes: Sequence[Episode], config: PromptNetConfig) -> torch.Tensor:
    """The network's input for ``episodes``: (N, 5, crop, crop)."""
    return torch.stack(
        [prompt_inputs(e.image, e.previous, e.clicks, e.box, config.click_radius) for e in episodes]
    )


@torch.no_grad()
def click_step(net: PromptNet, episodes: Sequence[Episode]) -> np.ndarray:
    """Run ``net`` on ``episodes``, feed its masks back as their previous masks and add each
    one's next simulated click; returns the masks (N, crop, crop) bool."""
    predicted = (net(batch_inputs(episodes, net.config))[:, 0] > 0).numpy()
    for episode, mask in zip(episodes, predicted, strict=True):
        episode.previous = torch.from_numpy(mask.astype(np.float32))
        click = next_click(episode.truth, mask)
        if click is not None:
            episode.clicks.append((click.x, click.y, click.positive))
    return predicted
