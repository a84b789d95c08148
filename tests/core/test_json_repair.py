"""Finding and leniently reading JSON in model output."""

from __future__ import annotations

import pytest

from napari_fada.core.json_repair import answer_body, json_values


def first(text: str) -> object:
    return next(json_values(text)).value


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ("<think>\n\n</think>\n\n[1]", "[1]"),
        ("<think>a [0] b</think>[1]", "[1]"),
        ("reasoning [0]</think>\n[1]", "[1]"),
        ("<think>look [1]", "look [1]"),
        ("[1]\nassistant\n[2]", "[1]"),
        ("[1]<|im_end|>\n<|im_start|>user", "[1]"),
        ("Sure:\n```json\n[1]\n```\nDone [2]", "[1]"),
        ("```\n[1]", "[1]"),
        ("```python\nprint()\n```\n[1]", "```python\nprint()\n```\n[1]"),
    ],
)
def test_answer_body_strips_wrappers(text: str, body: str) -> None:
    assert answer_body(text)[0] == body


def test_answer_body_notes_only_what_matters() -> None:
    assert answer_body("<think></think>[1]")[1] == []
    assert answer_body("[1]\nassistant\n")[1] == []
    notes = answer_body("<think>hm</think>[1]\nassistant\n[2]")[1]
    assert len(notes) == 2


def test_strict_json_is_read_as_is() -> None:
    (found,) = json_values('text {"a": [1, 2.5, "x\\n\\u00e9"]} more')
    assert found.value == {"a": [1, 2.5, "x\né"]}
    assert found.strict and not found.repairs and not found.cut_off


@pytest.mark.parametrize(
    ("text", "value", "repair"),
    [
        ("{'a': 'b'}", {"a": "b"}, "single quotes"),
        ("[1, 2,]", [1, 2], "trailing comma"),
        ("[True, None, False]", [True, None, False], "Python literals"),
        ("[(1, 2)]", [[1, 2]], "Python tuples"),
        ("{a: 1}", {"a": 1}, "unquoted keys"),
        ('[{"a": 1} {"a": 2}]', [{"a": 1}, {"a": 2}], "missing comma"),
        ('[{"a": 1]', [{"a": 1}], "mismatched brackets"),
        ("[1, // one\n 2]", [1, 2], "comments"),
        ("[1,, 2]", [1, 2], "extra comma"),
    ],
)
def test_lenient_repairs_are_named(text: str, value: object, repair: str) -> None:
    (found,) = json_values(text)
    assert found.value == value
    assert not found.strict and repair in found.repairs


def test_cut_off_containers_are_marked_and_incomplete_scalars_dropped() -> None:
    (found,) = json_values('{"items": [{"a": 1}, {"a": 2, "b": "tex')
    items = found.value["items"]
    assert items == [{"a": 1}, {"a": 2}]
    assert found.is_cut_off(found.value) and found.is_cut_off(items)
    assert found.is_cut_off(items[1]) and not found.is_cut_off(items[0])


@pytest.mark.parametrize("text", ["[12", "[tru", '{"a', '{"a": 1, b'])
def test_a_token_at_the_very_end_counts_as_incomplete(text: str) -> None:
    (found,) = json_values(text)
    assert found.value in ([], {}, {"a": 1})
    assert found.is_cut_off(found.value)


def test_unreadable_candidates_are_skipped() -> None:
    values = [v.value for v in json_values("a {b} then [x: 1] then [1, 2] and {'k': [3]}")]
    assert values == [[1, 2], {"k": [3]}]


def test_nesting_is_bounded() -> None:
    assert list(json_values("[" * 200)) == []
    assert first("[" * 10 + "]" * 10) == [[[[[[[[[[]]]]]]]]]]
