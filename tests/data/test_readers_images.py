"""Still images, TIFF stacks and folders: pixels round-trip, damage is reported by file name."""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.readers import is_supported, read_any
from napari_fada.errors import ImageReadError

RNG = np.random.default_rng(7)
GRAY = RNG.integers(0, 256, (48, 64), dtype=np.uint8)
RGB = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_gray_round_trips_as_2d(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"gray{suffix}"
    Image.fromarray(GRAY).save(path)
    loaded = read_any(path)
    assert not loaded.rgb and not loaded.is_stack
    np.testing.assert_array_equal(loaded.data, GRAY)
    assert loaded.name == "gray" and loaded.path == path


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_rgba_drops_alpha(tmp_path: Path, suffix: str) -> None:
    rgba = np.dstack([RGB, np.full(GRAY.shape, 10, np.uint8)])
    path = tmp_path / f"rgba{suffix}"
    Image.fromarray(rgba, "RGBA").save(path)
    loaded = read_any(path)
    assert loaded.rgb
    np.testing.assert_array_equal(loaded.data, RGB)


def test_jpeg_rgb_is_close_and_16_bit_png_keeps_depth(tmp_path: Path) -> None:
    smooth = np.dstack([np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))] * 3)
    Image.fromarray(smooth).save(tmp_path / "rgb.jpg", quality=95)
    loaded = read_any(tmp_path / "rgb.JPG".lower())
    assert loaded.rgb and loaded.data.shape == (48, 64, 3)
    assert np.abs(loaded.data.astype(int) - smooth).mean() < 3
    deep = GRAY.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(read_any(tmp_path / "deep.png").data, deep)


def test_multipage_tiff_is_a_lazy_stack(tmp_path: Path) -> None:
    frames = RNG.integers(0, 256, (12, 32, 40), dtype=np.uint8)
    path = tmp_path / "clip.tif"
    tifffile.imwrite(path, frames)
    loaded = read_any(path)
    assert isinstance(loaded.data, LazyFrameStack) and loaded.is_stack
    assert loaded.data.shape == frames.shape and loaded.clip_id == "clip"
    decoded_at_open = loaded.data.decoded
    np.testing.assert_array_equal(np.asarray(loaded.data[5]), frames[5])
    np.testing.assert_array_equal(loaded.data[7, 3:9, ::2], frames[7, 3:9, ::2])
    assert loaded.data.decoded == decoded_at_open + 2


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_truncated_images_raise_with_the_file_name(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"broken_scan{suffix}"
    Image.fromarray(RGB).save(path)
    truncate(path)
    with pytest.raises(ImageReadError, match="broken_scan"):
        read_any(path)


def test_multipage_tiff_missing_its_last_pages_raises(tmp_path: Path) -> None:
    path = tmp_path / "cut_stack.tif"
    tifffile.imwrite(path, RNG.integers(0, 256, (8, 32, 32), dtype=np.uint8))
    truncate(path, 0.6)
    with pytest.raises(ImageReadError, match="cut_stack"):
        read_any(path)


def test_unknown_and_missing_files(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    assert not is_supported(notes)
    assert is_supported(tmp_path) and is_supported(tmp_path / "x.DCM")
    with pytest.raises(ImageReadError, match=r"notes\.txt"):
        read_any(notes)
    with pytest.raises(ImageReadError, match="gone"):
        read_any(tmp_path / "gone.png")
    with pytest.raises(ImageReadError, match="no PNG"):
        read_any(tmp_path)


def test_folder_of_same_size_frames_is_a_lazy_stack(tmp_path: Path) -> None:
    frames = RNG.integers(0, 256, (5, 20, 30), dtype=np.uint8)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"frame_{i:03d}.png")
    (tmp_path / "readme.txt").write_text("ignored")
    loaded = read_any(tmp_path)
    assert loaded.is_stack and loaded.data.shape == (5, 20, 30) and not loaded.collection
    assert loaded.data.decoded == 0
    np.testing.assert_array_equal(loaded.data[3], frames[3])
    assert loaded.data.decoded == 1


def test_real_samples_have_the_manifest_sizes(samples_dir: Path) -> None:
    with (samples_dir / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    for row in rows:
        loaded = read_any(samples_dir / row["image"])
        assert loaded.data.shape == (int(row["height"]), int(row["width"])), row["id"]


def test_folder_of_mixed_sizes_is_a_sorted_collection(samples_dir: Path) -> None:
    folder = samples_dir / "images"
    loaded = read_any(folder)
    expected = sorted(folder.glob("*.png"))
    assert loaded.collection == expected
    assert loaded.path == expected[0] and not loaded.is_stack
    assert loaded.data.shape == np.asarray(Image.open(expected[0])).shape


def test_folder_stack_takes_the_first_frames_layout(tmp_path: Path) -> None:
    Image.fromarray(GRAY).save(tmp_path / "a.png")
    Image.fromarray(RGB).save(tmp_path / "b.png")
    tifffile.imwrite(tmp_path / "c.tif", GRAY)
    loaded = read_any(tmp_path)
    assert loaded.is_stack and not loaded.rgb and loaded.data.shape == (3, 48, 64)
    expected_b = np.round(RGB @ np.array([0.299, 0.587, 0.114]))
    assert np.abs(loaded.data[1].astype(float) - expected_b).max() <= 1
    np.testing.assert_array_equal(loaded.data[2], GRAY)


def test_a_truncated_real_scan_raises_with_its_name(samples_dir: Path, tmp_path: Path) -> None:
    source = samples_dir / "images" / "hc18_010_HC.png"
    copy = tmp_path / source.name
    copy.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(ImageReadError, match=r"hc18_010_HC\.png"):
        read_any(copy)


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares its size and holds no pixels: readers must refuse it from the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [7000, 20000])
def test_an_image_above_the_size_limit_is_refused_from_its_header(tmp_path: Path, side: int):
    path = _png_header(tmp_path / "huge.png", side, side)
    with pytest.raises(ImageReadError, match=r"huge\.png.*Downscale it"):
        read_any(path)


def test_a_tiff_page_above_the_size_limit_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("napari_fada.data.image_files.MAX_PIXELS", 100)
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((20, 20), np.uint8))
    with pytest.raises(ImageReadError, match=r"20 x 20 pixels, more than"):
        read_any(tmp_path / "big.tif")
