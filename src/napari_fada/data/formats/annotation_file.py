"""annotations/<image_id>.json, the source of truth of one image: record, proposal, provenance."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.data.formats.provenance import provenance
from napari_fada.errors import DatasetError


def encode_annotation_file(record: ImageRecord, proposal: Proposal, saved: str) -> dict[str, Any]:
    return {
        "record": asdict(record),
        "proposal": proposal.to_dict(),
        "provenance": [provenance(a, record, proposal) for a in proposal.annotations],
        "saved": saved,
    }


def record_from_dict(data: dict[str, Any]) -> ImageRecord:
    data = dict(data)
    if data.get("pixel_spacing_mm") is not None:
        row, col = data["pixel_spacing_mm"]
        data["pixel_spacing_mm"] = (float(row), float(col))
    known = ImageRecord.__dataclass_fields__
    return ImageRecord(**{k: v for k, v in data.items() if k in known})


def read_annotation_file(path: Path) -> tuple[ImageRecord, Proposal, str]:
    """Record, proposal and save time of one file; DatasetError naming a corrupt file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = record_from_dict(data["record"])
        return record, Proposal.from_dict(data["proposal"]), str(data.get("saved", ""))
    except FileNotFoundError as error:
        raise DatasetError(f"No annotation file {path}: the image was never saved.") from error
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(
            f"The annotation file {path} is corrupt ({type(error).__name__}: {error}). "
            "Restore it from a backup or delete it to annotate that image again; "
            "the other images are unaffected."
        ) from error
