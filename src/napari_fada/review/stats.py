"""Time and edits per image, read from the provenance the annotator widget records.

The annotator times each annotation from when its image is shown to when it is accepted or
rejected, so the latest decision on an image is how long the person spent on it (in the visit
where they last decided). Edits are proposals changed (status "edited"), shapes drawn by hand,
and a corrected plane class.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from napari_fada.core.proposal import Proposal
from napari_fada.data.dataset import Dataset


@dataclass(frozen=True)
class ImageStats:
    """One image's review effort: seconds spent, edits made, decisions taken."""

    time_s: float
    edits: int
    decisions: int


def image_stats(proposal: Proposal) -> ImageStats:
    annotations = proposal.annotations
    plane = proposal.plane
    drawn = sum(1 for a in annotations if a.is_manual and a.status != "rejected")
    edited = sum(1 for a in annotations if a.status == "edited" and not a.is_manual)
    plane_edited = int(plane is not None and plane.status == "edited")
    decided = sum(1 for a in annotations if a.status != "proposed")
    plane_decided = int(plane is not None and plane.status != "proposed")
    return ImageStats(
        time_s=max((a.time_spent_s for a in annotations), default=0.0),
        edits=drawn + edited + plane_edited,
        decisions=decided + plane_decided,
    )


@dataclass(frozen=True)
class ReviewSummary:
    """Effort over a dataset; times and edits are over the images with a decision."""

    images: int
    reviewed: int
    total_time_s: float
    median_time_s: float | None
    mean_edits: float | None

    def text(self) -> str:
        if not self.reviewed:
            return f"0 of {self.images} images reviewed"
        return (
            f"{self.reviewed} of {self.images} images reviewed in {self.total_time_s / 60:.1f} min"
            f" · median {self.median_time_s:.0f} s/image · {self.mean_edits:.1f} edits/image"
        )


def summarise(stats: Iterable[ImageStats]) -> ReviewSummary:
    every = list(stats)
    reviewed = [s for s in every if s.decisions]
    return ReviewSummary(
        images=len(every),
        reviewed=len(reviewed),
        total_time_s=sum(s.time_s for s in reviewed),
        median_time_s=statistics.median(s.time_s for s in reviewed) if reviewed else None,
        mean_edits=statistics.mean(s.edits for s in reviewed) if reviewed else None,
    )


def dataset_summary(dataset: Dataset) -> ReviewSummary:
    """:func:`summarise` over every readable image of ``dataset``."""
    loaded = (dataset.load(r.image_id) for r in dataset.records())
    return summarise(image_stats(proposal) for _, proposal in filter(None, loaded))
