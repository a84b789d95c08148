"""A read-only array of frames decoded one at a time, on demand, with a small LRU cache.

napari and numpy see an object with ``shape``, ``dtype``, ``ndim``, ``len()`` and indexing, so a
two-hour cine clip opens instantly and memory stays flat: only the frames being looked at (plus a
few recent ones) are ever decoded. ``np.asarray(stack[i])`` gives one frame as a plain array.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

#: ``read_frame(index)`` decodes one frame and returns it with the stack's frame shape and dtype.
FrameReader = Callable[[int], np.ndarray]

DEFAULT_CACHE_FRAMES = 16


class LazyFrameStack:
    """Frames ``0..n_frames-1`` of shape ``frame_shape``, decoded by ``read_frame`` when indexed.

    ``decoded`` counts calls to ``read_frame`` (cache misses), which tests use to check that
    indexing one frame decodes one frame. Safe to index from several threads (napari's async
    slicing): decoders are serialized by a lock.
    """

    def __init__(
        self,
        n_frames: int,
        frame_shape: tuple[int, ...],
        dtype: np.dtype | type,
        read_frame: FrameReader,
        cache_frames: int = DEFAULT_CACHE_FRAMES,
    ) -> None:
        self._n_frames = int(n_frames)
        self._frame_shape = tuple(int(s) for s in frame_shape)
        self._dtype = np.dtype(dtype)
        self._read_frame = read_frame
        self._cache_frames = max(1, int(cache_frames))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()
        self.decoded = 0

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._n_frames, *self._frame_shape)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return 1 + len(self._frame_shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def cached_frames(self) -> int:
        return len(self._cache)

    def __len__(self) -> int:
        return self._n_frames

    def __repr__(self) -> str:
        return f"LazyFrameStack(shape={self.shape}, dtype={self._dtype})"

    def frame(self, index: int) -> np.ndarray:
        """One decoded frame (read-only view of the cached array)."""
        index = int(index)
        if index < 0:
            index += self._n_frames
        if not 0 <= index < self._n_frames:
            raise IndexError(f"frame {index} is out of range for {self._n_frames} frames")
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            frame = np.asarray(self._read_frame(index), dtype=self._dtype)
            if frame.shape != self._frame_shape:
                raise ValueError(
                    f"frame {index} has shape {frame.shape}, expected {self._frame_shape}"
                )
            frame.flags.writeable = False
            self.decoded += 1
            self._cache[index] = frame
            while len(self._cache) > self._cache_frames:
                self._cache.popitem(last=False)
            return frame

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = _split_key(key)
        if isinstance(first, (int, np.integer)):
            return self.frame(int(first))[rest]
        indices = np.arange(self._n_frames)[first]
        frames = [self.frame(int(i)) for i in np.atleast_1d(indices)]
        stacked = np.stack(frames) if frames else np.empty((0, *self._frame_shape), self._dtype)
        return stacked[(slice(None), *rest)]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """Decode everything: only for small stacks (numpy asks for it on ``np.asarray(stack)``)."""
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)


def _split_key(key: Any) -> tuple[Any, tuple[Any, ...]]:
    """Split an index into the frame-axis part and the in-frame part."""
    if not isinstance(key, tuple):
        return key, ()
    if not key:
        return slice(None), ()
    if key[0] is Ellipsis:
        raise IndexError("a leading Ellipsis is not supported on a lazy frame stack")
    return key[0], tuple(key[1:])
