"""Pixel values as the models and the dataset take them: 8-bit."""

from __future__ import annotations

import numpy as np


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as uint8: uint8 unchanged, other types (16-bit DICOM frames, floats) stretched
    linearly from their minimum to their maximum over 0..255 (a constant image becomes 0)."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        return pixels
    low, high = float(np.min(pixels)), float(np.max(pixels))
    scaled = (pixels.astype(np.float64) - low) * (255.0 / (high - low) if high > low else 0.0)
    return np.round(scaled).astype(np.uint8)
