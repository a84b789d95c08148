"""The items of a DETECT or SEGMENT answer as annotations in pixels, noting every fix.

Items are read from the JSON values :mod:`napari_fada.core.json_repair` found in the answer:
a list of items, a list wrapped in an object, or loose objects. Each item's box, polygon
("mask") and keypoints are checked, repaired where the intent is clear (flipped, out of range,
flat polygon, box missing) and dropped otherwise, with one issue line per decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from napari_fada.core.geometry import (
    NORM,
    box_area,
    box_iou,
    dedupe_points,
    norm_to_px,
    normalize_box,
    polygon_area,
    polygon_box,
)
from napari_fada.core.json_repair import JsonValue
from napari_fada.core.proposal import Annotation, Box, Keypoint, Point
from napari_fada.core.vocabulary import STRUCTURES, canonical_structure

LABEL_KEYS = ("label", "name", "class", "category", "structure")
BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box")
POLYGON_KEYS = ("mask", "polygon")
GEOMETRY_KEYS = frozenset((*BOX_KEYS, *POLYGON_KEYS, "keypoints"))
#: Two items with the same label whose boxes overlap more than this are one structure.
DUPLICATE_IOU = 0.9


def note_repairs(found: JsonValue, issues: list[str]) -> None:
    if found.repairs:
        issues.append(f"repaired: malformed JSON fixed ({', '.join(found.repairs)})")


def read_annotations(
    values: list[JsonValue], width: int, height: int, source: str, issues: list[str]
) -> list[Annotation]:
    """Annotations of the first list of items in ``values`` (or of loose item objects)."""
    reader = _ItemReader(width, height, source, issues)
    return _drop_duplicates(reader.read(values), issues)


_SINGLE = "<single object>"


def _item_list(value: Any) -> tuple[list[Any], str | None] | None:
    """The list of items a value holds, and the key that wrapped it (or ``_SINGLE``)."""
    if isinstance(value, list):
        if not value or any(isinstance(v, dict) for v in value):
            return value, None
        return None
    if isinstance(value, dict):
        if GEOMETRY_KEYS & set(value):
            return [value], _SINGLE
        for key, inner in value.items():
            if isinstance(inner, list) and (not inner or any(isinstance(v, dict) for v in inner)):
                return inner, key
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int) and abs(value) < 2**1023:  # float() of a longer one overflows
        return float(value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def _numbers(value: Any) -> list[float] | None:
    """Finite numbers of a flat or once-nested list; None if anything is not a number."""
    if not isinstance(value, list):
        return None
    flat = [v for part in value for v in part] if all(isinstance(v, list) for v in value) else value
    numbers = [_as_number(v) for v in flat]
    return None if any(n is None for n in numbers) else numbers  # type: ignore[return-value]


def _is_label(value: Any) -> bool:
    text_or_number = isinstance(value, (str, int)) and not isinstance(value, bool)
    return text_or_number and bool(str(value).strip())


def _clamped(value: float) -> float:
    return min(max(value, 0.0), NORM)


class _ItemReader:
    """Turns the items of a detect or segment answer into annotations, noting every fix."""

    def __init__(self, width: int, height: int, source: str, issues: list[str]) -> None:
        self.width, self.height, self.source, self.issues = width, height, source, issues

    def read(self, values: list[JsonValue]) -> list[Annotation]:
        annotations = []
        for item, found in self._items(values):
            if found.is_cut_off(item):
                label = next((item[k] for k in LABEL_KEYS if k in item), "unlabelled")
                self.issues.append(f"truncated: dropped the cut-off last item ({label!r})")
                continue
            annotation = self._annotation(item)
            if annotation is not None:
                annotations.append(annotation)
        return annotations

    def _items(self, values: list[JsonValue]) -> list[tuple[dict[str, Any], JsonValue]]:
        singles: list[tuple[dict[str, Any], JsonValue]] = []
        for found in values:
            located = _item_list(found.value)
            if located is None:
                continue
            items, wrapper = located
            if wrapper == _SINGLE:
                singles.append((items[0], found))
                note_repairs(found, self.issues)
                continue
            if singles:
                break
            return self._list_items(found, items, wrapper)
        if singles:
            self.issues.append(f"not_a_list: the answer gave {len(singles)} object(s), not a list")
        else:
            self.issues.append("no_json: no JSON list of structures found in the answer")
        return singles

    def _list_items(
        self, found: JsonValue, items: list[Any], wrapper: str | None
    ) -> list[tuple[dict[str, Any], JsonValue]]:
        note_repairs(found, self.issues)
        if wrapper is not None:
            self.issues.append(f"unwrapped: the list of structures was nested under {wrapper!r}")
        if found.is_cut_off(items):
            complete = sum(1 for i in items if isinstance(i, dict) and not found.is_cut_off(i))
            self.issues.append(f"truncated: the answer was cut off; {complete} complete item(s)")
        others = [i for i in items if not isinstance(i, dict)]
        if others:
            self.issues.append(f"not_an_object: ignored {len(others)} list entries not objects")
        return [(i, found) for i in items if isinstance(i, dict)]

    def _annotation(self, item: dict[str, Any]) -> Annotation | None:
        raw_label = next((item[k] for k in LABEL_KEYS if _is_label(item.get(k))), None)
        if raw_label is None:
            self.issues.append(f"no_label: dropped an item without a label ({_short(item)})")
            return None
        label = canonical_structure(str(raw_label))
        flags: list[str] = []
        if label not in STRUCTURES:
            flags.append("label_outside_vocabulary")
            self.issues.append(
                f"label_outside_vocabulary: {label!r} is not one of FADA's 36 structures; kept"
            )
        elif label != raw_label:
            self.issues.append(f"renamed: label {raw_label!r} read as {label!r}")
        box_value = next((item[k] for k in BOX_KEYS if k in item), None)
        box: Box | None = None
        if box_value is not None:
            numbers = _numbers(box_value)
            if numbers is None or len(numbers) != 4:
                self.issues.append(f"bad_box: dropped {label!r}: box {_short(box_value)} unusable")
                return None
            box = self._checked_box(label, numbers, flags)
        polygon = self._polygon(label, item, flags)
        keypoints = self._keypoints(label, item, flags)
        if box is None:
            box = self._derived_box(label, polygon, keypoints)
            if box is None and keypoints is None:
                self.issues.append(f"no_box: dropped {label!r}: no usable box, polygon or points")
                return None
        return Annotation(
            label=label,
            box=None if box is None else self._px_box(box),
            polygon=None if polygon is None else [self._px(x, y) for x, y in polygon],
            keypoints=None if keypoints is None else self._px_keypoints(keypoints),
            score=None,
            source=self.source,
            status="proposed",
            flags=flags,
        )

    def _clamp(self, label: str, values: Sequence[float], flags: list[str]) -> list[float]:
        clamped = [_clamped(v) for v in values]
        if clamped != list(values) and "clamped" not in flags:
            flags.append("clamped")
            self.issues.append(f"clamped: {label!r} had coordinates outside 0..1000")
        return clamped

    def _checked_box(self, label: str, numbers: list[float], flags: list[str]) -> Box | None:
        box = normalize_box(numbers)
        if list(box) != numbers:
            flags.append("flipped_box")
            self.issues.append(f"flipped_box: {label!r} box corners were swapped; reordered")
        x0, y0, x1, y1 = self._clamp(label, box, flags)
        if box_area((x0, y0, x1, y1)) <= 0:
            self.issues.append(f"zero_area: the box {numbers} of {label!r} has no area")
            return None
        return (x0, y0, x1, y1)

    def _polygon(self, label: str, item: dict[str, Any], flags: list[str]) -> list[Point] | None:
        key = next((k for k in POLYGON_KEYS if k in item), None)
        if key is None:
            return None
        value = item[key]
        numbers = _numbers(value)
        is_flat = isinstance(value, list) and not any(isinstance(v, list) for v in value)
        well_formed = numbers is not None and (
            len(numbers) % 2 == 0 if is_flat else all(len(p) == 2 for p in value)
        )
        if not well_formed:
            self.issues.append(f"bad_mask: dropped the mask of {label!r}: not [x, y] numbers")
            return None
        assert numbers is not None
        if is_flat:
            self.issues.append(f"flat_polygon: the mask of {label!r} was a flat list; paired")
        coords = self._clamp(label, numbers, flags)
        points = dedupe_points(list(zip(coords[0::2], coords[1::2], strict=True)))
        if len(set(points)) < 3 or polygon_area(points) <= 0:
            self.issues.append(
                f"degenerate_polygon: dropped the mask of {label!r}: fewer than 3 distinct points "
                "or no area; kept its box"
            )
            return None
        return points

    def _keypoints(
        self, label: str, item: dict[str, Any], flags: list[str]
    ) -> list[Keypoint] | None:
        if "keypoints" not in item:
            return None
        value = item["keypoints"]
        if isinstance(value, list) and all(isinstance(p, list) for p in value):
            # [x, y] points are taken as visible (2); other lengths are malformed
            if all(len(p) in (2, 3) for p in value):
                value = [p if len(p) == 3 else [*p, 2] for p in value]
            else:
                value = None
        numbers = _numbers(value)
        if not numbers or len(numbers) % 3:
            self.issues.append(f"bad_keypoints: dropped the keypoints of {label!r}: not [x, y, v]")
            return None
        xy = self._clamp(label, [n for i, n in enumerate(numbers) if i % 3 != 2], flags)
        return [(xy[2 * i], xy[2 * i + 1], numbers[3 * i + 2]) for i in range(len(xy) // 2)]

    def _derived_box(
        self, label: str, polygon: list[Point] | None, keypoints: list[Keypoint] | None
    ) -> Box | None:
        points = polygon or [(x, y) for x, y, _ in keypoints or []]
        if not points:
            return None
        box = polygon_box(points)
        if box_area(box) <= 0:
            return None
        source = "mask" if polygon else "keypoints"
        self.issues.append(
            f"box_from_{source}: {label!r} had no usable box; used the extent of its {source}"
        )
        return box

    def _px(self, x: float, y: float) -> Point:
        return norm_to_px(x, y, self.width, self.height)

    def _px_keypoints(self, keypoints: list[Keypoint]) -> list[Keypoint]:
        return [(*self._px(x, y), v) for x, y, v in keypoints]

    def _px_box(self, box: Box) -> Box:
        return (*self._px(box[0], box[1]), *self._px(box[2], box[3]))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _drop_duplicates(annotations: list[Annotation], issues: list[str]) -> list[Annotation]:
    kept: list[Annotation] = []
    for annotation in annotations:
        twin = next(
            (
                k
                for k in kept
                if k.label == annotation.label
                and k.box is not None
                and annotation.box is not None
                and box_iou(k.box, annotation.box) > DUPLICATE_IOU
            ),
            None,
        )
        if twin is None:
            kept.append(annotation)
        else:
            iou = box_iou(twin.box, annotation.box)  # type: ignore[arg-type]
            issues.append(f"duplicate: dropped a second {annotation.label!r} (IoU {iou:.2f})")
    return kept
