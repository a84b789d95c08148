"""A model's answer text to annotations, a plane label or an interpretation: never raising.

Whatever the model wrote, :func:`parse_answer` returns what could be salvaged and, in
:attr:`ParsedAnswer.issues`, one line per thing it salvaged, clamped, flagged or dropped. Each
issue starts with a short keyword (``"clamped: ..."``) so that reports can count them; the same
keyword is put in the annotation's ``flags`` when the annotation is kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from napari_fada.core.fada_format import ANSWER_PHASES
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
from napari_fada.core.json_repair import JsonValue, answer_body, json_values
from napari_fada.core.proposal import Annotation, Box, Keypoint, Point
from napari_fada.core.vocabulary import (
    INTERPRETATION_KEYS,
    PLANE_LABELS,
    STRUCTURES,
    canonical_structure,
)

LABEL_KEYS = ("label", "name", "class", "category")
BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box")
POLYGON_KEYS = ("mask", "polygon")
PLANE_KEYS = ("label", "plane", "plane_label", "class", "imaging_plane")
GEOMETRY_KEYS = frozenset((*BOX_KEYS, *POLYGON_KEYS, "keypoints"))
DUPLICATE_IOU = 0.9
INTERPRETATION_KEYS_SET = frozenset(INTERPRETATION_KEYS)


@dataclass
class ParsedAnswer:
    """What one answer holds, in pixels of the image the answer is about."""

    raw: str
    annotations: list[Annotation] = field(default_factory=list)
    plane_label: str | None = None
    interpretation: dict[str, Any] | None = None
    #: The INTERPRET answer is valid JSON and has all eight keys (FADA's structured compliance).
    compliant: bool = False
    issues: list[str] = field(default_factory=list)


def parse_answer(text: str, phase: str, width: int, height: int, source: str) -> ParsedAnswer:
    """Read ``phase``'s answer for a ``width`` x ``height`` image; annotations get ``source``."""
    answer = ParsedAnswer(raw=text if isinstance(text, str) else "")
    try:
        _parse_into(answer, phase, width, height, source)
    except Exception as exc:  # the last line of defence: a parser bug must not lose the session
        answer.annotations, answer.plane_label, answer.interpretation = [], None, None
        answer.compliant = False
        answer.issues.append(f"unreadable: the answer could not be read ({exc!r}); nothing kept")
    return answer


def _parse_into(answer: ParsedAnswer, phase: str, width: int, height: int, source: str) -> None:
    if phase not in ANSWER_PHASES:
        answer.issues.append(f"unknown_phase: {phase!r} has no model answer to read")
        return
    body, notes = answer_body(answer.raw)
    answer.issues.extend(notes)
    if not body:
        answer.issues.append("empty: the model gave no answer")
        return
    values = list(json_values(body))
    if phase == "classify":
        _read_plane(answer, body, values)
    elif phase == "interpret":
        _read_interpretation(answer, values)
    elif width > 0 and height > 0:
        reader = _ItemReader(width, height, source, answer.issues)
        answer.annotations = _drop_duplicates(reader.read(values), answer.issues)
    else:
        answer.issues.append(f"bad_size: cannot place structures on a {width} x {height} image")


def _note_repairs(found: JsonValue, issues: list[str]) -> None:
    if found.repairs:
        issues.append(f"repaired: malformed JSON fixed ({', '.join(found.repairs)})")


# --- classify ---------------------------------------------------------------------------------


def _key(label: str) -> str:
    return re.sub(r"[\s\-_]+", "_", label.strip()).lower()


_PLANES_BY_KEY = {_key(p): p for p in PLANE_LABELS}
#: Plane classes that are also plain words of a description; prose prefers the other classes.
_PLAIN_WORD_PLANES = frozenset({"legs", "arms", "abdomen", "head", "liver", "Other"})
_PLANE_IN_PROSE = re.compile(
    "|".join(
        rf"(?<![A-Za-z0-9_]){re.escape(p)}(?![A-Za-z0-9_])"
        for p in sorted(PLANE_LABELS, key=len, reverse=True)
    )
)


def _label_in(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return next((value[k] for k in PLANE_KEYS if isinstance(value.get(k), str)), None)
    if isinstance(value, list) and value:
        return _label_in(value[0])
    return None


def _read_plane(answer: ParsedAnswer, body: str, values: list[JsonValue]) -> None:
    for found in values:
        label = _label_in(found.value)
        if label is not None:
            _note_repairs(found, answer.issues)
            break
    else:
        label = _plane_from_text(body, answer.issues)
    if label is None:
        answer.issues.append("no_label: no plane label found in the answer")
        return
    plane = _PLANES_BY_KEY.get(_key(label))
    if plane is None:
        answer.issues.append(
            f"label_outside_vocabulary: plane label {label!r} is not one of FADA's plane "
            "classes; kept as given"
        )
        plane = label.strip()
    elif plane != label:
        answer.issues.append(f"renamed: plane label {label!r} read as {plane!r}")
    answer.plane_label = plane


def _plane_from_text(body: str, issues: list[str]) -> str | None:
    """A label given without JSON: a known class alone, one named in prose, or a quoted string."""
    bare = body.strip().rstrip(".").strip()
    quoted = re.fullmatch(r"([\"'`])([^\n\"'`]{1,40})\1", bare)
    unquoted = quoted.group(2).strip() if quoted else bare
    if quoted or _key(unquoted) in _PLANES_BY_KEY:
        issues.append("bare_label: the answer was a bare label, not JSON")
        return unquoted
    named = [m.group() for m in _PLANE_IN_PROSE.finditer(body)]
    if not named:
        return None
    label = next((n for n in named if n not in _PLAIN_WORD_PLANES), named[0])
    issues.append(f"from_prose: took the plane label {label!r} from the answer's text")
    return label


# --- interpret --------------------------------------------------------------------------------


def _read_interpretation(answer: ParsedAnswer, values: list[JsonValue]) -> None:
    found = next((v for v in values if isinstance(v.value, dict)), None)
    if found is None:
        answer.issues.append("no_json: no JSON object found in the answer")
        return
    _note_repairs(found, answer.issues)
    obj: dict[str, Any] = found.value
    if len(obj) == 1 and not INTERPRETATION_KEYS_SET & set(obj):
        wrapper, inner = next(iter(obj.items()))
        if isinstance(inner, dict):
            answer.issues.append(f"unwrapped: the interpretation was nested under {wrapper!r}")
            obj = inner
    interpretation: dict[str, Any] = {}
    renamed = []
    for key, value in obj.items():
        name = _key(key)
        name = name if name in INTERPRETATION_KEYS_SET else key
        if name != key:
            renamed.append(key)
        interpretation[name] = value
    if renamed:
        answer.issues.append(f"renamed: keys {', '.join(map(repr, renamed))} read as FADA's keys")
    missing = [k for k in INTERPRETATION_KEYS if k not in interpretation]
    if missing:
        answer.issues.append(f"missing_keys: the interpretation lacks {', '.join(missing)}")
    extra = [k for k in interpretation if k not in INTERPRETATION_KEYS_SET]
    if extra:
        answer.issues.append(f"extra_keys: the interpretation also has {', '.join(extra)}")
    if found.cut_off:
        answer.issues.append("truncated: the interpretation was cut off; kept its complete keys")
    answer.interpretation = interpretation
    answer.compliant = found.strict and not missing and not renamed


# --- detect and segment -----------------------------------------------------------------------

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
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
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
                _note_repairs(found, self.issues)
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
        _note_repairs(found, self.issues)
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
        box_value = next((item[k] for k in BOX_KEYS if k in item), None)
        box: Box | None = None
        if box_value is not None:
            numbers = _numbers(box_value)
            if numbers is None or len(numbers) != 4:
                self.issues.append(f"bad_box: dropped {label!r}: box {_short(box_value)} unusable")
                return None
            box = self._checked_box(label, numbers, flags)
            if box is None:
                return None
        polygon = self._polygon(label, item, flags)
        keypoints = self._keypoints(label, item, flags)
        if box is None:
            box = self._derived_box(label, polygon, keypoints)
            if box is None and keypoints is None:
                self.issues.append(f"no_box: dropped {label!r}: it has no box, polygon or points")
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
            self.issues.append(f"zero_area: dropped {label!r}: its box {numbers} has no area")
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
        self.issues.append(f"box_from_{source}: {label!r} had no box; derived from its {source}")
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
