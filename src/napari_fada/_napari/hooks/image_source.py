"""The image (or frame of a stack) being annotated, and stepping to the next or previous one.

Layers opened by our reader carry an :class:`~napari_fada._napari.hooks.source.ImageSource`
(source path, pixel spacing, folder collection and index, stack flag, clip id); any other Image
layer works too, as a single image whose source path napari remembers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image

from napari_fada._napari.hooks.reader import layer_data
from napari_fada._napari.hooks.source import SOURCE_KEY, source_of
from napari_fada.core.pixels import to_uint8
from napari_fada.data.folders import folder_images
from napari_fada.data.read_errors import read_error
from napari_fada.data.readers import read_any


@dataclass
class CurrentImage:
    """Pixels of the image or frame in view, with what is known about where they came from."""

    layer: Image
    pixels: np.ndarray
    source_path: Path | None
    pixel_spacing_mm: tuple[float, float] | None
    frame_index: int | None
    clip_id: str | None


def is_stack(layer: Image) -> bool:
    source = source_of(layer)
    if source is not None:
        return source.is_stack
    return layer.data.ndim - (1 if layer.rgb else 0) > 2


def current_image(viewer: Any, layer: Image, frame: int | None = None) -> CurrentImage:
    """The frame of ``layer`` in view, or its frame ``frame`` (the whole image when it is not a
    stack)."""
    source = source_of(layer)
    if not is_stack(layer):
        frame = None
    elif frame is None:
        frame = int(viewer.dims.current_step[0])
    data = layer.data[frame] if frame is not None else layer.data
    path = (source.path if source else None) or layer.source.path
    return CurrentImage(
        layer=layer,
        pixels=to_uint8(np.asarray(data)),
        source_path=Path(path) if path else None,
        pixel_spacing_mm=source.pixel_spacing_mm if source else None,
        frame_index=frame,
        clip_id=source.clip_id if source else None,
    )


def step_image(viewer: Any, layer: Image, delta: int) -> Image | None:
    """Go ``delta`` frames along a stack or images along a folder collection.

    Returns the layer now showing the image (a new layer for a collection), or None when there
    is nothing further in that direction.
    """
    if is_stack(layer):
        step = list(viewer.dims.current_step)
        target = step[0] + delta
        if not 0 <= target < layer.data.shape[0]:
            return None
        step[0] = target
        viewer.dims.current_step = tuple(step)
        return layer
    source = source_of(layer)
    collection = source.collection if source else ()
    target = (source.index if source else 0) + delta
    if not 0 <= target < len(collection):
        return None
    new_layer = _add_from_collection(viewer, collection, target)
    if layer in viewer.layers:  # the annotator may have replaced it already
        viewer.layers.remove(layer)
    return new_layer


def _add_from_collection(viewer: Any, collection: tuple[Path, ...], index: int) -> Image:
    data, kwargs, _ = layer_data(read_any(collection[index]))
    shown = kwargs["metadata"][SOURCE_KEY]
    kwargs["metadata"] = replace(shown, collection=collection, index=index).metadata()
    return viewer.add_image(data, **kwargs)


def open_sequence(viewer: Any, folder: Path) -> Image:
    """Add the first image of ``folder`` as a layer that steps through all of its images one by
    one (a collection, even when they all have one size: they are separate images, not the
    frames of a clip). Read through this plugin's reader, so napari asks no reader choice."""
    paths = tuple(folder_images(folder)) if folder.is_dir() else ()
    if not paths:
        raise read_error(
            folder,
            "it is not a folder with PNG, JPEG, BMP, TIFF or DICOM images in it",
            "Choose a folder with images in it.",
        )
    return _add_from_collection(viewer, paths, 0)
