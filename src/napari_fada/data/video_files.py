"""Video files (mp4, avi, mov) through PyAV as lazy (T, Y, X[, 3]) stacks.

Opening a clip demuxes its packets once (no decoding) to learn every frame's timestamp, so frame
``i`` is found by its exact presentation time even with variable frame rates, B-frames or a
stream that does not start at zero. Reading frame ``i`` seeks to the keyframe before it and
decodes forward; reading ``i + 1`` right after continues the same decoder without seeking.
Clips whose first and last frames have no colour are read as gray (the luma plane).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.data.loaded_image import LoadedImage
from napari_fada.data.read_errors import read_error

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov"})

#: Largest channel difference (8-bit levels) still counted as gray after chroma subsampling.
_GRAY_TOLERANCE = 4


class VideoFrames:
    """Random access to the frames of one video stream by index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._container: av.container.InputContainer | None = None
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._next_index: int | None = None
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                self.frame_interval_ms = _frame_interval_ms(stream)
                self.pts = sorted(
                    p.pts for p in container.demux(stream) if p.pts is not None and p.size
                )
        except (av.FFmpegError, IndexError, OSError) as exc:
            raise read_error(path, exc) from exc
        if not self.pts:
            raise read_error(path, "it contains no video frames")
        self.format = "rgb24"
        ends = (self.read(0), self.read(len(self.pts) - 1))  # also fails early on a damaged file
        if all(np.abs(np.diff(f.astype(np.int16), axis=-1)).max() <= _GRAY_TOLERANCE for f in ends):
            self.format = "gray"
            self._next_index = None

    def __len__(self) -> int:
        return len(self.pts)

    def read(self, index: int) -> np.ndarray:
        with self._lock:
            try:
                return self._read(index)
            except (av.FFmpegError, OSError, EOFError) as exc:
                self.close()
                raise read_error(self.path, f"frame {index} cannot be decoded ({exc})") from exc

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._decoder, self._next_index = None, None, None

    def _read(self, index: int) -> np.ndarray:
        target = self.pts[index]
        if self._container is None:
            self._container = av.open(str(self.path))
        if index != self._next_index:
            self._decoder = self._seek_before(index)
        assert self._decoder is not None
        for frame in self._decoder:
            if frame.pts is None or frame.pts < target:
                continue
            self._next_index = index + 1
            return frame.to_ndarray(format=self.format)
        raise EOFError(f"the stream ends before timestamp {target}")

    def _seek_before(self, index: int) -> Iterator[av.VideoFrame]:
        """A decoder whose first frame is at or before frame ``index``.

        Some containers (AVI) seek by decode time and may land on a later keyframe; then we
        seek again further back, doubling the distance, until the first frame is early enough.
        """
        assert self._container is not None
        stream = self._container.streams.video[0]
        start, step = index, 1
        while True:
            self._container.seek(self.pts[start], stream=stream, backward=True, any_frame=False)
            decoder = self._container.decode(stream)
            first = next(decoder, None)
            if first is None:
                raise EOFError(f"nothing decodes after timestamp {self.pts[start]}")
            if start == 0 or (first.pts is not None and first.pts <= self.pts[index]):
                return itertools.chain([first], decoder)
            start, step = max(0, start - step), step * 2


def _frame_interval_ms(stream: av.video.stream.VideoStream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return 1000.0 / float(rate) if rate else None


def read_video(path: Path) -> LoadedImage:
    """A lazy stack over the clip's frames (the first and last are decoded now)."""
    frames = VideoFrames(path)
    first = frames.read(0)
    stack = LazyFrameStack(len(frames), first.shape, first.dtype, frames.read)
    return LoadedImage(
        data=stack,
        name=path.stem,
        path=path,
        frame_interval_ms=frames.frame_interval_ms,
        is_stack=True,
        rgb=first.ndim == 3,
        clip_id=path.stem,
    )
