"""Time and edits per image from the provenance, summarised over a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_fada.core.proposal import Annotation, ImageRecord, PlaneCall, Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.review.stats import ImageStats, dataset_summary, image_stats, summarise


def annotation(status: str, spent: float, source: str = "fada-0.8b") -> Annotation:
    return Annotation("head", box=(0, 0, 5, 5), status=status, source=source, time_spent_s=spent)


def test_image_stats_count_edits_decisions_and_the_latest_decision_time() -> None:
    found = Proposal(
        10,
        10,
        annotations=[
            annotation("accepted", 4.0),
            annotation("edited", 9.5),
            annotation("rejected", 2.0),
            annotation("proposed", 0.0),
            annotation("accepted", 1.0, source="manual"),  # drawn by hand: an edit
            annotation("rejected", 3.0, source="manual"),  # drawn, then thrown away: not one
        ],
        plane=PlaneCall("head", 0.7, status="edited"),
    )
    assert image_stats(found) == ImageStats(time_s=9.5, edits=3, decisions=6)
    assert image_stats(Proposal(10, 10)) == ImageStats(0.0, 0, 0)


def test_summary_is_over_the_images_with_a_decision() -> None:
    summary = summarise([ImageStats(10.0, 1, 2), ImageStats(30.0, 0, 1), ImageStats(0.0, 0, 0)])
    assert (summary.images, summary.reviewed) == (3, 2)
    assert summary.total_time_s == 40.0
    assert summary.median_time_s == 20.0
    assert summary.mean_edits == 0.5
    expected = "2 of 3 images reviewed in 0.7 min · median 20 s/image · 0.5 edits/image"
    assert summary.text() == expected
    empty = summarise([ImageStats(0.0, 0, 0)])
    assert empty.median_time_s is None
    assert empty.text() == "0 of 1 images reviewed"


def test_dataset_summary_reads_the_saved_provenance(tmp_path: Path) -> None:
    dataset = Dataset.open(tmp_path / "dataset", annotator="ana")
    for value, spent in ((1, 6.0), (2, 12.0)):
        found = Proposal(10, 10, annotations=[annotation("edited", spent)])
        pixels = np.full((10, 10), value, dtype=np.uint8)
        dataset.save(ImageRecord(f"scan{value}", 10, 10), pixels, found)
    reopened = Dataset.open(tmp_path / "dataset")
    summary = dataset_summary(reopened)
    assert (summary.reviewed, summary.total_time_s, summary.mean_edits) == (2, 18.0, 1.0)
    assert summary.median_time_s == pytest.approx(9.0)
