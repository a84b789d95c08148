"""The image (or frame of a stack) being annotated, and stepping to the next or previous one.

Layers opened by our reader carry ``fada_*`` metadata (source path, pixel spacing, folder
collection and index, stack flag, clip id); any other Image layer works too, as a single image
whose source path napari remembers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image

from napari_fada._napari.reader_hooks import layer_data
from napari_fada.data.pixels import to_uint8
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
    spatial = layer.data.ndim - (1 if layer.rgb else 0)
    return bool(layer.metadata.get("fada_is_stack", spatial > 2))


def current_image(viewer: Any, layer: Image, frame: int | None = None) -> CurrentImage:
    """The frame of ``layer`` in view, or its frame ``frame`` (the whole image when it is not a
    stack)."""
    metadata = layer.metadata
    if not is_stack(layer):
        frame = None
    elif frame is None:
        frame = int(viewer.dims.current_step[0])
    data = layer.data[frame] if frame is not None else layer.data
    path = metadata.get("fada_path") or layer.source.path
    spacing = metadata.get("fada_pixel_spacing_mm")
    return CurrentImage(
        layer=layer,
        pixels=to_uint8(np.asarray(data)),
        source_path=Path(path) if path else None,
        pixel_spacing_mm=tuple(spacing) if spacing else None,
        frame_index=frame,
        clip_id=metadata.get("fada_clip_id"),
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
    collection = [Path(p) for p in layer.metadata.get("fada_collection") or []]
    target = int(layer.metadata.get("fada_index", 0)) + delta
    if not 0 <= target < len(collection):
        return None
    data, kwargs, _ = layer_data(read_any(collection[target]))
    kwargs["metadata"].update(fada_collection=[str(p) for p in collection], fada_index=target)
    new_layer = viewer.add_image(data, **kwargs)
    viewer.layers.remove(layer)
    return new_layer
