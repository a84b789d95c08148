"""Open anything an annotator may hand us: still images, TIFF stacks, DICOM, video, folders.

``read_any(path)`` picks the reader from the suffix (or the DICOM magic bytes for scanner files
without one) and returns a :class:`LoadedImage`, with the pixel size from the file (DICOM) or
the folder's manifest.csv; ``is_supported(path)`` says, without reading
pixels, whether ``read_any`` would try. Every failure on a supported kind is an ImageReadError
that names the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from napari_fada.data.dicom_files import DICOM_SUFFIXES, read_dicom
from napari_fada.data.folders import read_folder
from napari_fada.data.image_files import PIL_SUFFIXES, TIFF_SUFFIXES, read_pil_image, read_tiff
from napari_fada.data.loaded_image import LoadedImage
from napari_fada.data.manifest_spacing import manifest_spacing
from napari_fada.data.read_errors import read_error
from napari_fada.data.video_files import VIDEO_SUFFIXES, read_video

__all__ = ["SUPPORTED_SUFFIXES", "LoadedImage", "is_supported", "read_any", "read_file"]

_READERS: dict[frozenset[str], Callable[[Path], LoadedImage]] = {
    PIL_SUFFIXES: read_pil_image,
    TIFF_SUFFIXES: read_tiff,
    DICOM_SUFFIXES: read_dicom,
    VIDEO_SUFFIXES: read_video,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset().union(*_READERS)

_DICOM_MAGIC_OFFSET = 128


def _has_dicom_magic(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(_DICOM_MAGIC_OFFSET)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _reader_for(path: Path) -> Callable[[Path], LoadedImage] | None:
    suffix = path.suffix.lower()
    for suffixes, reader in _READERS.items():
        if suffix in suffixes:
            return reader
    if not suffix and path.is_file() and _has_dicom_magic(path):
        return read_dicom
    return None


def is_supported(path: str | Path) -> bool:
    """True for a folder or a file of a kind we read (judged by name or DICOM magic)."""
    path = Path(path)
    return path.is_dir() or _reader_for(path) is not None


def read_file(path: Path) -> LoadedImage:
    """Read one file of a supported kind; a pixel size the file lacks comes from the
    manifest.csv of its folder when that lists it."""
    reader = _reader_for(path)
    if reader is None:
        raise read_error(
            path,
            "this kind of file is not supported",
            "Open PNG, JPEG, BMP, TIFF, DICOM, MP4, AVI or MOV files, or a folder of images.",
        )
    loaded = reader(path)
    if loaded.pixel_spacing_mm is None:
        loaded.pixel_spacing_mm = manifest_spacing(path)
    return loaded


def read_any(path: str | Path) -> LoadedImage:
    """Read a file or a folder into a :class:`LoadedImage`."""
    path = Path(path)
    if path.is_dir():
        return read_folder(path, read_file)
    if not path.exists():
        raise read_error(path, "the file does not exist", "Check the path and try again.")
    return read_file(path)
