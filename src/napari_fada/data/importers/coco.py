"""COCO instances JSON with its images: boxes, polygons, keypoints, scores, plane attribute.

The JSON is a ``*.json`` in the folder or in its ``annotations/`` with ``images`` and
``annotations``; image files are found at ``file_name`` relative to the folder, to the JSON, or
to ``images/``, else by their file name anywhere in the folder; never outside the folder. A
multi-part polygon keeps its largest part and an RLE mask only its box; the annotation's flags say
so. Ids must be whole numbers; an image id given to two files is refused, and a file listed under
two ids gets the annotations of both.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from napari_fada.core.geometry import polygon_area
from napari_fada.core.proposal import Annotation, Point
from napari_fada.data.importers.checks import refuse_outside, whole_number
from napari_fada.data.importers.labelled import (
    LabelledImage,
    LabelReader,
    image_files,
    malformed,
)
from napari_fada.errors import DatasetError

COCO_SOURCE = "coco-import"


def find_coco(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The first COCO instances file of ``folder`` and its content, None if it has none."""
    for path in [*sorted(folder.glob("*.json")), *sorted((folder / "annotations").glob("*.json"))]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue  # not JSON, or nested too deep to be a COCO file
        if isinstance(data, dict) and "images" in data and "annotations" in data:
            return path, data
    return None


def _pairs(values: list[float]) -> list[Point]:
    return [(float(values[i]), float(values[i + 1])) for i in range(0, len(values) - 1, 2)]


def _id(value: Any, what: str) -> int:
    number = whole_number(value)
    if number is None:
        raise ValueError(f"the {what} {str(value)[:40]!r} is not a whole number")
    return number


def _annotation(entry: dict[str, Any], names: dict[int, str]) -> Annotation:
    x, y, w, h = (float(v) for v in entry["bbox"])
    flags: list[str] = []
    polygon = None
    segmentation = entry.get("segmentation") or []
    if isinstance(segmentation, dict):
        flags.append("coco_rle_mask_not_imported")
    elif segmentation:
        parts = [_pairs(part) for part in segmentation if len(part) >= 6]
        polygon = max(parts, key=polygon_area) if parts else None
        if len(parts) > 1:
            flags.append("coco_polygon_parts_dropped")
    values = entry.get("keypoints") or []
    keypoints = [
        (float(values[i]), float(values[i + 1]), float(values[i + 2]))
        for i in range(0, len(values) - 2, 3)
    ]
    score = entry.get("score")
    category = _id(entry["category_id"], "category_id")
    return Annotation(
        label=names.get(category, str(category)),
        box=(x, y, x + w, y + h),
        polygon=polygon,
        keypoints=keypoints or None,
        score=float(score) if score is not None else None,
        flags=flags,
    )


def _given(annotations: list[Annotation]) -> LabelReader:
    """COCO's coordinates are pixels: the labels do not depend on the image size."""

    def read(width: int, height: int) -> list[Annotation]:
        return list(annotations)

    return read


def _locate(file_name: str, folder: Path, json_path: Path, by_name: dict[str, Path]) -> Path:
    for base in (folder, json_path.parent, folder / "images"):
        if (base / file_name).is_file():
            return refuse_outside(folder, base / file_name, json_path)
    found = by_name.get(Path(file_name).name)
    if found is None:
        raise DatasetError(
            f"{json_path} lists the image {file_name}, which is not in {folder}: put the images "
            "beside the JSON or in images/, then open the folder again."
        )
    return found


def _images(entries: list[Any]) -> dict[str, tuple[list[int], dict[str, Any]]]:
    """Each file name with its image ids and first entry; ValueError for an id on two files."""
    files: dict[str, tuple[list[int], dict[str, Any]]] = {}
    owners: dict[int, str] = {}
    for entry in entries:
        image_id, file_name = _id(entry["id"], "image id"), entry["file_name"]
        if not isinstance(file_name, str) or not file_name:
            raise ValueError(f"image {image_id} has no file_name")
        if owners.setdefault(image_id, file_name) != file_name:
            raise ValueError(
                f"the image id {image_id} is given to both {owners[image_id]} and {file_name}: "
                "ids must be unique, or the annotations cannot be told apart"
            )
        ids, _ = files.setdefault(file_name, ([], entry))
        if image_id not in ids:
            ids.append(image_id)
    return files


def read_coco(folder: Path, json_path: Path, data: dict[str, Any]) -> list[LabelledImage]:
    try:
        names = {_id(c["id"], "category id"): str(c["name"]) for c in data.get("categories", [])}
        by_image: dict[int, list[Annotation]] = defaultdict(list)
        for entry in data["annotations"]:
            by_image[_id(entry["image_id"], "image_id")].append(_annotation(entry, names))
        files = _images(data["images"])
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise malformed(json_path, f"{type(error).__name__}: {error}") from error
    by_name = {p.name: p for p in image_files(folder).values()}
    return [
        LabelledImage(
            image_id=Path(file_name).stem,
            image_path=_locate(file_name, folder, json_path, by_name),
            source=COCO_SOURCE,
            read_labels=_given([a for image_id in ids for a in by_image[image_id]]),
            plane=entry.get("plane") or None,
            split=entry.get("split") or None,
        )
        for file_name, (ids, entry) in files.items()
    ]
