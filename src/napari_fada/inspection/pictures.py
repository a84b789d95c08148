"""A case as one RGB picture: the image in gray with its error pixels and error boxes painted on,
in the colours of the napari overlays, for reports."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.draw import rectangle_perimeter

from napari_fada.inspection.error_maps import BOX_COLORS, ERROR_COLORS, ErrorBox

#: Opacity of the error pixels over the image.
PIXEL_ALPHA = 0.55
BOX_WIDTH_PX = 2


def _gray_rgb(image: np.ndarray) -> np.ndarray:
    pixels = np.asarray(image, dtype=float)
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=2)
    low, high = float(pixels.min()), float(pixels.max())
    scaled = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
    return np.repeat(scaled[..., None], 3, axis=2)


def overlay_picture(
    image: np.ndarray, errors: np.ndarray, boxes: Sequence[ErrorBox] = ()
) -> np.ndarray:
    """``uint8`` RGB of ``image`` with :func:`~napari_fada.inspection.error_maps.
    error_label_image`'s pixels blended in and ``boxes`` outlined."""
    picture = _gray_rgb(image)
    for value, color in ERROR_COLORS.items():
        where = errors == value
        picture[where] = (1 - PIXEL_ALPHA) * picture[where] + PIXEL_ALPHA * np.asarray(color[:3])
    height, width = picture.shape[:2]
    for error in boxes:
        x0, y0, x1, y1 = error.box
        for inset in range(BOX_WIDTH_PX):
            rows, cols = rectangle_perimeter(
                (int(y0) + inset, int(x0) + inset),
                end=(int(np.ceil(y1)) - 1 - inset, int(np.ceil(x1)) - 1 - inset),
                shape=(height, width),
                clip=True,
            )
            picture[rows, cols] = BOX_COLORS[error.kind][:3]
    return np.round(picture * 255).astype(np.uint8)
