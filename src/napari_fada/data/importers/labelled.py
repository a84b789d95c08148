"""One image of a labelled folder in another tool's format, its labels as proposals to review.

Imported labels become "proposed" annotations whose source names the format (``coco-import``...),
so the review queue shows them unreviewed until a person accepts, edits or rejects them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from napari_fada.core.pixels import to_uint8
from napari_fada.core.proposal import Annotation, ModelInfo, PlaneCall, Proposal
from napari_fada.data.image_files import PIL_SUFFIXES, TIFF_SUFFIXES
from napari_fada.data.importers.checks import checked_annotation, refuse_outside
from napari_fada.data.readers import read_file
from napari_fada.errors import DatasetError

IMAGE_SUFFIXES = PIL_SUFFIXES | TIFF_SUFFIXES
IMPORT_BACKEND = "import"

#: Reads an image's labels given its (width, height): YOLO's coordinates are fractions of it.
LabelReader = Callable[[int, int], list[Annotation]]


@dataclass(frozen=True)
class LabelledImage:
    """An image file and how to read its labels, with what the folder says about it."""

    image_id: str
    image_path: Path
    source: str
    read_labels: LabelReader
    plane: str | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    split: str | None = None
    source_dataset: str | None = None

    def pixels(self) -> np.ndarray:
        """The image as a single 8-bit gray or RGB frame; DatasetError for a clip or a stack."""
        loaded = read_file(self.image_path)
        if loaded.is_stack:
            raise DatasetError(
                f"{self.image_path} holds several frames; a labelled folder must hold single "
                "images. Export its frames as images first."
            )
        return to_uint8(np.asarray(loaded.data))

    def proposal(self, width: int, height: int) -> Proposal:
        """The labels as proposals, geometry clamped to the image; what was dropped or changed
        is listed in the proposal's ``issues``."""
        annotations, issues = [], []
        for given in self.read_labels(width, height):
            checked, note = checked_annotation(given, width, height)
            if note is not None:
                issues.append(f"import: {note}")
            if checked is not None:
                annotations.append(replace(checked, source=self.source, status="proposed"))
        plane = PlaneCall(self.plane, source=self.source) if self.plane else None
        model = ModelInfo(model_id=self.source, backend=IMPORT_BACKEND)
        return Proposal(
            width, height, annotations=annotations, plane=plane, model=model, issues=issues
        )


def image_files(folder: Path) -> dict[str, Path]:
    """Image files under ``folder`` (recursively) by their path relative to it, sorted.

    A symbolic link that leads outside ``folder`` raises DatasetError (see :mod:`checks`)."""
    found = (p for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES)
    files = [p for p in found if p.is_file()]
    return {p.relative_to(folder).as_posix(): refuse_outside(folder, p, folder) for p in files}


def malformed(path: Path, what: str) -> DatasetError:
    return DatasetError(f"{path} is malformed ({what}). Fix or remove that file and open again.")
