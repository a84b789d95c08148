"""A generated multi-frame DICOM and a generated video open lazily in a real viewer: frames are
decoded when shown, one at a time, and the cache stays small however far one scrolls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_fada._napari.hooks.source import source_of
from napari_fada.data.lazy_stack import DEFAULT_CACHE_FRAMES, LazyFrameStack
from tests._napari.cine.cine_clips import clip_frames, write_dicom_clip, write_video_clip

N_FRAMES = 40


@pytest.mark.parametrize("kind", ["dicom", "video"])
def test_clip_opens_lazily_and_frames_are_read_on_demand(make_napari_viewer, tmp_path: Path, kind):
    frames = clip_frames(N_FRAMES)
    writer, suffix = (write_dicom_clip, ".dcm") if kind == "dicom" else (write_video_clip, ".mp4")
    path = writer(tmp_path / f"sweep{suffix}", frames)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(path, plugin="napari-fada")
    stack = layer.data
    assert isinstance(stack, LazyFrameStack) and stack.shape == (N_FRAMES, *frames.shape[1:])
    source = source_of(layer)
    assert source is not None and source.is_stack and source.clip_id
    opened = stack.decoded
    assert opened <= 3  # the reader checks the first and last frame; the viewer shows frame 0

    for count, frame in enumerate((7, 8, 25), start=1):
        viewer.dims.set_current_step(0, frame)
        shown = np.asarray(layer._slice.image.view)
        assert stack.decoded == opened + count  # exactly the frame scrolled to
        assert abs(float(shown.mean()) - float(frames[frame].mean())) < 3
    for frame in range(N_FRAMES):
        viewer.dims.set_current_step(0, frame)
    assert stack.cached_frames <= DEFAULT_CACHE_FRAMES
    if kind == "dicom":
        assert tuple(layer.scale) == pytest.approx((1.0, 0.25, 0.25))
