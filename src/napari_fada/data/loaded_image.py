"""What every reader returns: pixels (possibly lazy) plus what is known about their geometry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_fada.data.lazy_stack import LazyFrameStack

#: A plain array, or a lazy stack whose frames are decoded when indexed.
ImageData = np.ndarray | LazyFrameStack


@dataclass
class LoadedImage:
    """An opened image, clip or folder.

    ``data`` is (Y, X), (Y, X, 3), or with ``is_stack`` (T, Y, X[, 3]) with frames first.
    ``pixel_spacing_mm`` is (row, col) in millimetres when the file says so. ``collection`` lists
    every image of a mixed-size folder (``data`` is then the first one); it is empty otherwise.
    ``path`` is None for generated images.
    """

    data: ImageData
    name: str
    path: Path | None
    pixel_spacing_mm: tuple[float, float] | None = None
    frame_interval_ms: float | None = None
    is_stack: bool = False
    rgb: bool = False
    collection: list[Path] = field(default_factory=list)
    clip_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
