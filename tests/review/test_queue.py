"""Image status, confidence, the exact queue order, stepping, counts, and a queue over a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_fada.core.proposal import Annotation, ImageRecord, PlaneCall, Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.review.compare import Comparison
from napari_fada.review.queue import (
    QueueItem,
    ReviewQueue,
    image_status,
    model_confidence,
    ordered,
    step_unreviewed,
)
from napari_fada.review.stats import ImageStats

SIZE = 40


def box(label: str, status: str = "proposed", score: float | None = 0.9, **kw) -> Annotation:
    source = kw.pop("source", "fada-0.8b")
    return Annotation(label, box=(4, 4, 20, 20), score=score, status=status, source=source, **kw)


def proposal(*annotations: Annotation, plane: PlaneCall | None = None) -> Proposal:
    return Proposal(SIZE, SIZE, annotations=list(annotations), plane=plane)


@pytest.mark.parametrize(
    ("annotations", "plane", "expected"),
    [
        ((), None, "unreviewed"),
        ((box("head"), box("CSP", "accepted")), None, "unreviewed"),
        ((box("head", "accepted"),), PlaneCall("head", 0.8), "unreviewed"),  # plane open
        ((box("head", "accepted"), box("CSP", "rejected")), None, "accepted"),
        ((box("head", "rejected"), box("CSP", "rejected")), None, "rejected"),
        ((box("head", "edited"), box("CSP", "rejected")), None, "edited"),
        ((box("head", "rejected"), box("LV", "accepted", None, source="manual")), None, "edited"),
        ((box("head", "accepted"),), PlaneCall("head", 0.8, status="edited"), "edited"),
        ((), PlaneCall("head", 0.8, status="accepted"), "accepted"),
    ],
)
def test_image_status_follows_the_annotations(annotations, plane, expected) -> None:
    assert image_status(proposal(*annotations, plane=plane)) == expected


def test_confidence_is_the_lowest_model_score_of_annotations_and_plane() -> None:
    drawn = box("LV", "accepted", 0.01, source="manual")  # a person's shape has no confidence
    plane = PlaneCall("head", 0.5)
    found = proposal(box("head", score=0.7), box("CSP", score=0.4), drawn, plane=plane)
    assert model_confidence(found) == 0.4
    assert model_confidence(proposal(box("head"), plane=PlaneCall("h", 0.2))) == 0.2
    assert model_confidence(proposal(box("head", score=None))) is None


def item(image_id: str, status="unreviewed", confidence=None, disagreement=None) -> QueueItem:
    return QueueItem(image_id, status, confidence, disagreement, ImageStats(0.0, 0, 0))


ITEMS = [
    item("a", confidence=0.9, disagreement=0.1),
    item("b", confidence=None, disagreement=0.8),
    item("c", "accepted", confidence=0.2, disagreement=None),
    item("d", confidence=0.5, disagreement=0.8),
    item("e", confidence=0.2, disagreement=0.0),
]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("dataset", "abcde"),
        ("confidence", "ceda" + "b"),  # ties (c, e) keep dataset order; no score last
        ("disagreement", "bdae" + "c"),  # ties (b, d) keep dataset order; not compared last
    ],
)
def test_queue_order_is_exact(order, expected) -> None:
    assert "".join(i.image_id for i in ordered(ITEMS, order)) == expected


def test_stepping_skips_reviewed_images_and_wraps_around() -> None:
    items = ordered(ITEMS, "confidence")  # c e d a b; c is accepted
    assert step_unreviewed(items, None, 1) == "e"
    assert step_unreviewed(items, "e", 1) == "d"
    assert step_unreviewed(items, "b", 1) == "e"  # wraps past the accepted c
    assert step_unreviewed(items, "e", -1) == "b"
    assert step_unreviewed(items, None, -1) == "b"
    assert step_unreviewed([item("x"), item("y", "edited")], "x", 1) is None
    assert step_unreviewed([], None, 1) is None


def save(dataset: Dataset, image_id: str, found: Proposal, value: int) -> ImageRecord:
    pixels = np.full((SIZE, SIZE), value, dtype=np.uint8)
    return dataset.save(ImageRecord(image_id, SIZE, SIZE), pixels, found)


def test_queue_over_a_dataset_refreshes_filters_counts_and_compares(tmp_path: Path) -> None:
    dataset = Dataset.open(tmp_path / "dataset")
    save(dataset, "one", proposal(box("head", score=0.9)), 1)
    save(dataset, "two", proposal(box("head", score=0.3), box("CSP", "accepted")), 2)
    save(dataset, "three", proposal(box("head", "accepted")), 3)
    queue = ReviewQueue(dataset)
    assert queue.counts() == {"unreviewed": 2, "accepted": 1, "edited": 0, "rejected": 0}
    assert [i.image_id for i in queue.view("confidence")] == ["two", "one", "three"]
    assert [i.image_id for i in queue.view("dataset", "accepted")] == ["three"]
    assert queue.next_unreviewed("two", "confidence") == "one"

    save(dataset, "two", proposal(box("head", "rejected", 0.3), box("CSP", "accepted")), 2)
    assert queue.items["two"].status == "unreviewed"  # not re-read yet
    assert queue.refresh("two") == queue.items["two"]
    assert queue.items["two"].status == "accepted"
    save(dataset, "four", proposal(box("LV")), 4)
    queue.sync()
    assert list(queue.items) == ["one", "two", "three", "four"]

    other = Comparison(tmp_path)
    record = dataset.find_by_sha256(queue.dataset.load("one")[0].sha256)  # type: ignore[index]
    assert record is not None
    other.add(record, proposal(box("head")))  # same box: agrees
    four = dataset.load("four")
    assert four is not None
    other.add(four[0], proposal(box("head")))  # another structure: disagrees
    queue.compare_with(other)
    assert [i.disagreement for i in queue.view("disagreement")] == [1.0, 0.0, None, None]
    assert [i.image_id for i in queue.view("disagreement")] == ["four", "one", "two", "three"]


def test_images_whose_plane_the_model_was_unsure_of_come_first() -> None:
    unsure = QueueItem("u", "unreviewed", 0.45, None, ImageStats(0.0, 0, 0), unsure=True)
    assert [i.image_id for i in ordered([*ITEMS, unsure], "confidence")][:2] == ["u", "c"]
    saved = proposal(plane=PlaneCall("femur", 0.4, unsure=True))
    assert saved.plane is not None and "unsure" in saved.plane.describe()
    again = Proposal.from_dict(saved.to_dict())
    assert again.plane is not None and again.plane.unsure and again.plane.score == 0.4
