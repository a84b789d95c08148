"""Sampling on llama.cpp from the likeliest tokens only.

llama.cpp's grammar sampler checks every token of the vocabulary against the JSON grammar each
step: with Qwen3.5's 248k tokens that costs more than the rest of sampling (about 6 ms per token
on one core). :class:`TokenSampler` takes the :data:`SHORTLIST` likeliest tokens first (numpy's
``argpartition`` over the logits), checks only those against the grammar, and hands llama.cpp's
own samplers (top_k, temperature, top_p and a seeded dist; greedy without a temperature) the
top_k likeliest valid ones, sorted. Tokens are ordered by logit, equal logits by token id
(llama.cpp's greedy sampler picks the lowest id too; its top_k broke such ties arbitrarily).
The shortlist decides whenever it provably holds everything sampling looks at:

- greedy: it holds a valid token (the likeliest valid token is then among them);
- sampling: it holds top_k valid tokens, or every token left out is so much less likely after
  the temperature (below ``exp(-20)`` of the best valid token) that it cannot change a float32
  softmax sum, so top_p keeps and dist draws exactly what the whole vocabulary gives.

Otherwise the grammar checks the whole vocabulary, as llama.cpp's chain did. Without a grammar
llama.cpp's samplers take the logits directly.

Imported only by the llama engine and its parallel sequences.
"""

from __future__ import annotations

import ctypes
import json
import weakref

import llama_cpp
import numpy as np
from llama_cpp.llama_grammar import LlamaGrammar

from napari_fada.errors import ModelLoadError
from napari_fada.models.vlm_engine import GenerationSettings

#: Tokens checked against the grammar before the whole vocabulary is (a JSON answer's next
#: token is nearly always among them).
SHORTLIST = 256
#: A left-out token weighs below ``exp(-_NEGLIGIBLE)`` (2e-9) of the best valid one after the
#: temperature: under half a float32 ulp of any softmax sum holding the best one.
_NEGLIGIBLE = 20.0
#: ``llama_token_data`` as numpy sees it.
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


def likeliest(logits: np.ndarray, count: int) -> np.ndarray:
    """The ids of the ``count`` highest ``logits``, highest first, equal logits by id."""
    size = len(logits)
    if count >= size:
        return np.lexsort((np.arange(size), -logits))
    ids = np.argpartition(logits, size - count)[size - count :]
    threshold = logits[ids].min()
    if np.count_nonzero(logits == threshold) > np.count_nonzero(logits[ids] == threshold):
        above = ids[logits[ids] > threshold]  # ties at the edge: the lowest ids among them
        ids = np.concatenate([above, np.flatnonzero(logits == threshold)[: count - len(above)]])
    return ids[np.lexsort((ids, -logits[ids]))]


def _free(*samplers: llama_cpp.llama_sampler_p | None) -> None:
    for sampler in samplers:
        if sampler is not None:
            llama_cpp.llama_sampler_free(sampler)


class TokenSampler:
    """Samples one sequence's tokens as ``settings`` say, constrained to their JSON schema if
    they have one. ``shortlist`` 0 checks the whole vocabulary every time (the baseline of
    benchmarks and tests). ``shortlisted`` and ``whole`` count the tokens sampled each way."""

    def __init__(
        self, vocab: llama_cpp.llama_vocab_p, settings: GenerationSettings, shortlist: int
    ) -> None:
        self._vocab_size = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self._temperature = settings.temperature
        self._top_k = settings.top_k if settings.temperature > 0 else 1
        self._grammar = self._grammar_sampler(vocab, settings)
        self._chain = llama_cpp.llama_sampler_chain_init(
            llama_cpp.llama_sampler_chain_default_params()
        )
        weakref.finalize(self, _free, self._grammar, self._chain)
        for sampler in self._chain_samplers(settings):
            llama_cpp.llama_sampler_chain_add(self._chain, sampler)
        self._shortlist = max(shortlist, self._top_k) if shortlist > 0 else 0
        self._whole: np.ndarray | None = None  # the grammar's view of every token, when needed
        self._candidates = np.zeros(max(self._shortlist, self._top_k), _TOKEN_DATA)
        self._array = llama_cpp.llama_token_data_array()
        self.shortlisted = self.whole = 0

    @staticmethod
    def _grammar_sampler(
        vocab: llama_cpp.llama_vocab_p, settings: GenerationSettings
    ) -> llama_cpp.llama_sampler_p | None:
        if settings.json_schema is None:
            return None
        grammar = LlamaGrammar.from_json_schema(json.dumps(settings.json_schema), False)
        sampler = llama_cpp.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode(), grammar._root.encode()
        )
        if not sampler:
            raise ModelLoadError("llama.cpp could not build the grammar of the answer's schema.")
        return sampler

    @staticmethod
    def _chain_samplers(settings: GenerationSettings) -> list[llama_cpp.llama_sampler_p]:
        """transformers' order: top_k, temperature, then top_p on the sharpened distribution
        (llama.cpp's own order, top_p before the temperature, sorts the whole vocabulary
        whenever the model is unsure)."""
        if settings.temperature <= 0:
            return [llama_cpp.llama_sampler_init_greedy()]
        return [
            llama_cpp.llama_sampler_init_top_k(settings.top_k),
            llama_cpp.llama_sampler_init_temp(settings.temperature),
            llama_cpp.llama_sampler_init_top_p(settings.top_p, 1),
            llama_cpp.llama_sampler_init_dist(settings.seed),
        ]

    def sample(self, ctx: llama_cpp.llama_context_p, index: int) -> int:
        """The next token from the logits of output ``index`` of the last decode (-1: the
        last), accepted into the grammar's state."""
        if self._grammar is None:  # llama.cpp's chain over the logits, accepting the token
            return int(llama_cpp.llama_sampler_sample(self._chain, ctx, index))
        pointer = llama_cpp.llama_get_logits_ith(ctx, index)
        logits = np.ctypeslib.as_array(pointer, shape=(self._vocab_size,))
        ids = self._shortlisted(logits) if self._shortlist else None
        if ids is None:
            ids = self._valid(logits)
            self.whole += 1
        else:
            self.shortlisted += 1
        token = self._draw(ids[: self._top_k], logits)
        llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self._chain, token)
        return token

    def _shortlisted(self, logits: np.ndarray) -> np.ndarray | None:
        """The valid tokens among the likeliest, likeliest first, or None when they might not
        hold what sampling looks at."""
        ids = likeliest(logits, self._shortlist)
        valid = ids[self._allowed(ids, logits[ids])]
        if len(valid) >= self._top_k:
            return valid
        if len(valid) == 0:
            return None
        gap = float(logits[valid[0]] - logits[ids[-1]])
        return valid if gap / self._temperature > _NEGLIGIBLE else None

    def _valid(self, logits: np.ndarray) -> np.ndarray:
        """Every valid token, the likeliest top_k first: the grammar over the whole vocabulary."""
        if self._whole is None:
            self._whole = np.zeros(self._vocab_size, _TOKEN_DATA)
        valid = np.flatnonzero(self._allowed(np.arange(self._vocab_size), logits, self._whole))
        if not len(valid):
            raise ModelLoadError("llama.cpp's grammar allows no next token: propose again.")
        return valid[likeliest(logits[valid], self._top_k)]  # ids ascending: ties stay by id

    def _allowed(
        self, ids: np.ndarray, logits: np.ndarray, data: np.ndarray | None = None
    ) -> np.ndarray:
        """Which of ``ids`` the grammar allows next."""
        assert self._grammar is not None
        data = self._candidates[: len(ids)] if data is None else data
        data["id"], data["logit"], data["p"] = ids, logits, 0.0
        llama_cpp.llama_sampler_apply(self._grammar, self._point(data, False))
        return np.isfinite(data["logit"])

    def _draw(self, ids: np.ndarray, logits: np.ndarray) -> int:
        """llama.cpp's top_k, temperature, top_p and dist (or greedy) over ``ids``, sorted."""
        data = self._candidates[: len(ids)]
        data["id"], data["logit"], data["p"] = ids, logits[ids], 0.0
        array = self._point(data, True)
        llama_cpp.llama_sampler_apply(self._chain, array)
        return int(array.contents.data[array.contents.selected].id)

    def _point(
        self, data: np.ndarray, ordered: bool
    ) -> ctypes._Pointer[llama_cpp.llama_token_data_array]:
        pointer = data.ctypes.data_as(llama_cpp.llama_token_data_p)
        self._array.data = pointer  # type: ignore[assignment]  # llama_cpp types it an array
        self._array.size, self._array.selected, self._array.sorted = len(data), -1, ordered
        return ctypes.pointer(self._array)
