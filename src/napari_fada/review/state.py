"""Where a person stands in a review: saved in the dataset folder, so reopening continues there.

``review_state.json`` holds the image in view, the sort order, the status filter and the folder
compared with. It is only a convenience: a missing or unreadable file gives the defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from napari_fada.core.atomic import write_json_atomic
from napari_fada.errors import DatasetError
from napari_fada.review.queue import IMAGE_STATUSES, SORT_ORDERS, ImageStatus, SortOrder

STATE_FILE = "review_state.json"


@dataclass
class ReviewState:
    current: str | None = None
    order: SortOrder = "dataset"
    status_filter: ImageStatus | None = None
    compare_to: str | None = None

    @classmethod
    def load(cls, root: Path) -> ReviewState:
        try:
            data = json.loads((Path(root) / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        state = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        return state if state._valid() else cls()

    def _valid(self) -> bool:
        texts = (self.current, self.compare_to)
        return (
            all(t is None or isinstance(t, str) for t in texts)
            and self.order in SORT_ORDERS
            and (self.status_filter is None or self.status_filter in IMAGE_STATUSES)
        )

    def save(self, root: Path) -> None:
        """Write atomically; DatasetError when the folder cannot be written."""
        document: dict[str, Any] = asdict(self)
        try:
            write_json_atomic(Path(root) / STATE_FILE, document)
        except OSError as error:
            raise DatasetError(
                f"Could not save the review position in {root}: {error.strerror or error}. "
                "Check that the folder is writable; the labels are saved separately."
            ) from error
