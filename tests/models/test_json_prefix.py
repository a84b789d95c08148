"""The JSON-schema prefix checker behind constrained decoding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from napari_fada.core.fada_format import answer_schema
from napari_fada.core.vocabulary import INTERPRETATION_KEYS
from napari_fada.models.json_prefix import JsonPrefix

BRAIN = ["Brain", "CSP", "LV"]
VALID = [
    ("classify", '{"label": "FL"}'),
    ("classify", '{"label":"FL_PLANE"}'),
    ("classify", '{"label": "V sign"}'),
    ("detect", "[]"),
    ("detect", '[{"bbox_2d": [0, 12, 999, 1000], "label": "Brain"}]'),
    ("detect", '[{"bbox_2d":[1,2,3,4],"label":"CSP"}, {"bbox_2d": [5, 6, 7, 8], "label": "LV"}]'),
    ("segment", '[{"bbox_2d": [1, 2, 3, 4], "label": "LV", "mask": [[1, 2], [3, 4], [5, 60]]}]'),
]
INVALID = [
    ("classify", '{"label": "brain"}'),  # not a plane label
    ("classify", '{"label": "head"} '),  # nothing may follow the answer
    ("classify", '{"label": "head", '),  # no second key
    ("detect", '[{"bbox_2d": [1001'),  # over 1000
    ("detect", '[{"bbox_2d": [01'),  # leading zero
    ("detect", '[{"bbox_2d": [-1'),  # negative
    ("detect", '[{"bbox_2d": [1, 2, 3]'),  # three coordinates
    ("detect", '[{"label": "Brain"'),  # keys in the schema's order
    ("detect", '[{"bbox_2d": [1, 2, 3, 4], "label": "NT"'),  # not asked for
    ("detect", "[\n"),  # whitespace other than one space after , and :
    ("segment", '[{"bbox_2d": [1, 2, 3, 4], "label": "LV", "mask": [[1, 2], [3, 4]]]'),
]


def _state(phase: str, text: str) -> JsonPrefix:
    return JsonPrefix.start(answer_schema(phase, BRAIN)).feed(text)


@pytest.mark.parametrize(("phase", "text"), VALID)
def test_valid_answers_are_complete_and_every_prefix_alive(phase: str, text: str) -> None:
    assert _state(phase, text).complete
    assert all(_state(phase, text[:n]).alive for n in range(len(text)))
    assert not any(_state(phase, text[:n]).complete for n in range(len(text) - 1))


@pytest.mark.parametrize(("phase", "text"), INVALID)
def test_invalid_answers_die(phase: str, text: str) -> None:
    assert not _state(phase, text).complete
    assert not _state(phase, text).alive or text.endswith((", ", "[1, 2, 3]"))


def test_unfinished_answers_are_alive_but_not_complete() -> None:
    state = _state("segment", '[{"bbox_2d": [1, 2, 3, 4], "label": "LV", "mask": [[1, 2], [3')
    assert state.alive and not state.complete


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
#: The schema allows a string, a list or an object for each interpretation key.
interpretation_values = (
    st.text(max_size=8)
    | st.lists(json_values, max_size=3)
    | st.dictionaries(st.text(max_size=5), json_values, max_size=3)
)


@given(st.fixed_dictionaries({key: interpretation_values for key in INTERPRETATION_KEYS}))
def test_any_interpretation_written_by_json_dumps_is_accepted(value: dict[str, Any]) -> None:
    schema = answer_schema("interpret")
    value = {key: value[key] for key in INTERPRETATION_KEYS}  # keys come in the schema's order
    for separators in ((", ", ": "), (",", ":")):
        text = json.dumps(value, separators=separators)
        assert JsonPrefix.start(schema).feed(text).complete
    assert not JsonPrefix.start(schema).feed(json.dumps({**value, "extra": ""})).alive


@given(json_values, st.text(min_size=1, max_size=3))
def test_nothing_after_a_whole_value(value: Any, tail: str) -> None:
    state = JsonPrefix.start({}).feed(json.dumps(value))
    assert state.complete
    # A digit, a point or an exponent after a number continues it ("0" then "E1" is 0E1).
    if tail[0] not in "0123456789.eE" or not isinstance(value, int):
        assert not state.feed(tail).alive
