"""DICOM: frames round-trip (native and compressed), spacing becomes the scale, cine is lazy."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.readers import read_any
from napari_fada.errors import ImageReadError
from tests.data.dicom_case import make_dataset, save

RNG = np.random.default_rng(3)


def test_single_frame_round_trips(tmp_path: Path) -> None:
    image = RNG.integers(0, 256, (40, 56), dtype=np.uint8)
    loaded = read_any(save(make_dataset(image), tmp_path / "still.dcm"))
    assert not loaded.is_stack and not loaded.rgb
    np.testing.assert_array_equal(loaded.data, image)
    assert loaded.metadata["dicom"]["Modality"] == "US"


def test_multiframe_cine_is_lazy(tmp_path: Path) -> None:
    frames = RNG.integers(0, 256, (30, 24, 32), dtype=np.uint8)
    loaded = read_any(save(make_dataset(frames), tmp_path / "cine.dcm"))
    assert isinstance(loaded.data, LazyFrameStack)
    assert loaded.is_stack and loaded.data.shape == frames.shape
    assert loaded.frame_interval_ms == pytest.approx(40.0)
    assert loaded.clip_id is not None and loaded.clip_id.startswith("1.2.")
    decoded_at_open = loaded.data.decoded  # the first and last frames are checked at open
    assert decoded_at_open <= 2
    np.testing.assert_array_equal(loaded.data[17], frames[17])
    np.testing.assert_array_equal(loaded.data[17], frames[17])  # cached
    assert loaded.data.decoded == decoded_at_open + 1
    np.testing.assert_array_equal(loaded.data[2:5, :, 3], frames[2:5, :, 3])


def _with_pixel_spacing(ds: Dataset) -> None:
    ds.PixelSpacing = [0.25, 0.5]


def _with_imager_spacing(ds: Dataset) -> None:
    ds.ImagerPixelSpacing = [0.25, 0.5]


def _with_ultrasound_region(ds: Dataset) -> None:
    region = Dataset()
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX, region.PhysicalDeltaY = 0.05, 0.025
    ds.SequenceOfUltrasoundRegions = [region]


@pytest.mark.parametrize(
    "add_spacing", [_with_pixel_spacing, _with_imager_spacing, _with_ultrasound_region]
)
def test_each_spacing_source_gives_row_col_mm(tmp_path: Path, add_spacing) -> None:
    ds = make_dataset(np.zeros((8, 8), np.uint8))
    add_spacing(ds)
    assert read_any(save(ds, tmp_path / "s.dcm")).pixel_spacing_mm == pytest.approx((0.25, 0.5))


def test_no_spacing_is_none(tmp_path: Path) -> None:
    assert (
        read_any(
            save(make_dataset(np.zeros((8, 8), np.uint8)), tmp_path / "n.dcm")
        ).pixel_spacing_mm
        is None
    )


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
def test_lossless_compressed_cine_round_trips(tmp_path: Path, syntax: str) -> None:
    frames = RNG.integers(0, 256, (4, 32, 48), dtype=np.uint8)
    ds = make_dataset(frames)
    ds.compress(syntax, frames)
    loaded = read_any(save(ds, tmp_path / "packed.dcm"))
    for i in (3, 0, 2):
        np.testing.assert_array_equal(loaded.data[i], frames[i])


def test_deflated_file_round_trips(tmp_path: Path) -> None:
    image = RNG.integers(0, 256, (40, 56), dtype=np.uint8)
    ds = make_dataset(image)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    np.testing.assert_array_equal(read_any(save(ds, tmp_path / "deflated.dcm")).data, image)


def _jpeg(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_jpeg_baseline_ybr_cine_becomes_rgb(tmp_path: Path) -> None:
    ramp = np.tile(np.arange(48, dtype=np.uint8) * 5, (32, 1))
    frames = np.stack([np.dstack([ramp, ramp[::-1], np.full_like(ramp, 40 * t)]) for t in range(3)])
    ds = make_dataset(frames, photometric="YBR_FULL_422")
    ds.PixelData = encapsulate([_jpeg(f) for f in frames])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    loaded = read_any(save(ds, tmp_path / "jpeg.dcm"))
    assert loaded.rgb and loaded.data.shape == frames.shape
    for i in range(3):
        assert np.abs(loaded.data[i].astype(int) - frames[i]).mean() < 3


@pytest.mark.parametrize("keep", [0.1, 0.7])
def test_truncated_dicom_raises_with_the_file_name(tmp_path: Path, keep: float) -> None:
    frames = RNG.integers(0, 256, (6, 32, 32), dtype=np.uint8)
    path = save(make_dataset(frames), tmp_path / "cut.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError, match=r"cut\.dcm"):
        read_any(path)


def test_non_dicom_bytes_raise(tmp_path: Path) -> None:
    path = tmp_path / "fake.dcm"
    path.write_bytes(b"hello" * 100)
    with pytest.raises(ImageReadError, match=r"fake\.dcm"):
        read_any(path)
