"""transformers ``generate`` hooks: JSON-schema constrained decoding, streaming and cancel.

Imported only by :mod:`napari_fada.models.hf_engine`, which has already imported torch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, StoppingCriteria

from napari_fada.models.json_prefix import JsonPrefix, Schema
from napari_fada.models.vlm_engine import TokenCallback

#: The most likely tokens checked first each step; the whole vocabulary only if none of them fits.
_CANDIDATES = 64
#: Valid tokens kept for sampling: with temperature 0.1 the mass is in the first few anyway.
_KEEP = 8


class TokenTexts:
    """The text of every vocabulary entry, decoded once per tokenizer (slow for 150k entries)."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        special = set(tokenizer.all_special_ids) | {
            i for i, token in tokenizer.added_tokens_decoder.items() if token.special
        }
        texts = [
            "" if i in special else tokenizer.decode([i])
            for i in range(min(len(tokenizer), vocab_size))
        ]
        self.texts: list[str] = texts + [""] * (vocab_size - len(texts))


class JsonSchemaLogits(LogitsProcessor):
    """Masks every token that would make the answer invalid under ``schema``.

    The end-of-sequence tokens are allowed only once the answer is a whole valid value. Tokens are
    checked in order of their score, so a trained model costs a few checks per step; sampling then
    chooses among the :data:`_KEEP` most likely valid ones.
    """

    def __init__(
        self, schema: Schema, texts: TokenTexts, prompt_length: int, eos_ids: Sequence[int]
    ) -> None:
        self._texts = texts.texts
        self._prompt_length = prompt_length
        self._eos_ids = list(eos_ids)
        self._state = JsonPrefix.start(schema)
        self._fed = 0

    def _advance(self, generated: list[int]) -> None:
        for token in generated[self._fed :]:
            self._state = self._state.feed(self._texts[token])
        self._fed = len(generated)

    def _valid(self, candidates: list[int]) -> list[int]:
        """The first :data:`_KEEP` candidates whose text keeps the answer valid."""
        valid: list[int] = []
        for token in candidates:
            text = self._texts[token]
            if text and self._state.feed(text).alive:
                valid.append(token)
                if len(valid) == _KEEP:
                    break
        return valid

    def _allowed(self, scores: torch.Tensor) -> list[int]:
        top = torch.topk(scores, min(_CANDIDATES, scores.shape[0])).indices.tolist()
        allowed = self._valid(top)
        if not allowed:
            allowed = self._valid(torch.argsort(scores, descending=True).tolist())
        if self._state.complete:
            allowed += self._eos_ids
        return allowed

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self._advance(input_ids[0, self._prompt_length :].tolist())
        allowed = self._allowed(scores[0])
        if not allowed:  # a dead end cannot happen with a consistent schema; end the answer
            allowed = self._eos_ids
        masked = torch.full_like(scores, float("-inf"))
        masked[:, allowed] = scores[:, allowed]
        return masked


class TextStream(StoppingCriteria):
    """Hands each new piece of text to ``on_text`` (True stops) and times the first token."""

    def __init__(self, tokenizer: Any, prompt_length: int, on_text: TokenCallback | None) -> None:
        self._tokenizer = tokenizer
        self._prompt_length = prompt_length
        self._on_text = on_text
        self._sent = ""
        self.first_token_at: float | None = None
        self.stopped = False

    def __call__(
        self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        stop = False
        if self._on_text is not None:
            text = self._tokenizer.decode(
                input_ids[0, self._prompt_length :], skip_special_tokens=True
            )
            piece, self._sent = text[len(self._sent) :], text
            stop = bool(self._on_text(piece))
        self.stopped = self.stopped or stop
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
