"""What a napari image layer carries about its source image: one typed record.

The reader, the sample data and the review queue put an :class:`ImageSource` into
``layer.metadata[SOURCE_KEY]``; the docks read it back with :func:`source_of`. A layer from
another reader has none, and counts as a single image whose path napari remembers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_fada.data.loaded_image import LoadedImage

#: The one ``layer.metadata`` key this plugin writes.
SOURCE_KEY = "fada_source"


@dataclass(frozen=True)
class ImageSource:
    """Where a layer's pixels came from and how to read them.

    ``path`` is None for generated images. ``collection`` lists the images of a mixed-size
    folder, ``index`` the one shown. ``is_stack``: frames along the first axis, of clip
    ``clip_id``. ``details`` holds what else the reader knew (a synthetic sample's truth, a
    folder clip's frame paths).
    """

    path: Path | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    frame_interval_ms: float | None = None
    collection: tuple[Path, ...] = ()
    index: int = 0
    is_stack: bool = False
    clip_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, loaded: LoadedImage) -> ImageSource:
        """The source of what a reader loaded."""
        return cls(
            path=loaded.path,
            pixel_spacing_mm=loaded.pixel_spacing_mm,
            frame_interval_ms=loaded.frame_interval_ms,
            collection=tuple(loaded.collection),
            is_stack=loaded.is_stack,
            clip_id=loaded.clip_id,
            details=dict(loaded.metadata),
        )

    def metadata(self) -> dict[str, Any]:
        """The layer metadata that carries this record."""
        return {SOURCE_KEY: self}


def source_of(layer: Any) -> ImageSource | None:
    """The record ``layer`` carries, or None for a layer this plugin did not make."""
    found = layer.metadata.get(SOURCE_KEY)
    return found if isinstance(found, ImageSource) else None
