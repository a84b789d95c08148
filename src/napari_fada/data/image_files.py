"""Still images (PNG, JPEG, BMP) through Pillow, and TIFF (single- or multi-page) through tifffile.

Gray stays 2D, colour becomes (Y, X, 3): alpha channels are dropped. A multi-page TIFF whose
pages share one shape is a lazy (T, Y, X[, 3]) stack read page by page. An image (or page) of
more than :data:`MAX_PIXELS` is refused from its header, before any pixel is decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.loaded_image import LoadedImage
from napari_fada.data.read_errors import read_error

PIL_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp"})
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})

#: Largest image read: 40 megapixels (8000 x 5000). Ultrasound frames are far smaller; a
#: 20000 x 20000 image would take gigabytes and minutes to decode and propose on.
MAX_PIXELS = 40_000_000
_TOO_LARGE_HINT = "Downscale it (or crop it to the scan) first."

#: Pillow modes that are already gray or colour arrays numpy understands as they are.
_GRAY_MODES = frozenset({"L", "I", "I;16", "I;16B", "I;16L", "F"})


def drop_alpha(array: np.ndarray) -> np.ndarray:
    """(Y, X, 2) gray+alpha becomes (Y, X); (Y, X, 4) RGBA becomes (Y, X, 3)."""
    if array.ndim == 3 and array.shape[-1] == 2:
        return array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:
        return array[..., :3]
    return array


def pil_to_array(image: Image.Image) -> np.ndarray:
    """Pixels of a Pillow image as gray (Y, X) or RGB (Y, X, 3), alpha dropped."""
    if image.mode in _GRAY_MODES:
        return np.asarray(image)
    if image.mode in ("1", "LA", "La"):
        return np.asarray(image.convert("L"))
    if image.mode != "RGB":
        image = image.convert("RGB")  # palette, RGBA, CMYK, YCbCr...: alpha is dropped here
    return np.asarray(image)


def check_size(path: Path, width: int, height: int) -> None:
    """ImageReadError for an image of more than :data:`MAX_PIXELS`."""
    if width * height > MAX_PIXELS:
        raise read_error(
            path,
            f"it is {width} x {height} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels "
            "napari-fada reads",
            _TOO_LARGE_HINT,
        )


def read_pil_array(path: Path) -> np.ndarray:
    """Decode a PNG/JPEG/BMP fully, raising ImageReadError if it is corrupt, truncated or too
    large."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            with Image.open(path) as image:
                check_size(path, *image.size)
                image.load()
                return pil_to_array(image)
    except Image.DecompressionBombError as exc:
        raise read_error(path, exc, _TOO_LARGE_HINT) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise read_error(path, exc) from exc


def read_pil_image(path: Path) -> LoadedImage:
    array = read_pil_array(path)
    return LoadedImage(data=array, name=path.stem, path=path, rgb=array.ndim == 3)


def _tiff_page(path: Path, index: int) -> np.ndarray:
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[index]
            sizes = dict(zip(page.axes, page.shape, strict=True))
            check_size(path, int(sizes.get("X", 1)), int(sizes.get("Y", 1)))
            array = page.asarray()
            if page.axes.startswith("S") and array.ndim == 3:  # planar configuration
                array = np.moveaxis(array, 0, -1)
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, KeyError) as exc:
        raise read_error(path, exc) from exc
    return drop_alpha(array)


def _tiff_page_count(path: Path) -> int:
    """Number of pages, checking that none is missing or cut off by truncation."""
    try:
        with tifffile.TiffFile(path) as tif:
            pages = list(tif.pages)
            declared = int(np.prod(tif.series[0].shape)) // int(np.prod(pages[0].shape))
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise read_error(path, exc) from exc
    size = path.stat().st_size
    ends = [max(np.add(p.dataoffsets, p.databytecounts), default=0) for p in pages]
    if declared > len(pages) or max(ends, default=0) > size:
        raise read_error(path, f"it is truncated ({len(pages)} of {declared} pages are complete)")
    return len(pages)


def read_tiff(path: Path) -> LoadedImage:
    """A single page as an array, several same-shaped pages as a lazy stack."""
    first = _tiff_page(path, 0)
    n_pages = _tiff_page_count(path)
    rgb = first.ndim == 3
    if n_pages == 1:
        return LoadedImage(data=first, name=path.stem, path=path, rgb=rgb)
    last = _tiff_page(path, n_pages - 1)  # a truncated file fails here, not mid-review
    if last.shape != first.shape:
        raise read_error(
            path,
            f"its pages have different shapes ({first.shape} and {last.shape})",
            "Save each page as its own file and open the folder instead.",
        )
    stack = LazyFrameStack(n_pages, first.shape, first.dtype, lambda i: _tiff_page(path, i))
    return LoadedImage(
        data=stack, name=path.stem, path=path, is_stack=True, rgb=rgb, clip_id=path.stem
    )
