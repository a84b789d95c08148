"""Folders of still images: same-size frames become a lazy stack, mixed sizes a collection.

Sizes are peeked from file headers (nothing is decoded) so a folder of thousands of frames opens
at once. In a collection ``data`` is the first image and ``collection`` the sorted list of every
image, for the annotator to step through.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from napari_fada.data.dicom_files import DICOM_SUFFIXES, read_header
from napari_fada.data.image_files import PIL_SUFFIXES, TIFF_SUFFIXES
from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.loaded_image import LoadedImage
from napari_fada.data.read_errors import read_error

FOLDER_SUFFIXES = PIL_SUFFIXES | TIFF_SUFFIXES | DICOM_SUFFIXES

#: ITU-R BT.601 luma weights, to turn a colour frame into gray in a mostly gray stack.
_LUMA = np.array([0.299, 0.587, 0.114])

FileReader = Callable[[Path], LoadedImage]


def folder_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (not hidden), sorted by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FOLDER_SUFFIXES
    )


def peek_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header, without decoding pixels."""
    suffix = path.suffix.lower()
    try:
        if suffix in DICOM_SUFFIXES:
            header = read_header(path)
            return int(header.Rows), int(header.Columns)
        if suffix in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                return int(page.imagelength), int(page.imagewidth)
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, ValueError, tifffile.TiffFileError, Image.DecompressionBombError) as exc:
        raise read_error(path, exc) from exc


def _match_layout(frame: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Give a frame the channel layout and dtype of the first frame of the stack."""
    if frame.ndim == 2 and like.ndim == 3:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    elif frame.ndim == 3 and like.ndim == 2:
        frame = frame @ _LUMA
    return frame.astype(like.dtype, copy=False)


def read_folder(folder: Path, read_file: FileReader) -> LoadedImage:
    """Open a folder: a lazy stack if every image has one size, else a collection."""
    paths = folder_images(folder)
    if not paths:
        raise read_error(
            folder,
            "it contains no PNG, JPEG, BMP, TIFF or DICOM images",
            "Choose a folder with images in it, or open a single file.",
        )
    first = read_file(paths[0])
    if len(paths) == 1:
        return first
    sizes = {peek_size(p) for p in paths}
    if first.is_stack or len(sizes) > 1:
        first.collection = paths
        return first

    frame = np.asarray(first.data)

    def read_frame(index: int) -> np.ndarray:
        loaded = read_file(paths[index])
        if loaded.is_stack:
            raise read_error(paths[index], "it is a clip, not a single frame of the folder's stack")
        return _match_layout(np.asarray(loaded.data), frame)

    return LoadedImage(
        data=LazyFrameStack(len(paths), frame.shape, frame.dtype, read_frame),
        name=folder.name,
        path=folder,
        pixel_spacing_mm=first.pixel_spacing_mm,
        is_stack=True,
        rgb=first.rgb,
        clip_id=folder.name,
        metadata={"frame_paths": [str(p) for p in paths]},
    )
