"""Images that are no fetal ultrasound at all, made in code: what the "other" plane must cover.

A person may open a photo, a drawing, a screenshot, a black frame or a probe held in air. The
model must call such an image "other" and propose nothing on it, so these images train and test
that. Each kind is drawn from a seed, so a set is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

Maker = Callable[[np.random.Generator, int, int], np.ndarray]


def _field(rng: np.random.Generator, height: int, width: int, sigma: float) -> np.ndarray:
    """Smooth random field in 0..1."""
    noise = ndimage.gaussian_filter(rng.standard_normal((height, width)), sigma)
    low, high = noise.min(), noise.max()
    return (noise - low) / (high - low + 1e-9)


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A natural-looking scene: smooth shading at a few scales, a horizon, textured patches."""
    scales = rng.uniform(2, max(3, min(height, width) / 4), size=3)
    weights = (0.5, 0.3, 0.2)
    image = np.zeros((height, width))
    for weight, scale in zip(weights, scales, strict=True):
        image += weight * _field(rng, height, width, scale)
    horizon = rng.integers(height // 4, 3 * height // 4)
    image[:horizon] = image[:horizon] * 0.5 + rng.uniform(0.3, 0.9) * 0.5
    texture = rng.uniform(0, 0.15) * rng.standard_normal((height, width))
    return np.clip(image + texture, 0, 1)


def _drawing(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Line art or a diagram: strokes, circles and boxes on paper (or chalk on a board)."""
    paper, ink = (255, 0) if rng.random() < 0.7 else (20, 230)
    canvas = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(3, 15)):
        x0, x1 = sorted(rng.integers(0, width, 2))
        y0, y1 = sorted(rng.integers(0, height, 2))
        shape, line = rng.integers(0, 3), int(rng.integers(1, 4))
        if shape == 0:
            draw.line([(x0, y0), (x1, y1)], fill=ink, width=line)
        elif shape == 1:
            draw.ellipse([x0, y0, x1 + 1, y1 + 1], outline=ink, width=line)
        else:
            draw.rectangle([x0, y0, x1 + 1, y1 + 1], outline=ink, width=line)
    return np.asarray(canvas, dtype=np.float64) / 255.0


def _screen(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A screenshot or a document: panels, bars of text, a few icons."""
    image = np.full((height, width), rng.uniform(0.7, 1.0))
    for _ in range(rng.integers(2, 8)):
        y, x = rng.integers(0, height), rng.integers(0, width)
        h, w = rng.integers(4, height // 2 + 5), rng.integers(4, width // 2 + 5)
        image[y : y + h, x : x + w] = rng.uniform(0, 1)
    for row in range(int(rng.integers(2, 6)), height, int(rng.integers(4, 9))):
        start = int(rng.integers(0, width // 4 + 1))
        length = int(rng.integers(width // 4, width - start + 1))
        image[row, start : start + length] *= rng.uniform(0.0, 0.4)
    return image


def _flat(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A black, white or grey frame with a little noise (a frozen or empty screen)."""
    level = rng.choice([0.0, 0.0, 1.0, rng.uniform(0, 1)])
    return np.clip(level + rng.uniform(0, 0.03) * rng.standard_normal((height, width)), 0, 1)


def _pattern(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Stripes, checks or a gradient (test patterns)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    period = rng.uniform(3, 30)
    kind = rng.integers(0, 3)
    if kind == 0:
        angle = rng.uniform(0, np.pi)
        return 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    if kind == 1:
        return (((yy // period) + (xx // period)) % 2).astype(np.float64)
    return (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / (height + width) + 0.5


def _empty_sector(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A probe held in air or on a gel pad: a sector fan with speckle and reverberation only."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    apex_x, apex_y = width * rng.uniform(0.4, 0.6), -height * rng.uniform(0.0, 0.3)
    radius = np.hypot(xx - apex_x, yy - apex_y)
    angle = np.arctan2(xx - apex_x, yy - apex_y)
    inside = (np.abs(angle) < rng.uniform(0.4, 0.8)) & (radius < height * rng.uniform(0.8, 1.2))
    speckle = ndimage.gaussian_filter(rng.rayleigh(size=(height, width)), 0.8)
    bands = 0.5 + 0.5 * np.cos(radius * 2 * np.pi / rng.uniform(6, 20))
    image = speckle / speckle.max() * rng.uniform(0.1, 0.5) * (0.6 + 0.4 * bands)
    return np.where(inside, image, 0.0)


KINDS: dict[str, Maker] = {
    "photo": _photo,
    "drawing": _drawing,
    "screen": _screen,
    "flat": _flat,
    "pattern": _pattern,
    "empty_sector": _empty_sector,
}


def negative_image(kind: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    """One (height, width) uint8 image of ``kind`` (a key of :data:`KINDS`) from ``seed``."""
    rng = np.random.default_rng(seed)
    image = KINDS[kind](rng, *size)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def negative_images(count: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``count`` images (count, height, width) uint8, the kinds in turn."""
    kinds = list(KINDS)
    images = [negative_image(kinds[i % len(kinds)], seed * 100_003 + i, size) for i in range(count)]
    return np.stack(images) if images else np.zeros((0, *size), dtype=np.uint8)
