"""Prompting one object on one image: a box and clicks in, a mask and its outline out.

:class:`PromptPredictor` holds the network; :meth:`PromptPredictor.encode` prepares an image
once (its :class:`~.frame.Pyramid`), after which each prompt costs one pass of the small network
on a crop. :class:`PromptSession` keeps the prompts of one object, feeds each mask back with the
next click, steps back through prompts, and starts, when given one, from a proposal's mask, so
that clicking on a wrong proposal corrects it instead of starting over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F

from napari_fada.core.geometry import mask_box, mask_to_polygons
from napari_fada.core.proposal import Box, Point
from napari_fada.errors import FadaError
from napari_fada.prompting.clicks import Click
from napari_fada.prompting.frame import (
    Frame,
    Pyramid,
    box_plane,
    clicks_in_frame,
    prompt_inputs,
    region_frame,
    sample_plane,
    whole_frame,
)
from napari_fada.prompting.weights import (
    SHIPPED_PROMPT_WEIGHTS,
    PromptWeights,
    load_prompt_weights,
)


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def prompt_frame(
    height: int, width: int, box: Box | None, clicks: Sequence[Click], previous: np.ndarray | None,
    margin: float,
) -> Frame:  # fmt: skip
    """The crop a prompt is answered on: the box, the mask so far and the clicks with a margin
    around them; the whole image for clicks alone (the object's size is not known yet). Its
    corner and side are whole pixels, so that the answer is pasted back by a plain resize."""
    regions = [box] if box is not None else []
    known = mask_box(previous) if previous is not None else None
    regions += [known] if known is not None else []
    if not regions:
        return _whole_pixels(whole_frame(height, width))
    regions += [(c.x - 1, c.y - 1, c.x + 1, c.y + 1) for c in clicks]
    return _whole_pixels(region_frame(_union(regions), margin))


def keep_object(mask: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """The parts of ``mask`` that hold a positive click (the largest part when none does), holes
    filled: one object, as an outline can show it."""
    box = mask_box(mask)
    if box is None:
        return mask
    x0, y0, x1, y1 = (int(v) for v in box)
    components, _ = ndimage.label(mask[y0:y1, x0:x1])
    hit = {
        int(components[int(c.y) - y0, int(c.x) - x0])
        for c in clicks
        if c.positive and x0 <= c.x < x1 and y0 <= c.y < y1
    } - {0}
    if not hit:
        hit = {int(np.argmax(np.bincount(components.ravel())[1:])) + 1}
    kept = np.zeros_like(mask)
    kept[y0:y1, x0:x1] = ndimage.binary_fill_holes(np.isin(components, sorted(hit)))
    return kept


class PromptPredictor:
    """The prompt network, ready to answer prompts on encoded images."""

    def __init__(self, weights: PromptWeights) -> None:
        self.weights = weights
        self.net = weights.build()
        self.model_id = weights.model_id

    @classmethod
    def load(cls, path: Path | None = None) -> PromptPredictor:
        """The predictor of weights file ``path`` (the shipped model when None)."""
        return cls(load_prompt_weights(path or SHIPPED_PROMPT_WEIGHTS))

    @staticmethod
    def encode(image: np.ndarray) -> Pyramid:
        """Prepare ``image`` (2-D grayscale, or RGB(A) averaged to gray; 0..255) once."""
        image = np.asarray(image)
        if image.ndim == 3:
            image = image[..., :3].astype(np.float32).mean(axis=2)
        if image.ndim != 2 or min(image.shape) < 2:
            raise FadaError(f"prompting needs a 2-D image, got an array of shape {image.shape}")
        return Pyramid(image)

    @torch.no_grad()
    def predict(
        self,
        pyramid: Pyramid,
        box: Box | None,
        clicks: Sequence[Click],
        previous: np.ndarray | None = None,
    ) -> np.ndarray:
        """The object's mask (H, W) bool for a box and/or clicks, ``previous`` the mask so far."""
        height, width = pyramid.height, pyramid.width
        frame = prompt_frame(height, width, box, clicks, previous, self.net.config.margin)
        logits = self._logits(pyramid, frame, box, clicks, previous)
        return keep_object(_paste(logits, frame, height, width), clicks)

    def _logits(
        self,
        pyramid: Pyramid,
        frame: Frame,
        box: Box | None,
        clicks: Sequence[Click],
        previous: np.ndarray | None,
    ) -> torch.Tensor:
        config = self.net.config
        size = config.crop
        points = frame.image_points(size)
        last = torch.zeros(size, size)
        if previous is not None and previous.any():
            last = sample_plane(torch.from_numpy(previous.astype(np.float32)), points)
        inputs = prompt_inputs(
            pyramid.crop(frame, size),
            last,
            clicks_in_frame(clicks, frame, size),
            box_plane(box, points),
            config.click_radius,
        )
        return self.net(inputs[None])


def _whole_pixels(frame: Frame) -> Frame:
    """``frame`` with its corner and side on whole pixels (pasted back by a plain resize)."""
    side = float(np.ceil(frame.side))
    left, top = np.floor(frame.cx - side / 2), np.floor(frame.cy - side / 2)
    return Frame(float(left) + side / 2, float(top) + side / 2, side)


def _paste(logits: torch.Tensor, frame: Frame, height: int, width: int) -> np.ndarray:
    """The crop's logits (1, 1, S, S) of an axis-aligned ``frame`` whose corner and side are
    whole pixels (:func:`prompt_frame`'s), thresholded on the image."""
    mask = np.zeros((height, width), dtype=bool)
    side = round(frame.side)
    left, top = round(frame.cx - frame.side / 2), round(frame.cy - frame.side / 2)
    x0, x1 = max(0, left), min(width, left + side)
    y0, y1 = max(0, top), min(height, top + side)
    if x1 <= x0 or y1 <= y0:
        return mask
    # Only the rows and columns on the image are resampled: bilinear, as grid_sample would.
    values = F.interpolate(logits, size=(side, side), mode="bilinear", align_corners=False)
    mask[y0:y1, x0:x1] = (values[0, 0, y0 - top : y1 - top, x0 - left : x1 - left] > 0).numpy()
    return mask


@dataclass(frozen=True)
class PromptStep:
    """The prompts so far and the mask they gave."""

    box: Box | None
    clicks: tuple[Click, ...]
    mask: np.ndarray


@dataclass
class PromptSession:
    """The prompts of one object on one encoded image, and the masks they gave, in order.

    ``start`` is a proposal's mask to correct (None: start from nothing)."""

    predictor: PromptPredictor
    pyramid: Pyramid
    start: np.ndarray | None = None
    steps: list[PromptStep] = field(default_factory=list)

    @property
    def box(self) -> Box | None:
        return self.steps[-1].box if self.steps else None

    @property
    def clicks(self) -> tuple[Click, ...]:
        return self.steps[-1].clicks if self.steps else ()

    @property
    def mask(self) -> np.ndarray | None:
        """The current mask: the last prompt's, else the starting mask."""
        return self.steps[-1].mask if self.steps else self.start

    def _answer(self, box: Box | None, clicks: tuple[Click, ...]) -> np.ndarray:
        mask = self.predictor.predict(self.pyramid, box, clicks, self.mask)
        self.steps.append(PromptStep(box, clicks, mask))
        return mask

    def set_box(self, box: Box) -> np.ndarray:
        """Draw (or redraw) the box (x0, y0, x1, y1); the clicks so far are kept."""
        x0, y0, x1, y1 = box
        return self._answer((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), self.clicks)

    def add_click(self, click: Click) -> np.ndarray:
        """Add a positive or negative click; the mask so far is refined."""
        return self._answer(self.box, (*self.clicks, click))

    def undo(self) -> np.ndarray | None:
        """Step back one prompt; returns the mask before it (None when nothing is left)."""
        if self.steps:
            self.steps.pop()
        return self.mask

    def polygon(self) -> list[Point] | None:
        """The current mask's outline (its largest part), None when the mask is empty."""
        mask = self.mask
        polygons = mask_to_polygons(mask) if mask is not None else []
        return polygons[0] if polygons else None

    def provenance(self) -> dict[str, Any]:
        """The prompts that made the mask, for the annotation's provenance."""
        return {
            "model": self.predictor.model_id,
            "box": list(self.box) if self.box is not None else None,
            "points": [{"x": c.x, "y": c.y, "positive": c.positive} for c in self.clicks],
            "from_proposal": self.start is not None,
        }
