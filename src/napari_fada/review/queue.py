"""The review queue: a dataset's images with their review status, filtered, counted and ordered.

An image's status follows from its annotations and plane call: ``unreviewed`` while anything is
still proposed (or nothing is labelled yet); once all is decided, ``edited`` if a person changed
something (:mod:`.stats` counts the edits), else ``accepted`` if anything was kept, else
``rejected``.

Orders put first what is worth a person's time: the lowest model confidence (images whose
plane the model was unsure of first, then the lowest score of an image's model proposals and
plane call; images without scores last), or the most
disagreement with another folder's labels (:mod:`.compare`; images it lacks last). Ties keep the
dataset's order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from napari_fada.core.proposal import Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.review.compare import Comparison, disagreement
from napari_fada.review.stats import ImageStats, ReviewSummary, image_stats, summarise

ImageStatus = Literal["unreviewed", "accepted", "edited", "rejected"]
IMAGE_STATUSES: tuple[ImageStatus, ...] = ("unreviewed", "accepted", "edited", "rejected")
SortOrder = Literal["dataset", "confidence", "disagreement"]
SORT_ORDERS: dict[SortOrder, str] = {
    "dataset": "dataset order",
    "confidence": "lowest confidence first",
    "disagreement": "most disagreement first",
}


def image_status(proposal: Proposal) -> ImageStatus:
    statuses = [a.status for a in proposal.annotations]
    if proposal.plane is not None:
        statuses.append(proposal.plane.status)
    if not statuses or "proposed" in statuses:
        return "unreviewed"
    if image_stats(proposal).edits:
        return "edited"
    return "accepted" if "accepted" in statuses else "rejected"


def model_confidence(proposal: Proposal) -> float | None:
    """The lowest score a model gave on the image, None when it gave none."""
    scores = [a.score for a in proposal.annotations if a.score is not None and not a.is_manual]
    if proposal.plane is not None and proposal.plane.score is not None:
        scores.append(proposal.plane.score)
    return min(scores, default=None)


@dataclass(frozen=True)
class QueueItem:
    image_id: str
    status: ImageStatus
    confidence: float | None
    disagreement: float | None
    stats: ImageStats
    #: The model was unsure of the plane and proposed no shapes: such images come first.
    unsure: bool = False


def ordered(items: Iterable[QueueItem], order: SortOrder) -> list[QueueItem]:
    if order == "confidence":
        return sorted(
            items, key=lambda i: (not i.unsure, i.confidence is None, i.confidence or 0.0)
        )
    if order == "disagreement":
        return sorted(items, key=lambda i: (i.disagreement is None, -(i.disagreement or 0.0)))
    return list(items)


def step_unreviewed(items: Sequence[QueueItem], current: str | None, delta: int) -> str | None:
    """The next (``delta`` 1) or previous (-1) unreviewed image after ``current`` in ``items``,
    wrapping around; None when no other image is unreviewed."""
    ids = [i.image_id for i in items]
    start = ids.index(current) if current in ids else (-1 if delta > 0 else len(ids))
    for offset in range(1, len(ids) + 1):
        item = items[(start + offset * delta) % len(ids)]
        if item.status == "unreviewed" and item.image_id != current:
            return item.image_id
    return None


class ReviewQueue:
    """The items of a dataset, re-read image by image as the person saves them."""

    def __init__(self, dataset: Dataset, comparison: Comparison | None = None) -> None:
        self.dataset = dataset
        self.comparison = comparison
        self.items: dict[str, QueueItem] = {}
        self.sync()

    def sync(self) -> None:
        """Add the images saved into the dataset since the queue last looked."""
        for record in self.dataset.records():
            if record.image_id not in self.items:
                self.refresh(record.image_id)

    def _read(self, image_id: str, comparison: Comparison | None) -> QueueItem | None:
        loaded = self.dataset.load(image_id)
        if loaded is None:
            return None
        record, proposal = loaded
        other = comparison.find(record) if comparison is not None else None
        return QueueItem(
            image_id=image_id,
            status=image_status(proposal),
            confidence=model_confidence(proposal),
            unsure=proposal.plane is not None and proposal.plane.unsure,
            disagreement=disagreement(proposal, other) if other is not None else None,
            stats=image_stats(proposal),
        )

    def refresh(self, image_id: str) -> QueueItem | None:
        """Re-read one image's labels (DatasetError when its file is corrupt)."""
        item = self._read(image_id, self.comparison)
        if item is None:
            self.items.pop(image_id, None)
        else:
            self.items[image_id] = item
        return item

    def compared(self, comparison: Comparison | None) -> dict[str, QueueItem]:
        """The items as compared with ``comparison``, without changing the queue: only reads
        files, so a worker thread may run it while the person works."""
        read = ((image_id, self._read(image_id, comparison)) for image_id in list(self.items))
        return {image_id: item for image_id, item in read if item is not None}

    def compare_with(
        self, comparison: Comparison | None, compared: dict[str, QueueItem] | None = None
    ) -> None:
        """Compare with ``comparison`` from now on; ``compared`` is what :meth:`compared` gave."""
        self.comparison = comparison
        self.items.update(compared if compared is not None else self.compared(comparison))

    def view(self, order: SortOrder, status: ImageStatus | None = None) -> list[QueueItem]:
        items = self.items.values()
        return ordered((i for i in items if status in (None, i.status)), order)

    def next_unreviewed(self, current: str | None, order: SortOrder, delta: int = 1) -> str | None:
        return step_unreviewed(self.view(order), current, delta)

    def counts(self) -> dict[ImageStatus, int]:
        found = Counter(i.status for i in self.items.values())
        return {status: found[status] for status in IMAGE_STATUSES}

    def summary(self) -> ReviewSummary:
        return summarise(i.stats for i in self.items.values())
