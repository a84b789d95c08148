"""npe2 reader: images, DICOM, video and folders opened as napari image layers.

The layer's scale is the pixel spacing in mm (frames keep a step of 1 along time) and its
metadata carries what the annotator widget needs as an :class:`~napari_fada._napari.hooks.source.
ImageSource`: the source path, spacing, folder collection and position, whether it is a stack,
and the clip id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_fada._napari.hooks.source import ImageSource
from napari_fada.data.folders import folder_images
from napari_fada.data.loaded_image import LoadedImage
from napari_fada.data.readers import is_supported, read_any

LayerData = tuple[Any, dict[str, Any], str]
PathLike = str | Path
ReaderFunction = Callable[[PathLike | Sequence[PathLike]], list[LayerData]]


def _contrast_limits(loaded: LoadedImage) -> tuple[float, float]:
    """Known without touching every frame: napari would otherwise decode a whole lazy stack."""
    if loaded.data.dtype == np.uint8:
        return 0.0, 255.0
    sample = np.asarray(loaded.data[0] if loaded.is_stack else loaded.data)
    low, high = float(sample.min()), float(sample.max())
    return low, high if high > low else low + 1.0


def layer_data(loaded: LoadedImage) -> LayerData:
    """A napari image layer data tuple for a loaded image, clip or folder."""
    spacing = loaded.pixel_spacing_mm or (1.0, 1.0)
    scale = (1.0, *spacing) if loaded.is_stack else tuple(spacing)
    kwargs = {
        "name": loaded.name,
        "scale": scale,
        "rgb": loaded.rgb,
        "multiscale": False,
        "contrast_limits": _contrast_limits(loaded),
        "metadata": ImageSource.of(loaded).metadata(),
    }
    return loaded.data, kwargs, "image"


def _claims(path: Path) -> bool:
    return bool(folder_images(path)) if path.is_dir() else is_supported(path)


def read_paths(path: PathLike | Sequence[PathLike]) -> list[LayerData]:
    """Open one path or several; a damaged file raises ImageReadError naming it."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    return [layer_data(read_any(p)) for p in paths]


def get_reader(path: PathLike | Sequence[PathLike]) -> ReaderFunction | None:
    """The reader when every path is a kind we read (or a folder with images), else None."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(_claims(Path(p)) for p in paths):
        return None
    return read_paths
