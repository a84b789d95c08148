"""The pixel size of a plain image (PNG, JPEG, TIFF) from the manifest.csv of its folder.

The shared layout and our saved datasets keep their images in ``images/`` beside a manifest.csv
whose ``image`` column names each image relative to the manifest and whose ``pixel_size_mm``
gives the size of its (square) pixels; a manifest beside the images counts too. A manifest is
read once per change of the file, however many of its images are opened.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from napari_fada.data.formats.csv_text import read_csv
from napari_fada.errors import DatasetError

MANIFEST = "manifest.csv"
_COLUMNS = ("image", "pixel_size_mm")


def manifest_spacing(image: Path) -> tuple[float, float] | None:
    """(row, col) spacing in mm of ``image`` as a manifest.csv in its folder, or the folder
    above, gives it; None when none names it with a pixel size. An unreadable manifest counts
    as none: the image opens, with its pixel size unknown."""
    image = image.resolve()
    for folder in (image.parent, image.parent.parent):
        manifest = folder / MANIFEST
        try:
            changed = manifest.stat().st_mtime_ns
        except OSError:
            continue
        found = _sizes(manifest, changed).get(image)
        if found is not None:
            return found, found
    return None


@lru_cache(maxsize=8)
def _sizes(manifest: Path, _changed: int) -> dict[Path, float]:
    """Pixel size by resolved image path, of the manifest as it was at time ``_changed``."""
    try:
        rows = read_csv(manifest, required=_COLUMNS)
    except DatasetError:
        return {}
    sizes = {}
    for row in rows:
        try:
            size = float(row["pixel_size_mm"])
        except ValueError:
            continue
        if size > 0 and row["image"]:
            sizes[(manifest.parent / row["image"]).resolve()] = size
    return sizes
