"""annotations/<image_id>.json, the source of truth of one image: record, proposal, provenance.

The file also keeps the image's entries of the aggregate files (``exports``: its COCO entries and
fine-tuning samples) so that opening a large dataset need not recompute them. They are written
in the same atomic file as the proposal, so they can never disagree with it, and are ignored
when their :data:`EXPORTS_VERSION` is not the current one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.data.formats.provenance import provenance
from napari_fada.errors import DatasetError

#: Bump whenever what an export holds changes, so that stored exports are recomputed.
EXPORTS_VERSION = 1


@dataclass(frozen=True)
class AnnotationFile:
    record: ImageRecord
    proposal: Proposal
    saved: str
    exports: dict[str, Any] | None


def encode_annotation_file(
    record: ImageRecord, proposal: Proposal, saved: str, exports: dict[str, Any]
) -> dict[str, Any]:
    return {
        "record": asdict(record),
        "proposal": proposal.to_dict(),
        "provenance": [provenance(a, record, proposal) for a in proposal.annotations],
        "saved": saved,
        "exports_version": EXPORTS_VERSION,
        "exports": exports,
    }


def record_from_dict(data: dict[str, Any]) -> ImageRecord:
    data = dict(data)
    if data.get("pixel_spacing_mm") is not None:
        row, col = data["pixel_spacing_mm"]
        data["pixel_spacing_mm"] = (float(row), float(col))
    known = ImageRecord.__dataclass_fields__
    return ImageRecord(**{k: v for k, v in data.items() if k in known})


def read_annotation_file(path: Path) -> AnnotationFile:
    """Parse one annotation file; DatasetError naming the file when it is unreadable or corrupt."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        current = data.get("exports_version") == EXPORTS_VERSION
        return AnnotationFile(
            record=record_from_dict(data["record"]),
            proposal=Proposal.from_dict(data["proposal"]),
            saved=str(data.get("saved", "")),
            exports=data.get("exports") if current else None,
        )
    except FileNotFoundError as error:
        raise DatasetError(f"No annotation file {path}: the image was never saved.") from error
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatasetError(
            f"The annotation file {path} is corrupt ({type(error).__name__}: {error}). "
            "Restore it from a backup or delete it to annotate that image again; "
            "the other images are unaffected."
        ) from error
