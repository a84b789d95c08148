"""YOLO detect or segment labels: ``images/`` and ``labels/`` side by side, splits nested alike.

Each ``labels/<path>.txt`` holds one object a line: ``cls cx cy w h [confidence]`` for a box or
``cls x1 y1 x2 y2 ...`` for a polygon, in fractions of the image size. Class names come from a
``*.yaml`` with ``names`` (Ultralytics), else ``classes.txt``, else FADA's vocabulary, whose
structure ``i`` is class ``i - 1`` as in the datasets this plugin writes. An image without a
label file has no objects. Classes must be whole numbers and coordinates finite; boxes are
clamped to the image (:mod:`checks`).
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from napari_fada.core.geometry import polygon_box
from napari_fada.core.proposal import Annotation
from napari_fada.core.vocabulary import STRUCTURES
from napari_fada.data.importers.checks import whole_number
from napari_fada.data.importers.labelled import LabelledImage, image_files, malformed

YOLO_SOURCE = "yolo-import"
_SPLITS = {"train": "train", "val": "val", "valid": "val", "test": "test"}


def is_yolo(folder: Path) -> bool:
    return (folder / "images").is_dir() and any((folder / "labels").rglob("*.txt"))


def _yaml_names(path: Path) -> dict[int, str] | None:
    try:
        names = yaml.safe_load(path.read_text(encoding="utf-8")).get("names")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError, RecursionError):
        return None
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        numbers = {whole_number(i): str(n) for i, n in names.items()}
        if None in numbers:
            raise malformed(path, "the keys of names must be class numbers (0: head)")
        return {i: n for i, n in numbers.items() if i is not None}
    return None


def class_names(folder: Path) -> dict[int, str]:
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        names = _yaml_names(path)
        if names is not None:
            return names
    classes = folder / "classes.txt"
    if classes.is_file():
        lines = classes.read_text(encoding="utf-8").splitlines()
        return {i: name.strip() for i, name in enumerate(lines) if name.strip()}
    return dict(enumerate(STRUCTURES))


def _object(words: list[str], names: dict[int, str], width: int, height: int) -> Annotation:
    number = whole_number(words[0])
    if number is None:
        raise ValueError(f"the class {words[0][:20]!r} is not a whole number")
    label = names.get(number, str(number))
    coords = [float(v) for v in words[1:]]
    if not all(math.isfinite(v) for v in coords):
        raise ValueError("a coordinate is not a finite number")
    if len(coords) in (4, 5):
        cx, cy, w, h = coords[0] * width, coords[1] * height, coords[2] * width, coords[3] * height
        score = coords[4] if len(coords) == 5 else None
        return Annotation(label, box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), score=score)
    if len(coords) >= 6 and len(coords) % 2 == 0:
        polygon = [(coords[i] * width, coords[i + 1] * height) for i in range(0, len(coords), 2)]
        return Annotation(label, box=polygon_box(polygon), polygon=polygon)
    raise ValueError(f"{len(coords)} numbers after the class; a box has 4 (or 5), a polygon 6+")


def read_objects(path: Path, names: dict[int, str], width: int, height: int) -> list[Annotation]:
    """The objects of one label file; DatasetError naming the file and line when malformed."""
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise malformed(path, f"not a text file: {error}") from error
    objects = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            objects.append(_object(line.split(), names, width, height))
        except ValueError as error:
            raise malformed(path, f"line {number}: {error}") from error
    return objects


def _split(relative: str) -> str | None:
    first = relative.split("/", 1)[0]
    return _SPLITS.get(first) if "/" in relative else None


def read_yolo(folder: Path) -> list[LabelledImage]:
    names = class_names(folder)
    items = []
    for relative, path in image_files(folder / "images").items():
        labels = (folder / "labels" / relative).with_suffix(".txt")

        def read(width: int, height: int, labels: Path = labels) -> list[Annotation]:
            return read_objects(labels, names, width, height)

        items.append(LabelledImage(path.stem, path, YOLO_SOURCE, read, split=_split(relative)))
    return items
