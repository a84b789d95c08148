"""YOLO labels: segment polygons in labels/, boxes in labels-detect/, classes in data.yaml.

Class index = ``structure_id(label) - 1`` over FADA's 36 structures. Labels outside the
vocabulary have no YOLO class and are left out of these files (they stay in COCO and the
annotation files). Coordinates are normalized to 0..1 and clamped.
"""

from __future__ import annotations

from napari_fada.core.fada_format import annotation_box
from napari_fada.core.geometry import clamp_box
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.core.vocabulary import STRUCTURES, structure_id

SEGMENT_DIR = "labels"
DETECT_DIR = "labels-detect"


def data_yaml() -> str:
    """Ultralytics' dataset file; both splits point at images/ (split by the manifest instead)."""
    names = "".join(f"  {structure_id(n) - 1}: {n}\n" for n in STRUCTURES)
    return f"path: .\ntrain: images\nval: images\nnc: {len(STRUCTURES)}\nnames:\n{names}"


def _class_index(annotation: Annotation) -> int | None:
    return structure_id(annotation.label) - 1 if annotation.label in STRUCTURES else None


def _unit(value: float, extent: int) -> str:
    return f"{min(max(value / extent, 0.0), 1.0):.6f}"


def segment_labels(proposal: Proposal) -> str:
    """``cls x1 y1 x2 y2 ...`` per kept polygon, one line each."""
    lines = []
    for annotation in proposal.kept():
        index = _class_index(annotation)
        if index is None or not annotation.polygon or len(annotation.polygon) < 3:
            continue
        coords = " ".join(
            f"{_unit(x, proposal.width)} {_unit(y, proposal.height)}" for x, y in annotation.polygon
        )
        lines.append(f"{index} {coords}\n")
    return "".join(lines)


def detect_labels(proposal: Proposal) -> str:
    """``cls cx cy w h`` per kept annotation with a box (given or around its geometry)."""
    lines = []
    for annotation in proposal.kept():
        index = _class_index(annotation)
        box = annotation_box(annotation)
        if index is None or box is None:
            continue
        w, h = proposal.width, proposal.height
        x0, y0, x1, y1 = clamp_box(box, w, h)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        fields = [_unit(cx, w), _unit(cy, h), _unit(x1 - x0, w), _unit(y1 - y0, h)]
        lines.append(f"{index} {' '.join(fields)}\n")
    return "".join(lines)
