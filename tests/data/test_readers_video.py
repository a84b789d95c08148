"""Video: frames come back in order from a lazy stack, random access is exact, damage is named."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.readers import read_any
from napari_fada.errors import ImageReadError

N_FRAMES, HEIGHT, WIDTH = 40, 48, 64


def frame_level(index: int) -> int:
    """Each frame is a flat level with a bar, so a wrong index is obvious after lossy coding."""
    return 20 + 5 * index


def make_frame(index: int, rgb: bool) -> np.ndarray:
    gray = np.full((HEIGHT, WIDTH), frame_level(index), np.uint8)
    gray[10:20, 8:40] = 250
    if not rgb:
        return gray
    return np.dstack([gray, gray // 2, np.full_like(gray, 200)])


def write_clip(path: Path, rgb: bool = False, codec: str = "mpeg4") -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 8_000_000
        stream.options = {"g": "10", "bf": "2"}  # keyframes every 10 frames, with B-frames
        for i in range(N_FRAMES):
            frame = av.VideoFrame.from_ndarray(make_frame(i, True), format="rgb24")
            if not rgb:
                frame = av.VideoFrame.from_ndarray(make_frame(i, False), format="gray")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mov"])
def test_gray_clip_is_a_lazy_2d_stack_with_exact_random_access(tmp_path: Path, suffix: str):
    loaded = read_any(write_clip(tmp_path / f"sweep{suffix}"))
    stack = loaded.data
    assert isinstance(stack, LazyFrameStack)
    assert loaded.is_stack and not loaded.rgb and stack.shape == (N_FRAMES, HEIGHT, WIDTH)
    assert loaded.frame_interval_ms == pytest.approx(40.0)
    assert loaded.clip_id == "sweep"
    for index in np.random.default_rng(1).permutation(N_FRAMES):
        frame = np.asarray(stack[index])
        assert abs(float(np.median(frame)) - frame_level(int(index))) <= 2, index


def test_indexing_one_frame_decodes_one_frame_and_memory_stays_bounded(tmp_path: Path):
    stack = read_any(write_clip(tmp_path / "long.mp4")).data
    assert isinstance(stack, LazyFrameStack)
    before = stack.decoded
    stack[21]
    assert stack.decoded == before + 1
    for index in range(N_FRAMES):
        stack[index]
    assert stack.cached_frames <= 16


def test_colour_clip_is_rgb(tmp_path: Path) -> None:
    loaded = read_any(write_clip(tmp_path / "doppler.mp4", rgb=True))
    assert loaded.rgb and loaded.data.shape == (N_FRAMES, HEIGHT, WIDTH, 3)
    frame = np.asarray(loaded.data[12]).astype(int)
    assert abs(np.median(frame[..., 2]) - 200) <= 6


@pytest.mark.parametrize("keep", [0.05, 0.5])
def test_truncated_mp4_raises_with_the_file_name(tmp_path: Path, keep: float) -> None:
    path = write_clip(tmp_path / "cut_clip.mp4")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError, match=r"cut_clip\.mp4"):
        read_any(path)
