"""How much two sets of labels of one image disagree: two models, or a model and existing labels.

Each structure present on either side counts once, by the IoU of its regions (polygons, or boxes
for box-only annotations) rasterized with the metrics code of ``evaluate``; a structure on one
side only has IoU 0. A plane class on both sides counts once more, 1 when they agree. Rejected
annotations do not count. Disagreement is 1 minus the mean of those agreements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from napari_fada.core.metrics import mask_iou, rasterize, scored
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.data.dataset import is_saved_dataset, pixel_sha256
from napari_fada.data.formats.annotation_file import read_annotation_file
from napari_fada.data.importers.formats import labelled_images
from napari_fada.errors import DatasetError


def _region(annotation: Annotation) -> Annotation:
    """The annotation with its box as polygon when it has no polygon of its own."""
    if (annotation.polygon and len(annotation.polygon) >= 3) or annotation.box is None:
        return annotation
    x0, y0, x1, y1 = annotation.box
    return replace(annotation, polygon=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def disagreement(ours: Proposal, theirs: Proposal) -> float:
    """0 when both label the image the same way, 1 when they share nothing."""
    mine = [_region(a) for a in scored(ours.annotations)]
    other = [_region(a) for a in scored(theirs.annotations)]
    labels = sorted({a.label for a in mine} | {a.label for a in other})
    agreements = [
        mask_iou(
            rasterize(mine, label, ours.width, ours.height),
            rasterize(other, label, theirs.width, theirs.height),
        )
        for label in labels
    ]
    if ours.plane is not None and theirs.plane is not None:
        agreements.append(float(ours.plane.label == theirs.plane.label))
    return 1.0 - sum(agreements) / len(agreements) if agreements else 0.0


@dataclass
class Comparison:
    """The labels of another folder, found for an image by its pixels, else by its id."""

    folder: Path
    by_sha256: dict[str, Proposal] = field(default_factory=dict)
    by_id: dict[str, Proposal] = field(default_factory=dict)

    def add(self, record: ImageRecord, proposal: Proposal) -> None:
        self.by_sha256[record.sha256] = proposal
        self.by_id[record.image_id] = proposal

    def find(self, record: ImageRecord) -> Proposal | None:
        found = self.by_sha256.get(record.sha256)
        return found if found is not None else self.by_id.get(record.image_id)

    def __len__(self) -> int:
        return len(self.by_id)


def _dataset_labels(folder: Path) -> Iterable[tuple[ImageRecord, Proposal]]:
    for path in sorted((folder / "annotations").glob("*.json")):
        stored = read_annotation_file(path)
        yield stored.record, stored.proposal


def _foreign_labels(folder: Path) -> Iterable[tuple[ImageRecord, Proposal]]:
    for item in labelled_images(folder):
        pixels = item.pixels()
        record = ImageRecord(item.image_id, pixels.shape[1], pixels.shape[0], pixel_sha256(pixels))
        yield record, item.proposal(record.width, record.height)


def load_comparison(folder: str | Path) -> Comparison:
    """The labels of ``folder``: a napari-fada dataset, or COCO / YOLO / label-PNG with images."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder: choose a labelled folder to compare with.")
    ours = is_saved_dataset(folder)
    comparison = Comparison(folder)
    for record, proposal in (_dataset_labels if ours else _foreign_labels)(folder):
        comparison.add(record, proposal)
    if not comparison:
        raise DatasetError(f"{folder} holds no labelled images to compare with.")
    return comparison
