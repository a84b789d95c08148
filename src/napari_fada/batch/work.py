"""What a worker does with a group of work items: read their frames, propose on them (several
at a time with ``--batch-size``), send back records.

The same function runs in the calling process, in a local process pool and on Dask workers.
Each process loads its model once (:func:`loaded_backend` caches it by its :class:`BackendSpec`)
and uses it from one thread at a time, as backends require (a server backend, which the registry
marks thread-safe, from many). A frame that cannot be read or proposed comes back as an error
instead of stopping the run; only a model that cannot be loaded raises, since then no frame can
succeed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_fada.batch.inputs import FrameKey, WorkGroup, WorkItem
from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.errors import FadaError
from napari_fada.models.base import Backend, ProposeRequest
from napari_fada.models.registry import backend_thread_safe, load_backend


@dataclass
class Frame:
    """One image to propose on, with where it came from."""

    image: np.ndarray
    source_path: Path | None
    pixel_spacing_mm: tuple[float, float] | None
    clip_id: str | None = None
    frame_index: int | None = None

    def record(self) -> ImageRecord:
        """The record this frame is saved under."""
        from napari_fada.data.dataset import make_record

        return make_record(
            self.image,
            self.source_path,
            pixel_spacing_mm=self.pixel_spacing_mm,
            clip_id=self.clip_id,
            frame_index=self.frame_index,
        )


@dataclass(frozen=True)
class BackendSpec:
    """How each worker constructs the model: a registry name and its settings (picklable, and
    equal after a round trip through pickle, so it can key the per-process cache)."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, **settings: Any) -> BackendSpec:
        return cls(name, tuple(sorted(settings.items())))

    def load(self) -> Backend:
        return load_backend(self.name, **dict(self.settings))


@dataclass
class FrameOutcome:
    """One frame's proposal with the record and pixels to save, or why there is none."""

    key: FrameKey
    record: ImageRecord | None = None
    image: np.ndarray | None = None
    proposal: Proposal | None = None
    error: str | None = None
    seconds: float = 0.0


_loaded: dict[BackendSpec, tuple[Backend, AbstractContextManager[Any]]] = {}
_loading = threading.Lock()


def loaded_backend(spec: BackendSpec) -> tuple[Backend, AbstractContextManager[Any]]:
    """This process's instance of the model, loaded on first use, with the lock guarding it
    (none for a backend that may propose from several threads at once)."""
    with _loading:
        if spec not in _loaded:
            guard = nullcontext() if backend_thread_safe(spec.name) else threading.Lock()
            _loaded[spec] = (spec.load(), guard)
        return _loaded[spec]


def _frames(item: WorkItem) -> Iterator[Frame | FrameOutcome]:
    """The item's frames, or an outcome with the error for each frame that cannot be read."""
    from napari_fada.data.readers import read_any

    try:
        loaded = read_any(item.path)
    except FadaError as error:
        for key in item.keys:
            yield FrameOutcome(key, error=str(error))
        return
    if item.frames is None:
        yield Frame(np.asarray(loaded.data), item.path, loaded.pixel_spacing_mm)
        return
    clip_id = loaded.clip_id or loaded.name
    for key, index in zip(item.keys, item.frames, strict=True):
        try:
            pixels = np.asarray(loaded.data[index])
        except (FadaError, ValueError, IndexError) as error:
            yield FrameOutcome(key, error=f"Cannot read frame {index} of {item.path}: {error}")
            continue
        yield Frame(pixels, item.path, loaded.pixel_spacing_mm, clip_id, index)


def _key(frame: Frame) -> FrameKey:
    return (str(frame.source_path), frame.frame_index)


def _request(request: ProposeRequest, frame: Frame) -> ProposeRequest:
    return replace(request, pixel_spacing_mm=frame.pixel_spacing_mm)


def _propose(backend: Backend, frame: Frame, request: ProposeRequest) -> FrameOutcome:
    started = time.perf_counter()
    try:
        proposal = backend.propose(frame.image, _request(request, frame))
    except FadaError as error:
        return FrameOutcome(_key(frame), error=str(error))
    except Exception as error:  # one odd image must not stop a dataset-wide run
        reason = f"the model failed on it ({type(error).__name__}: {error})"
        return FrameOutcome(_key(frame), error=reason)
    seconds = time.perf_counter() - started
    return FrameOutcome(_key(frame), frame.record(), frame.image, proposal, seconds=seconds)


def _propose_batch(
    backend: Backend, frames: list[Frame], request: ProposeRequest
) -> list[FrameOutcome]:
    """Outcomes of ``frames`` proposed together; when the batch fails, each frame is proposed
    on its own, so that only a frame the model cannot take fails."""
    if len(frames) == 1:
        return [_propose(backend, frames[0], request)]
    started = time.perf_counter()
    try:
        proposals = backend.propose_batch(
            [frame.image for frame in frames], [_request(request, frame) for frame in frames]
        )
    except Exception:  # each frame again alone, to say which one failed and why
        return [_propose(backend, frame, request) for frame in frames]
    seconds = (time.perf_counter() - started) / len(frames)
    return [
        FrameOutcome(_key(frame), frame.record(), frame.image, proposal, seconds=seconds)
        for frame, proposal in zip(frames, proposals, strict=True)
    ]


def propose_with(
    backend: Backend,
    items: Sequence[WorkItem],
    request: ProposeRequest,
    lock: AbstractContextManager[Any] | None = None,
    batch_size: int = 1,
) -> list[FrameOutcome]:
    """Propose on every frame of ``items`` with ``backend`` (used under ``lock``, if given),
    ``batch_size`` frames at a time (:meth:`Backend.propose_batch`); outcomes in frame order."""
    outcomes: list[Frame | FrameOutcome] = [f for item in items for f in _frames(item)]
    frames = [(i, f) for i, f in enumerate(outcomes) if isinstance(f, Frame)]
    for first in range(0, len(frames), batch_size):
        batch = frames[first : first + batch_size]
        with lock or nullcontext():
            done = _propose_batch(backend, [frame for _, frame in batch], request)
        for (index, _), outcome in zip(batch, done, strict=True):
            outcomes[index] = outcome
    return [o for o in outcomes if isinstance(o, FrameOutcome)]


def propose_group(
    group: WorkGroup, spec: BackendSpec, request: ProposeRequest, batch_size: int = 1
) -> list[FrameOutcome]:
    """Propose on every frame of ``group`` with this process's instance of the model,
    ``batch_size`` frames at a time."""
    backend, lock = loaded_backend(spec)
    return propose_with(backend, group.items, request, lock, batch_size)
