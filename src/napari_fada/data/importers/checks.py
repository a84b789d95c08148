"""What an importer accepts from another tool's files: paths inside the source folder, whole
numbers as ids, and finite geometry inside the image.

A path that leads out of the source folder (``../``, an absolute path, a symbolic link to
elsewhere) is refused with a DatasetError naming it: importing never copies a file from outside
the folder the user chose. Geometry is clamped to the image; an annotation left with nothing
(non-finite or empty box, no polygon or keypoint inside the image) is dropped, and the image's
proposal lists what was dropped or clamped in its ``issues``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from napari_fada.core.geometry import clamp_box, clamp_point, polygon_box
from napari_fada.core.proposal import Annotation, Box
from napari_fada.errors import DatasetError


def inside(folder: Path, path: Path) -> bool:
    """Whether ``path``, symbolic links followed, is ``folder`` or under it."""
    root, target = folder.resolve(), path.resolve()
    return target == root or root in target.parents


def refuse_outside(folder: Path, path: Path, named_in: Path) -> Path:
    """``path`` if it lies inside ``folder``, else a DatasetError saying where it leads."""
    if not inside(folder, path):
        raise DatasetError(
            f"{named_in} names {path}, which leads outside {folder} (to {path.resolve()}): only "
            "files inside the folder being imported are read. Copy the file into it, or remove "
            "the reference."
        )
    return path


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is one (a whole finite float too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return None


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _box(box: Box | None, width: int, height: int) -> Box | None:
    if box is None or not _finite(*box) or box[2] <= box[0] or box[3] <= box[1]:
        return None
    clamped = clamp_box(box, width, height)
    return clamped if clamped[2] > clamped[0] and clamped[3] > clamped[1] else None


def checked_annotation(
    annotation: Annotation, width: int, height: int
) -> tuple[Annotation | None, str | None]:
    """The annotation with its geometry inside the image, or None; and a note of any change."""
    polygon = annotation.polygon
    if polygon is not None:
        points = [clamp_point(x, y, width, height) for x, y in polygon if _finite(x, y)]
        polygon = points if len(points) >= 3 and _box(polygon_box(points), width, height) else None
    keypoints = annotation.keypoints
    if keypoints is not None:
        keypoints = [
            (*clamp_point(x, y, width, height), v) for x, y, v in keypoints if _finite(x, y, v)
        ] or None
    box = _box(annotation.box, width, height)
    if box is None and polygon is not None:
        box = polygon_box(polygon)
    score = annotation.score
    if score is not None and not (_finite(score) and 0.0 <= score <= 1.0):
        score = None
    checked = replace(annotation, box=box, polygon=polygon, keypoints=keypoints, score=score)
    if box is None and keypoints is None:
        return None, f"dropped a {annotation.label} with no finite geometry inside the image"
    if checked != annotation:
        return checked, f"clamped the {annotation.label} to the image, invalid values left out"
    return checked, None
