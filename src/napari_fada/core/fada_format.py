"""Our data model written as FADA's JSON answers, and JSON schemas of those answers.

The answer text is what the model is trained to emit (``fada-contract.md``): coordinates
normalized to 0..1000 of the image's width and height, rounded to integers and clamped. It is
used for fine-tuning samples and, through :func:`answer_schema`, for constrained decoding.
The caller chooses which annotations to write (typically :meth:`Proposal.kept`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from napari_fada.core import strict_json
from napari_fada.core.geometry import NORM, polygon_box, px_to_norm
from napari_fada.core.proposal import Annotation, Box
from napari_fada.core.vocabulary import (
    INTERPRETATION_KEYS,
    KEYPOINT_STRUCTURES,
    PLANE_LABELS,
    STRUCTURES,
)
from napari_fada.errors import DatasetError, FadaError

ANSWER_PHASES: tuple[str, ...] = ("interpret", "classify", "detect", "segment")
_LIMIT = int(NORM)


def _dumps(value: Any) -> str:
    return strict_json.dumps(value, ensure_ascii=False)


def _norm_int(value: float) -> int:
    return min(max(round(value), 0), _LIMIT)


def _norm_point(x: float, y: float, width: int, height: int) -> list[int]:
    nx, ny = px_to_norm(x, y, width, height)
    return [_norm_int(nx), _norm_int(ny)]


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise FadaError(f"Cannot write coordinates for an image of {width} x {height} pixels.")


def annotation_box(annotation: Annotation) -> Box | None:
    """The annotation's box, or the one around its polygon or keypoints when it has none."""
    if annotation.box is not None:
        return annotation.box
    if annotation.polygon:
        return polygon_box(annotation.polygon)
    if annotation.keypoints:
        return polygon_box([(x, y) for x, y, _ in annotation.keypoints])
    return None


def _norm_box(box: Box, width: int, height: int) -> list[int]:
    return _norm_point(box[0], box[1], width, height) + _norm_point(box[2], box[3], width, height)


def _has_distinct_vertices(points: Sequence[Sequence[int]], count: int = 3) -> bool:
    return len({tuple(p) for p in points}) >= count


def _detect_item(annotation: Annotation, width: int, height: int) -> dict[str, Any] | None:
    box = annotation_box(annotation)
    if box is None:
        return None
    return {"bbox_2d": _norm_box(box, width, height), "label": annotation.label}


def _has_area(item: dict[str, Any]) -> bool:
    x0, y0, x1, y1 = item["bbox_2d"]
    return x1 > x0 and y1 > y0


def _segment_item(annotation: Annotation, width: int, height: int) -> dict[str, Any] | None:
    item = _detect_item(annotation, width, height)
    if item is None:
        return None
    if annotation.keypoints and (annotation.label in KEYPOINT_STRUCTURES or not annotation.polygon):
        item["keypoints"] = [
            [*_norm_point(x, y, width, height), round(v)] for x, y, v in annotation.keypoints
        ]
        return item
    if not annotation.polygon:
        return None
    mask = [_norm_point(x, y, width, height) for x, y in annotation.polygon]
    if not _has_distinct_vertices(mask):
        return None
    item["mask"] = mask
    return item


def classify_answer(plane_label: str) -> str:
    return _dumps({"label": plane_label})


def detect_answer(annotations: Iterable[Annotation], width: int, height: int) -> str:
    """A DETECT answer: every annotation with a box (given or derived from its geometry).

    Boxes without area at 0..1000 resolution (such as the box around two keypoints on one
    line) are not detections and are left out.
    """
    _check_size(width, height)
    items = [_detect_item(a, width, height) for a in annotations]
    return _dumps([i for i in items if i is not None and _has_area(i)])


def segment_answer(annotations: Iterable[Annotation], width: int, height: int) -> str:
    """A SEGMENT answer: annotations with a polygon ("mask") or, for keypoint classes, keypoints.

    Annotations with a box only, or whose polygon collapses to fewer than 3 distinct vertices at
    0..1000 resolution, have no segment answer (they still appear in :func:`detect_answer`).
    """
    _check_size(width, height)
    items = [_segment_item(a, width, height) for a in annotations]
    return _dumps([i for i in items if i is not None])


def interpret_answer(interpretation: Mapping[str, Any]) -> str:
    """An INTERPRET answer: exactly the eight keys, in the contract's order."""
    keys = set(interpretation)
    missing = [k for k in INTERPRETATION_KEYS if k not in keys]
    extra = sorted(keys - set(INTERPRETATION_KEYS))
    if missing or extra:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unexpected {', '.join(extra)}"] if extra else []
        raise DatasetError(
            f"The interpretation must have exactly FADA's eight keys ({'; '.join(problems)}): "
            "complete or rename its fields before exporting it."
        )
    return _dumps({k: interpretation[k] for k in INTERPRETATION_KEYS})


_COORDINATE = {"type": "integer", "minimum": 0, "maximum": _LIMIT}
_VISIBILITY = {"type": "integer", "minimum": 0, "maximum": 2}


def _tuple_schema(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    size = len(items)
    return {"type": "array", "prefixItems": list(items), "minItems": size, "maxItems": size}


_GEOMETRY_SCHEMAS: dict[str, dict[str, Any]] = {
    "bbox_2d": _tuple_schema([_COORDINATE] * 4),
    "mask": {"type": "array", "items": _tuple_schema([_COORDINATE] * 2), "minItems": 3},
    "keypoints": {
        "type": "array",
        "items": _tuple_schema([_COORDINATE, _COORDINATE, _VISIBILITY]),
        "minItems": 1,
    },
}


def _item_schema(labels: Sequence[str], geometry: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "bbox_2d": _GEOMETRY_SCHEMAS["bbox_2d"],
        "label": {"enum": list(labels)},
    }
    if geometry is not None:
        properties[geometry] = _GEOMETRY_SCHEMAS[geometry]
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def answer_schema(phase: str, structures: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON schema (draft 2020-12) of a phase's answer, for validation and constrained decoding.

    ``structures`` narrows the labels that detect and segment answers may use.
    """
    if phase == "interpret":
        value = {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]}
        return {
            "type": "object",
            "properties": {k: value for k in INTERPRETATION_KEYS},
            "required": list(INTERPRETATION_KEYS),
            "additionalProperties": False,
        }
    if phase == "classify":
        return {
            "type": "object",
            "properties": {"label": {"enum": list(PLANE_LABELS)}},
            "required": ["label"],
            "additionalProperties": False,
        }
    labels = list(dict.fromkeys(structures)) if structures else list(STRUCTURES)
    if phase == "detect":
        return {"type": "array", "items": _item_schema(labels, None)}
    if phase == "segment":
        keypoint_labels = [s for s in labels if s in KEYPOINT_STRUCTURES]
        mask_labels = [s for s in labels if s not in KEYPOINT_STRUCTURES]
        variants = [_item_schema(mask_labels, "mask")] if mask_labels else []
        variants += [_item_schema(keypoint_labels, "keypoints")] if keypoint_labels else []
        items = variants[0] if len(variants) == 1 else {"anyOf": variants}
        return {"type": "array", "items": items}
    raise FadaError(f"No answer format for phase {phase!r}: use one of {', '.join(ANSWER_PHASES)}.")
