"""DICOM through pydicom: single frames, multi-frame cine as lazy stacks, and their pixel spacing.

Frames are decoded one at a time straight from the file (pydicom's ``pixel_array(path, index=i)``),
so a long cine costs the memory of a few frames. Compressed transfer syntaxes decode through
pydicom's plugins: RLE and deflate natively, JPEG baseline/lossless via pylibjpeg-libjpeg and JPEG
2000 via pylibjpeg-openjpeg. YBR colour is converted to RGB and palette colour is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, pixel_array
from pydicom.uid import DeflatedExplicitVRLittleEndian

from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.loaded_image import LoadedImage
from napari_fada.data.read_errors import read_error

DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})

#: PhysicalUnitsX/YDirection code for centimetres in an ultrasound region (PS3.3 C.8.5.5.1.1).
_UNITS_CM = 3

_HEADER_KEYWORDS = (
    "Modality", "Manufacturer", "ManufacturerModelName", "PhotometricInterpretation",
    "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID",
)  # fmt: skip


def read_header(path: Path) -> Dataset:
    """The dataset without its pixel data, raising ImageReadError for a non-DICOM or broken file."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise read_error(path, exc) from exc
    if "Rows" not in ds or "Columns" not in ds:
        raise read_error(path, "it holds no image (no Rows/Columns)", "Open an image DICOM file.")
    return ds


def pixel_spacing_mm(ds: Dataset) -> tuple[float, float] | None:
    """(row, col) spacing in mm: PixelSpacing, else ImagerPixelSpacing, else the ultrasound
    region calibration (PhysicalDeltaY/X, converted from cm when the units say so)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) == 2 and all(float(v) > 0 for v in value):
            return float(value[0]), float(value[1])
    for region in ds.get("SequenceOfUltrasoundRegions", []):
        delta_y, delta_x = region.get("PhysicalDeltaY"), region.get("PhysicalDeltaX")
        units = (region.get("PhysicalUnitsYDirection"), region.get("PhysicalUnitsXDirection"))
        if delta_x and delta_y and units == (_UNITS_CM, _UNITS_CM):
            return abs(float(delta_y)) * 10.0, abs(float(delta_x)) * 10.0
    return None


def frame_interval_ms(ds: Dataset) -> float | None:
    """Time between frames: FrameTime, else the mean of FrameTimeVector, else 1/CineRate."""
    if ds.get("FrameTime"):
        return float(ds.FrameTime)
    vector = ds.get("FrameTimeVector")
    if vector and len(vector) > 1:
        return float(np.mean([float(v) for v in vector[1:]]))
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = ds.get(keyword)
        if rate:
            return 1000.0 / float(rate)
    return None


def _frame_reader(path: Path, header: Dataset) -> Any:
    palette = header.get("PhotometricInterpretation") == "PALETTE COLOR"
    deflated = header.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian

    def decode(index: int) -> np.ndarray:
        if deflated:  # the whole stream is zlib-compressed: a frame cannot be reached directly
            ds = pydicom.dcmread(path)
            ds.pixel_array_options(index=index)
            return ds.pixel_array
        return pixel_array(path, index=index)

    def read(index: int) -> np.ndarray:
        try:
            frame = decode(index)
        except Exception as exc:  # any decoder failure means a broken or unsupported file
            raise read_error(path, f"frame {index} cannot be decoded ({exc})") from exc
        if palette:
            frame = apply_color_lut(frame, header)
            if frame.dtype == np.uint16:
                frame = (frame >> 8).astype(np.uint8)
        return frame

    return read


def _header_summary(header: Dataset) -> dict[str, str]:
    summary = {k: str(header.get(k)) for k in _HEADER_KEYWORDS if k in header}
    summary["TransferSyntaxUID"] = str(header.file_meta.get("TransferSyntaxUID", ""))
    return summary


def read_dicom(path: Path) -> LoadedImage:
    """A single frame as an array; a multi-frame file as a lazy (T, Y, X[, 3]) stack."""
    header = read_header(path)
    read = _frame_reader(path, header)
    n_frames = int(header.get("NumberOfFrames", 1) or 1)
    first = read(0)
    common: dict[str, Any] = {
        "name": path.stem,
        "path": path,
        "pixel_spacing_mm": pixel_spacing_mm(header),
        "rgb": first.ndim == 3,
        "metadata": {"dicom": _header_summary(header)},
    }
    if n_frames == 1:
        return LoadedImage(data=first, **common)
    read(n_frames - 1)  # a truncated file fails now rather than in the middle of a review
    stack = LazyFrameStack(n_frames, first.shape, first.dtype, read)
    clip_id = str(header.get("SOPInstanceUID") or path.stem)
    return LoadedImage(
        data=stack,
        is_stack=True,
        frame_interval_ms=frame_interval_ms(header),
        clip_id=clip_id,
        **common,
    )
