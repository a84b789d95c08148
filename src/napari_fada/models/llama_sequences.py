"""Several answers decoded together on llama.cpp: parallel sequences in one context.

llama-cpp-python's ``Llama`` makes a context for one sequence, so this module keeps a second
context of the same model with as many sequences as answers (``n_seq_max``, one unified KV
buffer). Each answer's sequence starts from its image prefix, the state
:meth:`~napari_fada.models.llama_engine.LlamaEngine.encode_image` saved, loaded into the first
sequence of that image and copied to the others (``llama_memory_seq_cp``: attention cells are
shared, not copied; a recurrent state such as Qwen3.5's is copied). Each prompt is prefilled on
its own, then every step decodes one token of every unfinished sequence in one ``llama_decode``
call and samples each with its own sampler (grammar, top_k, temperature, top_p).

Imported only by :mod:`napari_fada.models.llama_engine`.
"""

from __future__ import annotations

import codecs
import ctypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import llama_cpp
from llama_cpp._internals import LlamaBatch, LlamaContext

from napari_fada.models.llama_sampling import TokenSampler
from napari_fada.models.vlm_engine import Ask, Generation

#: Context cells are allotted in steps of this many, so that a context is rarely remade.
_CELLS_STEP = 1024


@dataclass
class _Sequence:
    """One answer being decoded in sequence ``seq_id``."""

    ask: Ask
    seq_id: int
    position: int
    prompt_tokens: int
    sampler: TokenSampler
    limit: int
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    pieces: list[str] = field(default_factory=list)
    generated: int = 0
    last: int = -1
    stopped: bool = False
    prefilled_at: float = 0.0
    finished_at: float = 0.0


class ParallelSequences:
    """Decodes answers together in a context of ``llama``'s model (made on first use, remade
    larger when a call needs more cells). ``tokenize`` (a prompt with the chat's suffix) and
    ``sampler`` are the engine's, and each answer gets at most as many tokens as the engine's
    context leaves it, so answers are built as one at a time."""

    def __init__(
        self,
        llama: llama_cpp.Llama,
        tokenize: Callable[[str], list[int]],
        sampler: Callable[[Any], TokenSampler],
        stop_at_eos: Callable[[], bool],
    ) -> None:
        self._llama = llama
        self._tokenize = tokenize
        self._make_sampler = sampler
        self._stop_at_eos = stop_at_eos
        self._context: LlamaContext | None = None
        self._cells = 0
        self._sequences = 0
        self._batch: LlamaBatch | None = None

    def _ready(self, cells: int, sequences: int) -> LlamaContext:
        """A context of at least ``cells`` cells and ``sequences`` sequences, emptied."""
        if self._context is None or cells > self._cells or sequences > self._sequences:
            self.close()
            params = llama_cpp.llama_context_params.from_buffer_copy(self._llama.context_params)
            self._cells = -(-cells // _CELLS_STEP) * _CELLS_STEP
            self._sequences = max(sequences, self._sequences)
            params.n_ctx = self._cells
            params.n_seq_max = self._sequences
            params.kv_unified = True
            self._context = LlamaContext(model=self._llama._model, params=params, verbose=False)
            self._batch = LlamaBatch(
                n_tokens=max(self._sequences, self._llama.n_batch), embd=0, n_seq_max=1,
                verbose=False,
            )  # fmt: skip
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._context.ctx), True)
        return self._context

    def decode(self, asks: Sequence[Ask]) -> list[Generation]:
        """The answers to ``asks`` (each ``ask.context.state`` a saved image prefix)."""
        start = time.perf_counter()
        prompts = [self._tokenize(ask.prompt) for ask in asks]
        prefixes = {id(ask.context.state): ask.context.state for ask in asks}
        cells = sum(prefix.tokens for prefix in prefixes.values())
        cells += sum(len(p) + a.settings.max_new_tokens for a, p in zip(asks, prompts, strict=True))
        context = self._ready(cells, len(asks))
        memory = llama_cpp.llama_get_memory(context.ctx)
        loaded: dict[int, int] = {}
        for seq_id, ask in enumerate(asks):  # every prefix in place before any prompt
            prefix = ask.context.state
            if id(prefix) in loaded:
                llama_cpp.llama_memory_seq_cp(memory, loaded[id(prefix)], seq_id, -1, -1)
            else:
                self._load(context, prefix.sequence, seq_id)
                loaded[id(prefix)] = seq_id
        sequences = []
        for seq_id, (ask, prompt) in enumerate(zip(asks, prompts, strict=True)):
            prefix = ask.context.state
            used = prefix.tokens + len(prompt)
            limit = min(ask.settings.max_new_tokens, self._llama.n_ctx() - used)
            sequence = _Sequence(
                ask, seq_id, prefix.n_past, used, self._make_sampler(ask.settings), limit
            )
            self._prefill(context, sequence, prompt)
            sequences.append(sequence)
        self._run(context, sequences)
        return [self._answer(s, start) for s in sequences]

    @staticmethod
    def _load(context: LlamaContext, state: bytes, seq_id: int) -> None:
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(context.ctx, buffer, len(state), seq_id) == 0:
            raise RuntimeError("llama.cpp could not load the image prefix into a sequence")

    def _submit(self, context: LlamaContext, rows: list[tuple[int, int, int, bool]]) -> None:
        """Decode ``rows`` of (token, position, sequence, wants logits)."""
        assert self._batch is not None
        batch = self._batch.batch
        batch.n_tokens = len(rows)
        for index, (token, position, seq_id, logits) in enumerate(rows):
            batch.token[index] = token
            batch.pos[index] = position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = seq_id
            batch.logits[index] = logits
        if llama_cpp.llama_decode(context.ctx, batch) != 0:
            raise RuntimeError("llama_decode failed: no room in the context or memory")

    def _prefill(self, context: LlamaContext, sequence: _Sequence, prompt: list[int]) -> None:
        """Evaluate ``prompt`` after the prefix and sample the first token."""
        step = self._llama.n_batch
        for first in range(0, len(prompt), step):
            chunk = prompt[first : first + step]
            rows = [
                (token, sequence.position + i, sequence.seq_id, False)
                for i, token in enumerate(chunk)
            ]
            rows[-1] = (*rows[-1][:3], first + step >= len(prompt))
            self._submit(context, rows)
            sequence.position += len(chunk)
        sequence.prefilled_at = time.perf_counter()
        self._take(sequence, sequence.sampler.sample(context.ctx, len(chunk) - 1))

    def _take(self, sequence: _Sequence, token: int) -> None:
        """Add ``token``; mark the sequence finished when it ends it."""
        sequence.generated += 1
        sequence.last = token
        end = llama_cpp.llama_vocab_is_eog(self._llama._model.vocab, token)
        if end and self._stop_at_eos():
            sequence.finished_at = time.perf_counter()
            return
        piece = "" if end else sequence.decoder.decode(self._llama.detokenize([token]))
        sequence.pieces.append(piece)
        on_text = sequence.ask.on_text
        sequence.stopped = bool(on_text is not None and piece and on_text(piece))
        if sequence.stopped or sequence.generated >= sequence.limit:
            sequence.finished_at = time.perf_counter()

    def _run(self, context: LlamaContext, sequences: list[_Sequence]) -> None:
        """Decode every unfinished sequence one token per step until all are finished."""
        while active := [s for s in sequences if not s.finished_at]:
            self._submit(context, [(s.last, s.position, s.seq_id, True) for s in active])
            for index, sequence in enumerate(active):
                sequence.position += 1
                self._take(sequence, sequence.sampler.sample(context.ctx, index))

    @staticmethod
    def _answer(sequence: _Sequence, start: float) -> Generation:
        return Generation(
            text="".join(sequence.pieces) + sequence.decoder.decode(b"", final=True),
            prompt_tokens=sequence.prompt_tokens,
            generated_tokens=sequence.generated,
            prefill_s=sequence.prefilled_at - start,
            decode_s=sequence.finished_at - sequence.prefilled_at,
            stopped_by_callback=sequence.stopped,
        )

    def close(self) -> None:
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        if self._context is not None:
            self._context.close()
            self._context = None
