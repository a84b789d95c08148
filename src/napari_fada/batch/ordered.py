"""Keep every worker busy while results are written strictly in input order.

Up to ``window`` items are in flight at once; their results are taken oldest first. Writing in
input order makes the dataset the same whatever ran the work (one process, a pool, a Dask
cluster) and however the workers were scheduled: the same images get the same ids.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any, Protocol, TypeVar

from napari_fada.batch.inputs import FrameKey, WorkGroup
from napari_fada.batch.work import FrameOutcome
from napari_fada.errors import ModelLoadError


class ResultFuture(Protocol):
    """What ``concurrent.futures`` and Dask futures have in common, as used here."""

    def result(self) -> list[FrameOutcome]: ...

    def cancel(self) -> Any: ...


class Work(Protocol):
    """A unit of work: the frames it proposes on."""

    @property
    def keys(self) -> list[FrameKey]: ...


_Work = TypeVar("_Work", bound=Work)

#: Starts one group's work somewhere and returns the future of its outcomes.
Submit = Callable[[WorkGroup], ResultFuture]


def _outcomes(item: Work, future: ResultFuture) -> list[FrameOutcome]:
    """The item's outcomes; a worker that died or broke on it fails that item, not the run.
    A model that cannot be loaded stops the run: no other item could succeed."""
    try:
        return future.result()
    except ModelLoadError:
        raise
    except Exception as error:  # a dead worker (KilledWorker, BrokenProcessPool) fails its item
        reason = f"the worker proposing it failed ({type(error).__name__}: {error})"
        return [FrameOutcome(key, error=reason) for key in item.keys]


def in_order(
    items: Iterable[_Work], submit: Callable[[_Work], ResultFuture], window: int
) -> Generator[tuple[_Work, list[FrameOutcome]], None, None]:
    """Each item with its outcomes, in the order of ``items``; unstarted work is cancelled when
    the caller stops early (an error, Ctrl-C)."""
    queue = iter(items)
    pending: deque[tuple[_Work, ResultFuture]] = deque()
    try:
        while True:
            while len(pending) < max(1, window) and (item := next(queue, None)) is not None:
                pending.append((item, submit(item)))
            if not pending:
                return
            item, future = pending.popleft()
            yield item, _outcomes(item, future)
    finally:
        for _, future in pending:
            future.cancel()
