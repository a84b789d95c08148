"""Property tests: parse_answer never fails and never returns geometry outside the image."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_fada.core.parsing import ParsedAnswer, parse_answer

CORPUS = Path(__file__).parent / "parser_corpus"
PHASES = ("interpret", "classify", "detect", "segment")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_DETECT = (
    '<think>\n\n</think>\n\n[{"bbox_2d": [312, 208, 688, 744], "label": "Brain"}, '
    '{"bbox_2d": [455, 402, 531, 466], "label": "CSP"}, {"box_2d": [380, 300, 452, 381], '
    '"label": "LV"}]'
)
VALID_SEGMENT = (
    '```json\n[{"bbox_2d": [300, 200, 700, 760], "label": "Brain", "mask": [[500, 200], '
    '[640, 260], [700, 480], [500, 760], [300, 480]]}, {"bbox_2d": [390, 425, 450, 465], '
    '"label": "NTKpoints", "keypoints": [[420, 425, 2], [421, 465, 2]]}]\n```'
)
CORPUS_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]


def check(answer: ParsedAnswer, width: int, height: int) -> None:
    """The invariants every answer satisfies, whatever the text."""
    assert not any(i.startswith("unreadable") for i in answer.issues), answer.issues
    assert all(isinstance(i, str) and i for i in answer.issues)
    for a in answer.annotations:
        assert isinstance(a.label, str) and a.label
        assert a.status == "proposed" and a.score is None
        points = [(x, y) for x, y, _ in a.keypoints or []] + list(a.polygon or [])
        if a.box is not None:
            x0, y0, x1, y1 = a.box
            assert x0 < x1 and y0 < y1
            points += [(x0, y0), (x1, y1)]
        assert a.box is not None or a.keypoints
        if a.polygon is not None:
            assert len(set(a.polygon)) >= 3
        for x, y in points:
            assert math.isfinite(x) and math.isfinite(y)
            assert 0 <= x <= width and 0 <= y <= height


sizes = st.tuples(st.integers(1, 5000), st.integers(1, 5000))


@FUZZ
@given(text=st.text(max_size=300), phase=st.sampled_from(PHASES), size=sizes)
def test_random_text(text: str, phase: str, size: tuple[int, int]) -> None:
    check(parse_answer(text, phase, *size, "fuzz"), *size)


@FUZZ
@given(
    base=st.sampled_from([VALID_DETECT, VALID_SEGMENT, *CORPUS_TEXTS]),
    data=st.data(),
    garbage=st.text(alphabet="[]{}(),:\"' 0123456789-.eE\nabcTrueNone<>/`", max_size=12),
    phase=st.sampled_from(PHASES),
    size=sizes,
)
def test_valid_answers_with_inserted_garbage(
    base: str, data: st.DataObject, garbage: str, phase: str, size: tuple[int, int]
) -> None:
    at = data.draw(st.integers(0, len(base)))
    cut = data.draw(st.integers(0, len(base) - at))
    text = base[:at] + garbage + base[at + cut :]
    check(parse_answer(text, phase, *size, "fuzz"), *size)


_KEYS = st.sampled_from(["bbox_2d", "box_2d", "label", "mask", "polygon", "keypoints", "objects"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3000, 3000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["Brain", "CSP", "NT", "NTKpoints", "head", "BPD_PLANE", "12", ""])
    | st.text(max_size=8)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(_KEYS | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=40,
)


@FUZZ
@given(value=_JSON, phase=st.sampled_from(PHASES), size=sizes)
def test_random_json(value: object, phase: str, size: tuple[int, int]) -> None:
    check(parse_answer(json.dumps(value), phase, *size, "fuzz"), *size)


def _key(a: object) -> tuple[object, ...]:
    return (a.label, a.box, tuple(a.polygon or ()), tuple(a.keypoints or ()))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "phase"), [(VALID_DETECT, "detect"), (VALID_SEGMENT, "segment")])
def test_every_truncation_keeps_only_complete_items(text: str, phase: str) -> None:
    """Cut the answer at every position: what is kept is always a whole item of the full answer."""
    full = {_key(a) for a in parse_answer(text, phase, 800, 600, "fuzz").annotations}
    assert len(full) in (2, 3)
    for end in range(len(text) + 1):
        answer = parse_answer(text[:end], phase, 800, 600, "fuzz")
        check(answer, 800, 600)
        assert {_key(a) for a in answer.annotations} <= full, text[:end]


def test_every_truncation_of_the_corpus_is_survived() -> None:
    for text in CORPUS_TEXTS:
        for end in range(0, len(text) + 1, 3):
            for phase in PHASES:
                check(parse_answer(text[:end], phase, 640, 480, "fuzz"), 640, 480)
