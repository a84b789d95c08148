"""Answers built to make a parser slow or crash: it stays linear in their length and keeps what
it can. The large inputs run in a subprocess whose time limit is a generous upper bound (a
quadratic parser needs many minutes on them; a linear one milliseconds)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from napari_fada.core.json_repair import answer_body
from napari_fada.core.parsing import parse_answer

#: Far above what a linear parse needs, even on a loaded machine; far below a quadratic one.
LIMIT_S = 120

_PARSE = """
import sys
from napari_fada.core.parsing import parse_answer
text = {text}
answer = parse_answer(text, "classify", 800, 600, "m")
assert answer.plane_label == "head", answer.issues
"""


@pytest.mark.parametrize(
    "text",
    [
        '"<think>" * 100_000 + \'{"label": "head"}\'',
        '"\\\\n" * 500_000 + \'{"label": "head"}\'',
        '"<think>a</think>" * 50_000 + \'{"label": "head"}\'',
        '"\\\\n assistant x" * 50_000 + \'{"label": "head"}\'',
    ],
    ids=["unclosed-think", "newlines", "think-blocks", "assistant-words"],
)
def test_pathological_answers_parse_in_linear_time(text: str) -> None:
    code = _PARSE.format(text=text)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=LIMIT_S)


def test_a_chat_turn_ends_at_a_line_saying_assistant() -> None:
    body, notes = answer_body('{"label": "head"}\n  \nassistant \n\n{"label": "abdomen"}')
    assert body == '{"label": "head"}'
    assert notes == ["ignored what the model generated after its first answer"]
    assert answer_body("the assistants said head")[0] == "the assistants said head"


def test_reasoning_blocks_are_skipped() -> None:
    body, notes = answer_body('<think>hmm</think><think> </think>{"label": "head"}')
    assert body == '{"label": "head"}'
    assert notes == ["skipped the model's reasoning (<think> block)"]


def test_an_integer_too_long_for_a_float_drops_its_item_only() -> None:
    huge = "9" * 400
    text = f'[{{"label": "head", "box_2d": [1, 2, {huge}, 40]}}, '
    text += '{"label": "CSP", "box_2d": [100, 200, 300, 400]}]'
    answer = parse_answer(text, "detect", 800, 600, "m")
    assert [a.label for a in answer.annotations] == ["CSP"]
    assert any(issue.startswith("bad_box") for issue in answer.issues)
