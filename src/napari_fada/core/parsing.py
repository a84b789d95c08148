"""A model's answer text to annotations, a plane label or an interpretation: never raising.

Whatever the model wrote, :func:`parse_answer` returns what could be salvaged and, in
:attr:`ParsedAnswer.issues`, one line per thing it salvaged, clamped, flagged or dropped. Each
issue starts with a short keyword (``"clamped: ..."``) so that reports can count them; the same
keyword is put in the annotation's ``flags`` when the annotation is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from napari_fada.core.answer_items import note_repairs, read_annotations
from napari_fada.core.fada_format import ANSWER_PHASES
from napari_fada.core.json_repair import JsonValue, answer_body, json_values
from napari_fada.core.proposal import Annotation
from napari_fada.core.vocabulary import INTERPRETATION_KEYS, PLANE_LABELS

PLANE_KEYS = ("label", "plane", "plane_label", "class", "imaging_plane")
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
        answer.annotations = read_annotations(values, width, height, source, answer.issues)
    else:
        answer.issues.append(f"bad_size: cannot place structures on a {width} x {height} image")


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
            note_repairs(found, answer.issues)
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
    note_repairs(found, answer.issues)
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
