"""Decoding several sequences together on a transformers model, each from its own prompt.

Each sequence arrives prefilled on its own (its image prefix and its prompt, batch size 1), so
no padding ever enters a recurrent layer's state (Qwen3.5's gated delta-net layers would carry
it along). The caches are then stacked into one batch: attention keys and values padded on the
left and masked out, recurrent and convolution states as they are. Every step feeds one token
per sequence at that sequence's own M-RoPE position; a sequence that ends leaves the batch.
A single sequence is decoded the same way without stacking.

Imported only by :mod:`napari_fada.models.hf_engine`, which has already imported torch.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from napari_fada.models.hf_generation import JsonConstraint, JsonMasks, TextStream, sample
from napari_fada.models.vlm_engine import GenerationSettings


class CannotStack(Exception):
    """A cache of a kind this module cannot put in one batch (decode the rows one by one)."""


@dataclass
class Row:
    """One sequence: its prefilled cache and next-token scores, and what it generated."""

    cache: Any
    logits: torch.Tensor
    #: Tokens in the cache, and the M-RoPE position of the next token (text: all axes alike).
    length: int
    position: int
    settings: GenerationSettings
    stream: TextStream
    constraint: JsonConstraint | None = None
    generator: torch.Generator | None = None
    tokens: list[int] = field(default_factory=list)
    stopped: bool = False
    first_token_at: float | None = None
    finished_at: float | None = None


def _padded(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """``tensor`` with zeros before its sequence axis (-2) up to ``width``."""
    missing = width - tensor.shape[-2]
    if missing == 0:
        return tensor
    pad = torch.zeros((*tensor.shape[:-2], missing, tensor.shape[-1]), dtype=tensor.dtype)
    return torch.cat([pad.to(tensor.device), tensor], dim=-2)


def stack_caches(caches: Sequence[Any], width: int) -> Any:
    """One cache holding ``caches`` (each of batch size 1) as a batch, keys and values padded on
    the left to ``width`` tokens. Raises CannotStack for layers of an unknown kind."""
    stacked = copy.deepcopy(caches[0])
    for index, layer in enumerate(stacked.layers):
        parts = [cache.layers[index] for cache in caches]
        if hasattr(layer, "recurrent_states"):
            for state in layer.conv_states:
                if layer.conv_states[state] is not None:
                    layer.conv_states[state] = torch.cat([p.conv_states[state] for p in parts])
                if layer.recurrent_states[state] is not None:
                    layer.recurrent_states[state] = torch.cat(
                        [p.recurrent_states[state] for p in parts]
                    )
            layer.cumulative_length_linear.fill_(width)
        elif type(layer).__name__ == "DynamicLayer":
            layer.keys = torch.cat([_padded(p.keys, width) for p in parts])
            layer.values = torch.cat([_padded(p.values, width) for p in parts])
        else:
            raise CannotStack(f"cache layers of type {type(layer).__name__}")
    return stacked


def _keep(cache: Any, rows: torch.Tensor) -> None:
    """Drop the batch rows of ``cache`` not in ``rows``."""
    for layer in cache.layers:
        layer.reorder_cache(rows)


class Decoder:
    """Decodes :class:`Row` objects together; ``stop_at_eos`` False generates every row's
    ``max_new_tokens`` (end tokens masked)."""

    def __init__(
        self,
        model: Any,
        eos_ids: Sequence[int],
        masks: JsonMasks | None,
        stop_at_eos: bool,
        cache_argument: str = "past_key_values",
    ) -> None:
        self._model = model
        self._cache_argument = cache_argument
        self._eos = list(eos_ids)
        self._masks = masks
        self._stop_at_eos = stop_at_eos

    def decode(self, rows: list[Row]) -> None:
        """Generate every row's tokens (in ``Row.tokens``)."""
        device = rows[0].logits.device
        width = max(row.length for row in rows)
        cache = rows[0].cache
        if len(rows) > 1:
            try:
                cache = stack_caches([row.cache for row in rows], width)
            except CannotStack:
                for row in rows:
                    self.decode([row])
                return
        attention = torch.zeros((len(rows), width), dtype=torch.long, device=device)
        for index, row in enumerate(rows):
            attention[index, width - row.length :] = 1
        logits = torch.stack([row.logits for row in rows])
        active = list(rows)
        while True:
            tokens = self._choose(active, logits)
            still = [i for i, row in enumerate(active) if not self._take(row, tokens[i])]
            if not still:
                return
            if len(still) < len(active):
                kept = torch.tensor(still, dtype=torch.long, device=device)
                _keep(cache, kept)
                attention = attention[kept]
                active = [active[i] for i in still]
            attention = torch.cat([attention, attention.new_ones((len(active), 1))], dim=1)
            logits = self._step(active, cache, attention)

    def _choose(self, rows: list[Row], logits: torch.Tensor) -> list[int]:
        scores = logits.float()
        constrained = [i for i, row in enumerate(rows) if row.constraint is not None]
        if constrained and self._masks is not None:
            states = [rows[i].constraint.state for i in constrained]  # type: ignore[union-attr]
            allowed = self._masks.rows(states)
            index = torch.tensor(constrained, dtype=torch.long, device=scores.device)
            scores[index] = scores[index].masked_fill(~allowed, float("-inf"))
        if not self._stop_at_eos:
            scores[:, self._eos] = float("-inf")
        if all(row.settings.temperature <= 0 for row in rows):
            return [int(t) for t in torch.argmax(scores, dim=-1).tolist()]
        return [sample(scores[i], row.settings, row.generator) for i, row in enumerate(rows)]

    def _take(self, row: Row, token: int) -> bool:
        """Add ``token`` to ``row``; whether the row is finished."""
        now = time.perf_counter()
        row.first_token_at = row.first_token_at or now
        row.tokens.append(token)
        if row.constraint is not None:
            row.constraint.advance(token)
        row.stopped = row.stream.push(row.tokens)
        ended = self._stop_at_eos and token in self._eos
        if ended or row.stopped or len(row.tokens) >= row.settings.max_new_tokens:
            row.finished_at = now
            return True
        return False

    def _step(self, rows: list[Row], cache: Any, attention: torch.Tensor) -> torch.Tensor:
        device = attention.device
        tokens = torch.tensor([[row.tokens[-1]] for row in rows], device=device)
        positions = torch.tensor([row.position for row in rows], device=device)
        output = self._model(
            input_ids=tokens,
            attention_mask=attention,
            position_ids=positions.view(1, -1, 1).expand(3, -1, -1),
            use_cache=True,
            **{self._cache_argument: cache},
        )
        for row in rows:
            row.position += 1
            row.length += 1
        return output.logits[:, -1]
