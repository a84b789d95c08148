"""What a worker does with one work item: read its frames, propose on each, send back records.

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
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_fada.batch.inputs import FrameKey, WorkItem
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


def _propose(backend: Backend, frame: Frame, request: ProposeRequest) -> FrameOutcome:
    key = (str(frame.source_path), frame.frame_index)
    started = time.perf_counter()
    try:
        proposal = backend.propose(
            frame.image, replace(request, pixel_spacing_mm=frame.pixel_spacing_mm)
        )
    except FadaError as error:
        return FrameOutcome(key, error=str(error))
    except Exception as error:  # one odd image must not stop a dataset-wide run
        return FrameOutcome(key, error=f"the model failed on it ({type(error).__name__}: {error})")
    seconds = time.perf_counter() - started
    return FrameOutcome(key, frame.record(), frame.image, proposal, seconds=seconds)


def propose_with(
    backend: Backend,
    item: WorkItem,
    request: ProposeRequest,
    lock: AbstractContextManager[Any] | None = None,
) -> list[FrameOutcome]:
    """Propose on every frame of ``item`` with ``backend`` (used under ``lock``, if given)."""
    outcomes = []
    for frame in _frames(item):
        if isinstance(frame, FrameOutcome):
            outcomes.append(frame)
            continue
        with lock or nullcontext():
            outcomes.append(_propose(backend, frame, request))
    return outcomes


def propose_item(item: WorkItem, spec: BackendSpec, request: ProposeRequest) -> list[FrameOutcome]:
    """Propose on every frame of ``item`` with this process's instance of the model."""
    backend, lock = loaded_backend(spec)
    return propose_with(backend, item, request, lock)
