"""CSV text from rows, and CSV files back to rows, the same way for every CSV we write."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from napari_fada.errors import DatasetError


def render_csv(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv(path: Path, required: Sequence[str] = ()) -> list[dict[str, str]]:
    """Rows of a CSV file with a header; DatasetError when unreadable or missing ``required``."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [{k: v or "" for k, v in row.items() if k is not None} for row in reader]
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"Cannot read {path}: {error}. Check the file or restore it.") from error
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(
            f"{path} lacks the column(s) {', '.join(missing)}: it is not a manifest of this layout."
        )
    return rows
