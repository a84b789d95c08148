"""The images of a labelled folder in another tool's format, with their labels."""

from __future__ import annotations

from pathlib import Path

from napari_fada.data.dataset import is_saved_dataset
from napari_fada.data.importers.coco import find_coco, read_coco
from napari_fada.data.importers.label_png import is_label_png, read_label_png
from napari_fada.data.importers.labelled import LabelledImage
from napari_fada.data.importers.yolo import is_yolo, read_yolo
from napari_fada.errors import DatasetError


def labelled_images(folder: Path) -> list[LabelledImage]:
    """The images of a label-PNG, YOLO or COCO folder (tried in that order), in file order."""
    folder = Path(folder)
    if is_saved_dataset(folder):
        raise DatasetError(f"{folder} is a napari-fada dataset: open it as it is, not imported.")
    if is_label_png(folder):
        return read_label_png(folder)
    if is_yolo(folder):
        return read_yolo(folder)
    found = find_coco(folder)
    if found is not None:
        return read_coco(folder, *found)
    raise DatasetError(
        f"{folder} is not a labelled folder this plugin reads. Open a napari-fada dataset, a "
        "COCO JSON with its images, a YOLO folder (images/ and labels/) or a label-PNG folder "
        "(images/ and masks/ with labels.json)."
    )
