"""Proposing every frame of a clip in a worker thread, yielding each frame as it finishes.

:func:`propose_frames` is the plain generator (usable without Qt, e.g. in benchmarks);
:func:`start_cine` runs it as a napari generator worker whose ``yielded`` signal delivers each
:class:`FrameResult` to the GUI thread. Cancel stops at once: the frame in progress is abandoned
through the backend's cancel token and no further frame starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from napari.qt.threading import GeneratorWorker, create_worker

from napari_fada.core.pixels import to_uint8
from napari_fada.core.proposal import Proposal
from napari_fada.core.temporal import image_quality
from napari_fada.errors import Cancelled
from napari_fada.models.base import Backend, CancelToken, ProposeRequest


@dataclass(frozen=True)
class FrameResult:
    """One frame's proposal, its image quality, and the seconds it took (read + propose)."""

    frame: int
    proposal: Proposal
    quality: float
    seconds: float


def propose_frames(
    backend: Backend,
    stack: Any,
    frames: Sequence[int],
    request: ProposeRequest,
    token: CancelToken,
) -> Iterator[FrameResult]:
    """Propose ``frames`` of ``stack`` (indexable by frame) one after another.

    Each frame is read only when its turn comes, so a long lazy clip stays lazy. Returns quietly
    when ``token`` is cancelled, before the next frame or in the middle of one.
    """
    for frame in frames:
        if token.cancelled:
            return
        started = time.perf_counter()
        pixels = to_uint8(stack[frame])
        try:
            proposal = backend.propose(pixels, request, None, token)
        except Cancelled:
            return
        yield FrameResult(frame, proposal, image_quality(pixels), time.perf_counter() - started)


@dataclass
class CineJob:
    """A running clip proposal: its worker and its cancel token."""

    worker: GeneratorWorker
    token: CancelToken

    def cancel(self) -> None:
        self.token.cancel()
        self.worker.quit()


def start_cine(
    backend: Backend,
    stack: Any,
    frames: Sequence[int],
    request: ProposeRequest,
    on_frame: Callable[[FrameResult], None],
    on_finished: Callable[[], None],
    on_error: Callable[[BaseException], None],
) -> CineJob:
    """Start :func:`propose_frames` in a thread; callbacks run in the GUI thread.

    ``on_finished`` runs once at the end, whether the clip was done, cancelled or failed.
    """
    token = CancelToken()
    worker = create_worker(
        propose_frames,
        backend,
        stack,
        list(frames),
        request,
        token,
        _start_thread=False,
        _ignore_errors=True,
    )
    assert isinstance(worker, GeneratorWorker)
    worker.yielded.connect(on_frame)
    worker.errored.connect(on_error)
    worker.finished.connect(on_finished)
    worker.start()
    return CineJob(worker, token)
