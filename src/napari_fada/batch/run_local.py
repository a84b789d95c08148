"""Run work items on this machine: in this process for one worker, else in a process pool, or
in threads sharing one model for a backend that takes several requests at once (a server).

Worker processes are started with ``spawn`` (no torch or OpenMP state inherited through
``fork``), load the model once each on their first item, and ignore Ctrl-C: the main process
catches it, cancels what has not started and lets running items finish, so nothing is left
half-done. A worker exits as soon as the main process is gone, however it ended (``kill -9``
included): a thread in each worker waits on the parent's sentinel.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

from napari_fada.batch.inputs import WorkGroup
from napari_fada.batch.ordered import Submit
from napari_fada.batch.work import BackendSpec, FrameOutcome, propose_group
from napari_fada.models.base import ProposeRequest
from napari_fada.models.registry import backend_thread_safe


class _InThisProcess:
    """A future that does its group's work in this process when its result is asked for."""

    def __init__(
        self, group: WorkGroup, spec: BackendSpec, request: ProposeRequest, batch_size: int
    ) -> None:
        self._work = (group, spec, request, batch_size)

    def result(self) -> list[FrameOutcome]:
        return propose_group(*self._work)

    def cancel(self) -> bool:
        return True


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _worker_setup() -> None:
    """Ignore Ctrl-C (the main process handles it) and end when the main process ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()


@contextmanager
def local_workers(
    spec: BackendSpec, request: ProposeRequest, workers: int, batch_size: int = 1
) -> Iterator[tuple[Submit, int]]:
    """``(submit, slots)``: a function starting one group's work (``batch_size`` frames
    proposed at a time), and how many run at once."""
    if workers <= 1:
        yield (lambda group: _InThisProcess(group, spec, request, batch_size)), 1
        return
    pool: Executor
    if backend_thread_safe(spec.name):
        pool = ThreadPoolExecutor(workers, thread_name_prefix="prelabel")
    else:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_setup,
        )
    try:
        yield (
            (lambda group: pool.submit(propose_group, group, spec, request, batch_size)),
            workers,
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
