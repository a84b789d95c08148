"""Loading and running a backend off the GUI thread, with progress and cancellation.

The backend's progress callback runs in the worker thread; it emits a Qt signal, which Qt
delivers to the GUI thread, so the progress bar is only ever touched there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.qt.threading import FunctionWorker, create_worker
from qtpy.QtCore import QObject, Signal

from napari_fada.core.proposal import Proposal
from napari_fada.models.base import Backend, CancelToken, ProposeRequest
from napari_fada.models.registry import load_backend


class ProgressRelay(QObject):
    """Carries ``(message, fraction)`` from the worker thread to the GUI thread."""

    progressed = Signal(str, float)


@dataclass
class ProposeJob:
    """A running proposal: its worker, its cancel token and its progress relay."""

    worker: FunctionWorker
    token: CancelToken
    relay: ProgressRelay

    def cancel(self) -> None:
        self.token.cancel()


def start_propose(
    backend: Backend,
    image: np.ndarray,
    request: ProposeRequest,
    on_progress: Callable[[str, float], None],
    on_done: Callable[[Proposal], None],
    on_error: Callable[[BaseException], None],
) -> ProposeJob:
    """Start ``backend.propose(image, request)`` in a thread; callbacks run in the GUI thread.

    A cancelled job ends through ``on_error`` with :class:`~napari_fada.errors.Cancelled`.
    """
    token = CancelToken()
    relay = ProgressRelay()
    relay.progressed.connect(on_progress)

    def run() -> Proposal:
        return backend.propose(image, request, relay.progressed.emit, token)

    worker = create_worker(run, _start_thread=False, _ignore_errors=True)
    worker.returned.connect(on_done)
    worker.errored.connect(on_error)
    worker.start()
    return ProposeJob(worker, token, relay)


def start_load(
    name: str,
    settings: dict[str, Any],
    on_done: Callable[[Backend], None],
    on_error: Callable[[BaseException], None],
) -> FunctionWorker:
    """Load backend ``name`` in a thread (weights take seconds to read); callbacks in the GUI."""
    worker = create_worker(load_backend, name, _start_thread=False, _ignore_errors=True, **settings)
    worker.returned.connect(on_done)
    worker.errored.connect(on_error)
    worker.start()
    return worker
