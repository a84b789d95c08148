"""planes.csv: one row per image with a plane call, whatever its review status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.data.formats.csv_text import render_csv

PLANE_COLUMNS: tuple[str, ...] = ("image_id", "plane_label", "score", "source", "status")


def plane_row(record: ImageRecord, proposal: Proposal) -> list[str] | None:
    plane = proposal.plane
    if plane is None:
        return None
    score = "" if plane.score is None else repr(float(plane.score))
    return [record.image_id, plane.label, score, plane.source, plane.status]


def render_planes(rows: Iterable[Sequence[str]]) -> str:
    return render_csv(PLANE_COLUMNS, rows)
