"""The transformers engine's JSON masks: exactly the tokens that keep the answer valid."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("transformers")

from napari_fada.core.fada_format import answer_schema
from napari_fada.core.vocabulary import INTERPRETATION_KEYS
from napari_fada.models import hf_generation
from napari_fada.models.hf_generation import JsonConstraint, JsonMasks, TokenTexts
from napari_fada.models.json_prefix import JsonPrefix
from tests.models.tiny_hf_model import VOCAB_SIZE, _tokenizer

STRUCTURES = ["Brain", "CSP"]
ANSWERS = {
    "detect": '[{"bbox_2d": [12, 340, 560, 999], "label": "Brain"}, '
    '{"bbox_2d":[0,1,2,3],"label":"CSP"}]',
    "interpret": json.dumps({k: f'a "{k}"\\n {i}' for i, k in enumerate(INTERPRETATION_KEYS)}),
    "classify": '{"label": "V sign"}',
}


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return _tokenizer()


@pytest.fixture(scope="module")
def texts(tokenizer: Any) -> TokenTexts:
    return TokenTexts(tokenizer, VOCAB_SIZE + 3, "cpu")  # padded like a model's output layer


def _valid(texts: TokenTexts, state: JsonPrefix, eos: int) -> set[int]:
    """Every token checked one by one, as the constraint did before the masks."""
    found = {i for i, text in enumerate(texts.texts) if text and state.feed(text).alive}
    return found | {eos} if state.complete else found


@pytest.mark.parametrize("rows", [4096, 1], ids=["kept", "forgotten-every-step"])
@pytest.mark.parametrize("phase", list(ANSWERS))
def test_each_state_allows_exactly_the_tokens_that_keep_the_answer_valid(
    tokenizer: Any, texts: TokenTexts, phase: str, rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hf_generation, "_MAX_ROWS", rows)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    masks = JsonMasks(texts, [eos])
    constraint = JsonConstraint(answer_schema(phase, STRUCTURES), texts)
    answer = tokenizer.encode(ANSWERS[phase], add_special_tokens=False)
    for token in [*answer, eos]:
        state = constraint.state
        allowed = set(masks.rows([state, state])[1].nonzero().flatten().tolist())
        assert allowed == _valid(texts, state, eos)
        assert token in allowed
        constraint.advance(token)
    assert constraint.state.complete


def test_a_dead_end_allows_only_the_end(texts: TokenTexts) -> None:
    dead = JsonPrefix.start(answer_schema("classify")).feed("]")
    assert not dead.alive
    mask = JsonMasks(texts, [7]).rows([dead])[0]
    assert mask.nonzero().flatten().tolist() == [7]
