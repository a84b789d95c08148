"""Converting a labelled folder (COCO, YOLO, label PNG) into a napari-fada dataset to review.

An image already in the target dataset (same pixels) is skipped, never overwritten: importing
again resumes an interrupted import and cannot undo review work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from napari_fada.data.dataset import Dataset, make_record
from napari_fada.data.importers.formats import labelled_images
from napari_fada.errors import DatasetError


def import_steps(
    source: str | Path, target: str | Path, annotator: str | None = None
) -> Iterator[tuple[int, int]]:
    """Write each image of ``source`` with its labels, as proposals, into the dataset ``target``,
    yielding (images done, images in all) after each."""
    source, target = Path(source).resolve(), Path(target).resolve()
    if target == source or source in target.parents:
        raise DatasetError(
            f"Import {source} into a folder outside it, not {target}: the source stays as it is."
        )
    items = labelled_images(source)
    dataset = Dataset.open(target, annotator=annotator)
    for done, item in enumerate(items, start=1):
        pixels = item.pixels()
        record = replace(
            make_record(pixels, item.image_path, pixel_spacing_mm=item.pixel_spacing_mm),
            image_id=item.image_id,
            split=item.split,
            source_dataset=item.source_dataset,
        )
        if dataset.find_by_sha256(record.sha256) is None:
            dataset.save(record, pixels, item.proposal(record.width, record.height))
        yield done, len(items)


def import_folder(source: str | Path, target: str | Path, annotator: str | None = None) -> Dataset:
    """:func:`import_steps` run to the end; the dataset it wrote."""
    for _ in import_steps(source, target, annotator):
        pass
    return Dataset.open(Path(target), annotator=annotator)
