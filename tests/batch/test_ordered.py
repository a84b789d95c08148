"""Results come back in input order with a bounded number in flight; a broken worker fails
only its item, a model that cannot load stops the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_fada.batch.inputs import WorkItem
from napari_fada.batch.ordered import in_order
from napari_fada.batch.work import FrameOutcome
from napari_fada.errors import ModelLoadError

ITEMS = [WorkItem(Path(f"/scans/{i}.png")) for i in range(5)]


class FakeFuture:
    def __init__(self, item: WorkItem, error: Exception | None = None) -> None:
        self.item, self.error, self.cancelled = item, error, False

    def result(self) -> list[FrameOutcome]:
        if self.error is not None:
            raise self.error
        return [FrameOutcome(self.item.keys[0], error=None)]

    def cancel(self) -> bool:
        self.cancelled = True
        return True


def test_results_follow_the_input_order_with_at_most_window_items_in_flight():
    submitted: list[FakeFuture] = []

    def submit(item: WorkItem) -> FakeFuture:
        submitted.append(FakeFuture(item))
        return submitted[-1]

    seen = []
    for item, outcomes in in_order(ITEMS, submit, window=2):
        assert len(submitted) - len(seen) <= 2
        seen.append(item)
        assert outcomes[0].key == (str(item.path), None)
    assert seen == ITEMS and len(submitted) == len(ITEMS)


def test_a_worker_that_broke_fails_its_item_and_the_run_goes_on():
    def submit(item: WorkItem) -> FakeFuture:
        return FakeFuture(item, RuntimeError("worker died") if item is ITEMS[1] else None)

    results = dict(in_order(ITEMS, submit, window=3))
    assert len(results) == len(ITEMS)
    error = results[ITEMS[1]][0].error
    assert error is not None and "worker died" in error
    assert all(results[item][0].error is None for item in ITEMS if item is not ITEMS[1])


def test_a_model_that_cannot_load_stops_the_run_and_cancels_queued_work():
    futures: list[FakeFuture] = []

    def submit(item: WorkItem) -> FakeFuture:
        futures.append(FakeFuture(item, ModelLoadError("weights missing")))
        return futures[-1]

    with pytest.raises(ModelLoadError):
        list(in_order(ITEMS, submit, window=3))
    assert [f.cancelled for f in futures] == [False, True, True]
