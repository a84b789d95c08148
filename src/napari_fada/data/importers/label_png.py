"""Label-PNG folders: ``images/`` and ``masks/`` (one label value per structure) with labels.json.

This is the shared data layout; with a ``manifest.csv`` its plane class, pixel size, split and
source come along, without one images and masks pair by file name. Each connected region of a
mask becomes a polygon (traced exactly, as :func:`shared_layout.reference_proposal` does).
Without ``labels.json``, label values are FADA structure ids.
"""

from __future__ import annotations

from pathlib import Path

from napari_fada.core.proposal import Annotation
from napari_fada.core.vocabulary import STRUCTURES, structure_id
from napari_fada.data.importers.checks import refuse_outside
from napari_fada.data.importers.labelled import LabelledImage, LabelReader, image_files
from napari_fada.data.shared_layout import (
    ReferenceSample,
    iter_reference,
    read_structures,
    reference_proposal,
)

LABEL_PNG_SOURCE = "label-png-import"


def is_label_png(folder: Path) -> bool:
    return (folder / "images").is_dir() and (folder / "masks").is_dir()


def _paired(folder: Path) -> list[ReferenceSample]:
    if (folder / "labels.json").is_file():
        structures = read_structures(folder)
    else:
        structures = {structure_id(name): name for name in STRUCTURES}
    samples = []
    for path in image_files(folder / "images").values():
        mask = folder / "masks" / f"{path.stem}.png"
        if mask.is_file():
            samples.append(
                ReferenceSample(
                    image_id=path.stem,
                    image_path=path,
                    mask_path=mask,
                    structures=structures,
                    width=None,
                    height=None,
                    plane="",
                    fada_plane_label="",
                    pixel_spacing_mm=None,
                    head_circumference_mm=None,
                    split="",
                    source_dataset="",
                    source_file="",
                )
            )
    return samples


def _reader(sample: ReferenceSample) -> LabelReader:
    def read(width: int, height: int) -> list[Annotation]:
        return reference_proposal(sample).annotations

    return read


def read_label_png(folder: Path) -> list[LabelledImage]:
    """The folder's images and masks; DatasetError for a manifest path leading outside it."""
    manifest = folder / "manifest.csv"
    samples = list(iter_reference(folder)) if manifest.is_file() else _paired(folder)
    for sample in samples:
        for path in (sample.image_path, sample.mask_path):
            if path is not None:  # a plane-only row has no mask
                refuse_outside(folder, path, manifest)
    return [
        LabelledImage(
            image_id=sample.image_id,
            image_path=sample.image_path,
            source=LABEL_PNG_SOURCE,
            read_labels=_reader(sample),
            plane=sample.fada_plane_label or None,
            pixel_spacing_mm=sample.pixel_spacing_mm,
            split=sample.split or None,
            source_dataset=sample.source_dataset or None,
        )
        for sample in samples
    ]
