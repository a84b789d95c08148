"""Token choice for the transformers engine: JSON-schema masks as device tensors, sampling as
transformers does it, and streaming of each sequence's text.

A JSON constraint is a :class:`~napari_fada.models.json_prefix.JsonPrefix` parse per sequence.
The tokens allowed after a parse are worked out once per distinct parse (a walk of a character
trie of the vocabulary, pruned where the parse dies; inside a string every token without a
quote, backslash or control character is allowed at once) and kept as a row of a boolean tensor
on the model's device. Each step then costs, per sequence, the parse of the chosen token's few
characters and a dictionary look-up; the masks of all sequences are applied by one gather and
one ``masked_fill`` on the device.

Imported only by :mod:`napari_fada.models.hf_engine`, which has already imported torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from napari_fada.models.json_prefix import JsonPrefix, Schema
from napari_fada.models.vlm_engine import GenerationSettings, TokenCallback

#: Bytes of masks kept (rows of ``vocab`` booleans): 64 MiB, at most :data:`_MAX_ROWS` rows.
_MASK_BYTES = 64 * 2**20
_MAX_ROWS = 4096


def _plain(text: str) -> bool:
    """Whether ``text`` leaves a parse inside a string as it is."""
    return bool(text) and all(char >= " " and char not in '"\\' for char in text)


class _Trie:
    """Token ids by text, one character per level."""

    __slots__ = ("children", "ids")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.ids: list[int] = []

    def add(self, text: str, token: int) -> None:
        node = self
        for char in text:
            node = node.children.setdefault(char, _Trie())
        node.ids.append(token)


class TokenTexts:
    """The text of every vocabulary entry, decoded once per tokenizer (slow for 150k entries),
    with the tokens that leave a string parse unchanged as a tensor and the others in a trie."""

    def __init__(self, tokenizer: Any, vocab_size: int, device: str) -> None:
        special = set(tokenizer.all_special_ids) | {
            i for i, token in tokenizer.added_tokens_decoder.items() if token.special
        }
        texts = [
            "" if i in special else tokenizer.decode([i])
            for i in range(min(len(tokenizer), vocab_size))
        ]
        self.texts: list[str] = texts + [""] * (vocab_size - len(texts))
        self.device = device
        plain = [_plain(text) for text in self.texts]
        self.plain = torch.tensor(plain, dtype=torch.bool, device=device)
        self.trie, self.special_trie = _Trie(), _Trie()
        for token, text in enumerate(self.texts):
            if text:
                self.trie.add(text, token)
                if not plain[token]:
                    self.special_trie.add(text, token)

    def allowed(self, state: JsonPrefix) -> list[int]:
        """Every token whose text keeps ``state`` alive (``state`` itself alive)."""
        if state.in_plain_string:
            found: list[int] = []
            _walk(self.special_trie, state, found)
            return found
        found = []
        _walk(self.trie, state, found)
        return found


def _walk(root: _Trie, state: JsonPrefix, found: list[int]) -> None:
    """Add to ``found`` the ids below ``root`` whose text keeps ``state`` alive."""
    pending = [(root, state, state.in_plain_string)]
    while pending:
        node, parse, plain = pending.pop()
        for char, child in node.children.items():
            if plain and char >= " " and char not in '"\\':
                after, after_plain = parse, True
            else:
                after = parse.feed(char)
                if not after.alive:
                    continue
                after_plain = after.in_plain_string
            found.extend(child.ids)
            pending.append((child, after, after_plain))


class JsonMasks:
    """Allowed-token masks by parse, rows of one boolean tensor on the device.

    The end-of-sequence tokens are allowed once the answer is a whole valid value, and alone at
    a dead end (which a consistent schema never reaches). When the rows run out, all are
    forgotten and worked out again as parses come back.
    """

    def __init__(self, texts: TokenTexts, eos_ids: Sequence[int]) -> None:
        self.texts = texts
        self._eos = torch.tensor(list(eos_ids), dtype=torch.long, device=texts.device)
        vocab = len(texts.texts)
        self._capacity = min(_MAX_ROWS, max(64, _MASK_BYTES // vocab))
        self._bank = torch.zeros((self._capacity, vocab), dtype=torch.bool, device=texts.device)
        self._rows: dict[JsonPrefix, int] = {}

    def _row(self, state: JsonPrefix) -> int:
        row = self._rows.get(state)
        if row is not None:
            return row
        row = len(self._rows)
        mask = self._bank[row]
        mask.zero_()
        if state.in_plain_string:
            mask |= self.texts.plain
        allowed = self.texts.allowed(state)
        if allowed:
            mask[torch.tensor(allowed, dtype=torch.long, device=mask.device)] = True
        if state.complete or not (allowed or state.in_plain_string):
            mask[self._eos] = True
        self._rows[state] = row
        return row

    def rows(self, states: Sequence[JsonPrefix]) -> torch.Tensor:
        """The masks of ``states``, one row each."""
        if len(self._rows) + len(states) > self._capacity:
            self._rows.clear()
        index = [self._row(state) for state in states]
        return self._bank[torch.tensor(index, dtype=torch.long, device=self._bank.device)]


class JsonConstraint:
    """One sequence's parse under ``schema``, advanced by the text of each chosen token."""

    def __init__(self, schema: Schema, texts: TokenTexts) -> None:
        self._texts = texts.texts
        self.state = JsonPrefix.start(schema)

    def advance(self, token: int) -> None:
        text = self._texts[token] if token < len(self._texts) else ""
        if text:
            self.state = self.state.feed(text)


def sample(
    scores: torch.Tensor, settings: GenerationSettings, generator: torch.Generator | None
) -> int:
    """A token from one row of scores as transformers samples it: temperature, top_k, then
    top_p on the sharpened distribution; the likeliest one at temperature 0."""
    if settings.temperature <= 0:
        return int(torch.argmax(scores))
    scores = scores / settings.temperature
    values, indices = torch.topk(scores, min(settings.top_k, scores.shape[-1]))
    probabilities = torch.softmax(values, dim=-1)
    kept = torch.cumsum(probabilities, dim=-1) - probabilities < settings.top_p
    probabilities = torch.where(kept, probabilities, torch.zeros_like(probabilities))
    choice = torch.multinomial(probabilities, 1, generator=generator)
    return int(indices[choice])


class TextStream:
    """Hands each new piece of one sequence's text to ``on_text`` (True stops)."""

    def __init__(self, tokenizer: Any, on_text: TokenCallback | None) -> None:
        self._tokenizer = tokenizer
        self._on_text = on_text
        self._sent = ""

    def push(self, tokens: list[int]) -> bool:
        """Report the text of ``tokens`` (all generated so far) past what was sent; True stops."""
        if self._on_text is None:
            return False
        text = self._tokenizer.decode(tokens, skip_special_tokens=True)
        piece, self._sent = text[len(self._sent) :], text
        return bool(self._on_text(piece))
