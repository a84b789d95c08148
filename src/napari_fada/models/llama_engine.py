"""FADA (or any Qwen-VL GGUF) through llama.cpp: a GGUF text model plus its mmproj vision file.

The image reuse works on llama.cpp's sequence state. :meth:`LlamaEngine.encode_image` tokenizes
the chat prefix holding the image with libmtmd, encodes the image, prefills the prefix once and
saves the sequence's state (KV cache, and the recurrent state of hybrid models such as Qwen3.5,
which cannot be cut back to a position). :meth:`LlamaEngine.generate` restores that state and
continues each phase from it. Qwen-VL's M-RoPE gives an image fewer positions than tokens, so
positions (``n_past``) and context cells (tokens) are counted apart.

Importing this module imports llama_cpp; the registry imports it only when a user picks the
llama.cpp backend.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import mtmd_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from napari_fada.errors import ModelLoadError
from napari_fada.models import llama_files
from napari_fada.models.llama_sampling import SHORTLIST, TokenSampler
from napari_fada.models.llama_sequences import ParallelSequences
from napari_fada.models.vlm_engine import (
    Ask,
    Generation,
    GenerationSettings,
    ImageContext,
    TokenCallback,
    VisionLanguageEngine,
)

#: Room for FADA's largest image (1024 px long side: about 1,340 tokens with patch 14), a
#: prompt and a 1,024-token answer.
DEFAULT_N_CTX = 4096
#: Answers decoded together by default (FADA's independent phases of up to four images).
DEFAULT_SEQUENCES = 2
#: More threads rarely help a 0.8B model on a laptop and oversubscribe hyper-threads.
MAX_DEFAULT_THREADS = 8

_PROMPT_MARK = "\x00fada-prompt\x00"
#: What Qwen chat templates write for an image; libmtmd adds the vision tokens itself.
_QWEN_IMAGE_BLOCK = "<|vision_start|><|image_pad|><|vision_end|>"
_CHATML_PREFIX = "<|im_start|>user\n{media}"
_CHATML_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"

#: llama.cpp's and libmtmd's recent errors, quoted when loading fails.
_native_log: deque[str] = deque(maxlen=20)


#: ggml's log level of errors.
_ERROR = 4


@llama_cpp.llama_log_callback
def _keep_native_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """Keep llama.cpp's errors for error messages; print nothing (napari's terminal stays clean:
    hybrid models such as Qwen3.5 log an error-level note after every image)."""
    if level == _ERROR and text:
        _native_log.append(" ".join(text.decode("utf-8", errors="replace").split()))


llama_cpp.llama_log_set(_keep_native_log, ctypes.c_void_p(0))
mtmd_cpp.mtmd_log_set(_keep_native_log, ctypes.c_void_p(0))
mtmd_cpp.mtmd_helper_log_set(_keep_native_log, ctypes.c_void_p(0))


def default_threads() -> int:
    """The CPUs this process may use, at most :data:`MAX_DEFAULT_THREADS`."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_DEFAULT_THREADS))


def chat_parts(template: str | None, media_marker: str) -> tuple[str, str]:
    """(text up to and including the image marker, text after the prompt) of one user turn.

    From the GGUF's chat template when it renders one image in the usual Qwen way, else ChatML
    as FADA was trained.
    """
    fallback = _CHATML_PREFIX.format(media=media_marker), _CHATML_SUFFIX
    if not template:
        return fallback
    messages: Any = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": _PROMPT_MARK}]}
    ]
    try:
        text = Jinja2ChatFormatter(template, eos_token="", bos_token="")(messages=messages).prompt
    except Exception:  # a template that does not take this message shape
        return fallback
    prefix, mark, suffix = text.partition(_PROMPT_MARK)
    if not mark or prefix.count(_QWEN_IMAGE_BLOCK) != 1:
        return fallback
    return prefix.replace(_QWEN_IMAGE_BLOCK, media_marker), suffix


@dataclass
class _Prefix:
    """What :meth:`LlamaEngine.generate` continues from (``ImageContext.state``).

    ``tokens`` counts context cells (``image_tokens`` of them the image's), ``n_past`` the
    next position. ``sequence`` is the saved state after the prefix (reuse on), ``rgb`` the
    image to encode again (reuse off).
    """

    tokens: int
    image_tokens: int
    n_past: int
    sequence: bytes | None
    rgb: np.ndarray


def _image_tokens(chunks: mtmd_cpp.mtmd_input_chunks_p) -> int:
    total = 0
    for index in range(mtmd_cpp.mtmd_input_chunks_size(chunks)):
        chunk = mtmd_cpp.mtmd_input_chunks_get(chunks, index)
        if mtmd_cpp.mtmd_input_chunk_get_type(chunk) == mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_IMAGE:
            total += int(mtmd_cpp.mtmd_input_chunk_get_n_tokens(chunk))
    return total


def _rgb(image: np.ndarray) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


class LlamaEngine(VisionLanguageEngine):
    """A Qwen-VL GGUF + mmproj pair run by llama.cpp on the CPU.

    ``threads`` defaults to :func:`default_threads`, ``n_ctx`` to :data:`DEFAULT_N_CTX`.
    ``reuse_image`` False encodes and prefills the image again in every phase (a baseline for
    benchmarks and tests); ``stop_at_eos`` False generates exactly ``max_new_tokens`` tokens.
    ``shortlist`` is how many of the likeliest tokens a JSON grammar checks before the whole
    vocabulary (:class:`~napari_fada.models.llama_sampling.TokenSampler`; 0: always the whole).
    """

    def __init__(
        self,
        model: Path,
        mmproj: Path,
        threads: int | None = None,
        n_ctx: int | None = None,
        reuse_image: bool = True,
    ) -> None:
        self.model_path, self.mmproj_path = Path(model), Path(mmproj)
        header = llama_files.check_pair(self.model_path, self.mmproj_path)
        self.threads = threads or default_threads()
        self.reuse_image = reuse_image
        self.stop_at_eos = True
        self.shortlist = SHORTLIST
        self._llama = self._load_text_model(n_ctx or DEFAULT_N_CTX)
        self._mtmd: mtmd_cpp.mtmd_context_p | None = self._load_projector()
        self._vocab = self._llama._model.vocab
        marker = mtmd_cpp.mtmd_default_marker().decode()
        template = self._llama.metadata.get("tokenizer.chat_template")
        self._prefix_text, self._suffix_text = chat_parts(template, marker)
        self.info = llama_files.model_info(self.model_path, self.mmproj_path, header)
        self.max_batch = DEFAULT_SEQUENCES
        self._parallel: ParallelSequences | None = None

    @property
    def n_ctx(self) -> int:
        return int(self._llama.n_ctx())

    def _load_text_model(self, n_ctx: int) -> llama_cpp.Llama:
        _native_log.clear()
        try:
            return llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
        except ValueError as exc:
            if "context" in str(exc):
                raise self._out_of_memory(f"a context of {n_ctx} tokens") from exc
            reasons = " ".join(_native_log) or str(exc)
            raise ModelLoadError(
                f"llama.cpp could not load {self.model_path} ({reasons}): the file is damaged or "
                "needs a newer llama-cpp-python; download it again or update the plugin."
            ) from exc

    def _out_of_memory(self, what: str) -> ModelLoadError:
        return ModelLoadError(
            f"Not enough memory for {what} with {self.model_path.name}: close other programs, "
            "lower the context size (n_ctx) or use a smaller quantization (Q4_K_M)."
        )

    def _load_projector(self) -> mtmd_cpp.mtmd_context_p:
        params = mtmd_cpp.mtmd_context_params_default()
        params.n_threads = self.threads
        params.print_timings = False
        params.warmup = False
        _native_log.clear()
        context = mtmd_cpp.mtmd_init_from_file(
            str(self.mmproj_path).encode(), self._llama.model, params
        )
        if context is None:
            reasons = " ".join(_native_log) or "no reason given"
            hint = (
                "it was made for another model; choose the mmproj published with this model"
                if "mismatch" in reasons
                else "it is damaged or needs a newer llama-cpp-python"
            )
            raise ModelLoadError(
                f"llama.cpp could not load the mmproj {self.mmproj_path} for "
                f"{self.model_path.name} ({reasons}): {hint}."
            )
        if not mtmd_cpp.mtmd_support_vision(context):
            mtmd_cpp.mtmd_free(context)
            raise ModelLoadError(
                f"{self.mmproj_path} has no image encoder: choose the model's vision mmproj."
            )
        return context

    # --- the image prefix ------------------------------------------------------------------

    @contextmanager
    def _chunks(self, rgb: np.ndarray) -> Iterator[mtmd_cpp.mtmd_input_chunks_p]:
        """The prefix text and the image, tokenized by libmtmd."""
        height, width = rgb.shape[:2]
        data = rgb.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
        bitmap = mtmd_cpp.mtmd_bitmap_init(width, height, data)
        chunks = mtmd_cpp.mtmd_input_chunks_init()
        try:
            text = mtmd_cpp.mtmd_input_text()
            encoded = self._prefix_text.encode()
            text.text, text.text_len = encoded, len(encoded)
            text.add_special, text.parse_special = True, True
            bitmaps = (mtmd_cpp.mtmd_bitmap_p_ctypes * 1)(bitmap)
            status = mtmd_cpp.mtmd_tokenize(self._mtmd, chunks, ctypes.byref(text), bitmaps, 1)
            if status != 0:
                raise ModelLoadError(
                    f"libmtmd could not tokenize the chat prefix with the image (code {status}): "
                    f"the chat template of {self.model_path.name} does not suit this mmproj."
                )
            yield chunks
        finally:
            mtmd_cpp.mtmd_input_chunks_free(chunks)
            mtmd_cpp.mtmd_bitmap_free(bitmap)

    def _prefill(self, rgb: np.ndarray, evaluate: bool = True) -> _Prefix:
        """Tokenize the prefix and, if ``evaluate``, encode the image and prefill the prefix
        into an empty context (its state saved when the image is reused)."""
        with self._chunks(rgb) as chunks:
            tokens = int(mtmd_cpp.mtmd_helper_get_n_tokens(chunks))
            image_tokens = _image_tokens(chunks)
            self._check_room(tokens, "the image")
            if not evaluate:
                n_pos = int(mtmd_cpp.mtmd_helper_get_n_pos(chunks))
                return _Prefix(tokens, image_tokens, n_pos, None, rgb)
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._llama.ctx), True)
            n_past = llama_cpp.llama_pos(0)
            status = mtmd_cpp.mtmd_helper_eval_chunks(
                self._mtmd, self._llama.ctx, chunks, 0, 0, self._llama.n_batch, False,
                ctypes.byref(n_past),
            )  # fmt: skip
            if status != 0:
                raise self._out_of_memory(f"an image of {tokens} tokens")
        sequence = self._save_sequence() if self.reuse_image else None
        return _Prefix(tokens, image_tokens, int(n_past.value), sequence, rgb)

    def _check_room(self, tokens: int, what: str) -> None:
        if tokens >= self.n_ctx:
            raise ModelLoadError(
                f"The context of {self.n_ctx} tokens is too small for {what} ({tokens} tokens): "
                "raise the context size (n_ctx) in the model settings."
            )

    def _save_sequence(self) -> bytes:
        size = llama_cpp.llama_state_seq_get_size(self._llama.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._llama.ctx, buffer, size, 0)
        return bytes(buffer[:written])

    def _restore_sequence(self, sequence: bytes) -> None:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._llama.ctx), True)
        buffer = (ctypes.c_uint8 * len(sequence)).from_buffer_copy(sequence)
        if llama_cpp.llama_state_seq_set_data(self._llama.ctx, buffer, len(sequence), 0) == 0:
            raise ModelLoadError("llama.cpp could not restore the image prefix; propose again.")

    def encode_image(self, image: np.ndarray) -> ImageContext:
        start = time.perf_counter()
        rgb = _rgb(image)
        prefix = self._prefill(rgb, evaluate=self.reuse_image)
        height, width = rgb.shape[:2]
        elapsed = time.perf_counter() - start
        return ImageContext(width, height, prefix.image_tokens, elapsed, prefix)

    # --- one phase ---------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[int]:
        return self._llama.tokenize(text.encode(), add_bos=False, special=True)

    def _sampler(self, settings: GenerationSettings) -> TokenSampler:
        return TokenSampler(self._vocab, settings, self.shortlist)

    def _continue_prefix(self, prefix: _Prefix) -> None:
        """The context holding exactly the image prefix, as after :meth:`encode_image`."""
        if prefix.sequence is not None:
            self._restore_sequence(prefix.sequence)
        else:
            self._prefill(prefix.rgb)
        self._llama.n_tokens = prefix.n_past

    def _evaluate(self, tokens: list[int]) -> None:
        try:
            self._llama.eval(tokens)
        except RuntimeError as exc:  # llama_decode failed: no room in the context or memory
            raise self._out_of_memory(f"{len(tokens)} more tokens") from exc

    def generate(
        self,
        context: ImageContext,
        prompt: str,
        settings: GenerationSettings,
        on_text: TokenCallback | None = None,
    ) -> Generation:
        start = time.perf_counter()
        prefix: _Prefix = context.state
        prompt_tokens = self._tokenize(prompt + self._suffix_text)
        used = prefix.tokens + len(prompt_tokens)
        self._check_room(used, "the image and the prompt")
        self._continue_prefix(prefix)
        self._evaluate(prompt_tokens)
        prefilled = time.perf_counter()
        sampler = self._sampler(settings)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []
        generated, stopped = 0, False
        room = min(settings.max_new_tokens, self.n_ctx - used)
        while generated < room:
            token = sampler.sample(self._llama.ctx, -1)
            generated += 1
            end = llama_cpp.llama_vocab_is_eog(self._vocab, token)
            if end and self.stop_at_eos:
                break
            piece = "" if end else decoder.decode(self._llama.detokenize([token]))
            pieces.append(piece)
            if on_text is not None and piece and on_text(piece):
                stopped = True
                break
            self._evaluate([token])
        end_time = time.perf_counter()
        return Generation(
            text="".join(pieces) + decoder.decode(b"", final=True),
            prompt_tokens=used,
            generated_tokens=generated,
            prefill_s=prefilled - start,
            decode_s=end_time - prefilled,
            stopped_by_callback=stopped,
        )

    def generate_batch(self, asks: Sequence[Ask]) -> list[Generation]:
        """The answers to ``asks``, up to :attr:`max_batch` decoded together as parallel
        sequences from their saved image prefixes (one after the other without image reuse)."""
        if self.max_batch < 2 or len(asks) < 2 or not self.reuse_image:
            return super().generate_batch(asks)
        for ask in asks:
            used = ask.context.state.tokens + len(self._tokenize(ask.prompt + self._suffix_text))
            self._check_room(used, "the image and the prompt")
        if self._parallel is None:
            self._parallel = ParallelSequences(
                self._llama,
                lambda prompt: self._tokenize(prompt + self._suffix_text),
                self._sampler,
                lambda: self.stop_at_eos,
            )
        answers: list[Generation] = []
        for first in range(0, len(asks), self.max_batch):
            try:
                answers += self._parallel.decode(asks[first : first + self.max_batch])
            except (RuntimeError, ValueError) as exc:  # no room for the sequences' cells
                raise self._out_of_memory(f"{len(asks)} answers decoded together") from exc
            if any(answer.stopped_by_callback for answer in answers):
                break
        return answers

    def close(self) -> None:
        if self._parallel is not None:
            self._parallel.close()
            self._parallel = None
        if self._mtmd is not None:
            mtmd_cpp.mtmd_free(self._mtmd)
            self._mtmd = None
        self._llama.close()
