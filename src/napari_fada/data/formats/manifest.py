"""manifest.csv: the shared layout's columns, then ours (see docs/dataset-format.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.core.vocabulary import structure_id
from napari_fada.data.formats.csv_text import render_csv

SHARED_COLUMNS: tuple[str, ...] = (
    "id", "image", "mask", "source_dataset", "source_file", "subject", "split", "plane",
    "fada_plane_label", "width", "height", "pixel_size_mm", "head_circumference_mm", "structures",
)  # fmt: skip
EXTRA_COLUMNS: tuple[str, ...] = (
    "sha256", "clip_id", "frame_index", "plane_score", "plane_source", "n_accepted",
    "n_rejected", "bpd_mm", "ofd_mm", "ga_weeks", "updated",
)  # fmt: skip
MANIFEST_COLUMNS: tuple[str, ...] = SHARED_COLUMNS + EXTRA_COLUMNS

#: Proposal.biometry key of the head circumference.
HC_KEY = "hc_mm"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _pixel_size(record: ImageRecord) -> float | None:
    """The shared layout has one pixel size: written only for square pixels."""
    spacing = record.pixel_spacing_mm
    return float(spacing[0]) if spacing and spacing[0] == spacing[1] else None


def manifest_row(record: ImageRecord, proposal: Proposal, updated: str) -> dict[str, str]:
    """``plane`` is the interpretation's imaging-plane text; ``fada_plane_label`` and the other
    plane columns come from a kept (accepted or edited) plane call only: they are ground truth.
    ``n_accepted`` counts accepted and edited annotations."""
    kept = proposal.kept()
    plane = proposal.plane
    plane = plane if plane is not None and plane.status in ("accepted", "edited") else None
    described = (proposal.interpretation or {}).get("imaging_plane")
    values: dict[str, object] = {
        "id": record.image_id,
        "image": f"images/{record.image_id}.png",
        "mask": f"masks/{record.image_id}.png",
        "source_dataset": record.source_dataset,
        "source_file": record.source_path,
        "subject": None,
        "split": record.split,
        "plane": described if isinstance(described, str) else None,
        "fada_plane_label": plane.label if plane else None,
        "width": record.width,
        "height": record.height,
        "pixel_size_mm": _pixel_size(record),
        "head_circumference_mm": proposal.biometry.get(HC_KEY),
        "structures": ";".join(sorted({a.label for a in kept}, key=structure_id)),
        "sha256": record.sha256,
        "clip_id": record.clip_id,
        "frame_index": record.frame_index,
        "plane_score": plane.score if plane else None,
        "plane_source": plane.source if plane else None,
        "n_accepted": len(kept),
        "n_rejected": sum(1 for a in proposal.annotations if a.status == "rejected"),
        "bpd_mm": proposal.biometry.get("bpd_mm"),
        "ofd_mm": proposal.biometry.get("ofd_mm"),
        "ga_weeks": proposal.biometry.get("ga_weeks"),
        "updated": updated,
    }
    return {column: _text(values[column]) for column in MANIFEST_COLUMNS}


def render_manifest(rows: Iterable[Mapping[str, str]]) -> str:
    return render_csv(MANIFEST_COLUMNS, ([row[c] for c in MANIFEST_COLUMNS] for row in rows))
