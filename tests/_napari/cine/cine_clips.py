"""Small generated cine clips for the cine tests: a bright head-like ellipse drifting right over
speckle, saved as a multi-frame ultrasound DICOM or as an MP4 video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from tests.data.dicom_case import make_dataset, save

HEIGHT, WIDTH = 96, 128
DRIFT_PX = 3


def clip_frames(n_frames: int, seed: int = 0) -> np.ndarray:
    """(T, H, W) uint8 frames; the ellipse moves :data:`DRIFT_PX` pixels right per frame and
    every frame's pixels differ (its own speckle), as in a real sweep."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:HEIGHT, :WIDTH]
    frames = []
    for t in range(n_frames):
        inside = ((cols - 40 - DRIFT_PX * t) / 24) ** 2 + ((rows - 48) / 18) ** 2 <= 1
        frame = 30 + 160 * inside + rng.normal(0, 10, (HEIGHT, WIDTH))
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def write_dicom_clip(path: Path, frames: np.ndarray, spacing_mm: float = 0.25) -> Path:
    ds = make_dataset(frames)
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    return save(ds, path)


def write_video_clip(path: Path, frames: np.ndarray) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 4_000_000
        stream.options = {"g": "8"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")))
        container.mux(stream.encode())
    return path
