"""A long task (training, evaluation) off the GUI thread, with events and cancellation.

The task reports through ``emit(event)``, which sends a Qt signal: Qt delivers it to the GUI
thread, so widgets are only ever touched there. Any exception, :class:`~napari_fada.errors.
Cancelled` included, ends the job through ``on_error`` in the GUI thread, never in napari.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from napari.qt.threading import FunctionWorker, create_worker
from qtpy.QtCore import QObject, Signal

from napari_fada.models.base import CancelToken

T = TypeVar("T")
#: What a task calls to report an event to the GUI thread.
Emit = Callable[[Any], None]


class EventRelay(QObject):
    """Carries one event object from the worker thread to the GUI thread."""

    event = Signal(object)


@dataclass
class Job:
    """A running task: its worker, its cancel token and its event relay."""

    worker: FunctionWorker
    token: CancelToken
    relay: EventRelay

    def cancel(self) -> None:
        self.token.cancel()


def start_job(
    task: Callable[[Emit, CancelToken], T],
    on_event: Callable[[Any], None],
    on_done: Callable[[T], None],
    on_error: Callable[[BaseException], None],
) -> Job:
    """Run ``task(emit, token)`` in a thread; the callbacks run in the GUI thread."""
    token = CancelToken()
    relay = EventRelay()
    relay.event.connect(on_event)
    worker = create_worker(task, relay.event.emit, token, _start_thread=False, _ignore_errors=True)
    worker.returned.connect(on_done)
    worker.errored.connect(on_error)
    worker.start()
    return Job(worker, token, relay)
