"""FADA (or any Qwen-VL fine-tune) through transformers, from a local checkpoint folder.

The image reuse works on the KV cache: :meth:`HFEngine.encode_image` runs the vision tower and
prefills the chat up to and including the image once; each phase prefills its prompt on a deep
copy of that cache (hybrid models such as Qwen3.5 keep recurrent state that cannot be cropped
back, a copy works for every cache). Qwen-VL places text after an image at M-RoPE positions
shifted by ``rope_deltas``; the prefill computes them and each phase continues from them, so a
continued generation equals a full one token for token. :meth:`HFEngine.generate_batch` then
decodes several such sequences together (:mod:`napari_fada.models.hf_decode`): the phases of
one image that do not need each other, and those of several images.

Importing this module imports torch and transformers; the registry imports it only when a user
picks the transformers backend.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from napari_fada.errors import ModelLoadError
from napari_fada.models import hf_checkpoint
from napari_fada.models.hf_decode import Decoder, Row
from napari_fada.models.hf_generation import JsonConstraint, JsonMasks, TextStream, TokenTexts
from napari_fada.models.vlm_engine import (
    Ask,
    Generation,
    GenerationSettings,
    ImageContext,
    TokenCallback,
    VisionLanguageEngine,
)

_PROMPT_MARK = "\x00fada-prompt\x00"
_CHATML_PREFIX = "<|im_start|>user\n<|vision_start|>{image}<|vision_end|>"
_CHATML_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"


@dataclass
class _Prefix:
    """What :meth:`HFEngine.generate_batch` continues from (``ImageContext.state``)."""

    input_ids: torch.Tensor
    cache: Any
    rope_deltas: torch.Tensor | None
    vision_inputs: dict[str, torch.Tensor]


#: Optional kernels transformers uses for linear-attention layers (Qwen3.5's gated delta-net)
#: when they are importable, by module and pip name; without them it runs slow PyTorch code.
FAST_KERNELS = (("fla", "flash-linear-attention"), ("causal_conv1d", "causal-conv1d"))


def kernel_note(config: dict[str, Any]) -> str | None:
    """What the status line says about the fast kernels, for a model with linear-attention
    layers (None for others: they need none)."""
    layers = config.get("text_config", config).get("layer_types") or []
    if "linear_attention" not in layers:
        return None
    missing = [name for module, name in FAST_KERNELS if importlib.util.find_spec(module) is None]
    if not missing:
        return "fast kernels: " + ", ".join(name for _, name in FAST_KERNELS)
    return (
        f"slow linear attention: {' and '.join(missing)} missing "
        f"(on a CUDA GPU: pip install {' '.join(missing)})"
    )


def _cache_of(output: Any) -> Any:
    """The cache a forward pass returned (``cache`` in transformers 5, before that
    ``past_key_values``)."""
    cache = output.get("cache")
    return cache if cache is not None else output.past_key_values


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _pick_dtype(dtype: Any, device: str) -> torch.dtype:
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None) if dtype else None
        if not isinstance(dtype, torch.dtype):
            raise ModelLoadError(
                "Unknown dtype for the transformers backend: use float32, bfloat16 or float16."
            )
    if dtype is not None:
        return dtype
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _chat_parts(tokenizer: Any, image_token: str) -> tuple[str, str]:
    """(text up to and including the image, text after the prompt) of one user turn.

    From the checkpoint's chat template when it has one, else ChatML as FADA was trained.
    """
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": _PROMPT_MARK}]}
    ]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # no template, or one that does not take this message shape
        text = ""
    prefix, mark, suffix = text.partition(_PROMPT_MARK)
    if not mark or prefix.count(image_token) != 1:
        return _CHATML_PREFIX.format(image=image_token), _CHATML_SUFFIX
    return prefix, suffix


class HFEngine(VisionLanguageEngine):
    """A Qwen-VL checkpoint folder run by transformers on CPU or CUDA.

    ``reuse_image`` False re-encodes and re-prefills the image in every phase (a baseline for
    benchmarks and tests); ``stop_at_eos`` False generates exactly ``max_new_tokens`` tokens.
    """

    def __init__(
        self,
        checkpoint: Path,
        device: str = "auto",
        dtype: Any = None,
        n_threads: int | None = None,
        reuse_image: bool = True,
    ) -> None:
        hf_checkpoint.go_offline()
        self.checkpoint = Path(checkpoint)
        self._config = hf_checkpoint.read_config(self.checkpoint)
        if n_threads:
            torch.set_num_threads(n_threads)
        self.device = _pick_device(device)
        self.tokenizer, self.image_processor = hf_checkpoint.load_preprocessing(self.checkpoint)
        self.model = hf_checkpoint.load_model(
            self.checkpoint, self.device, _pick_dtype(dtype, self.device)
        )
        self.info = hf_checkpoint.checkpoint_info(self.checkpoint)
        note = kernel_note(self._config)
        self.notes = (note,) if note else ()
        self.reuse_image = reuse_image
        self.stop_at_eos = True
        self._image_token_id = int(self._config["image_token_id"])
        self._image_token = self.tokenizer.convert_ids_to_tokens(self._image_token_id)
        self._prefix_text, self._suffix_text = _chat_parts(self.tokenizer, self._image_token)
        self._eos_ids = self._end_tokens()
        self._masks: JsonMasks | None = None
        parameters = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self.max_batch = 16  # a batch of images asks two per image at once

    def _end_tokens(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            ids.append(im_end)
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        return sorted(set(ids))

    def _tokens(self, text: str) -> torch.Tensor:
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return ids.to(self.device)

    def _vision_inputs(self, image: np.ndarray) -> dict[str, torch.Tensor]:
        rgb = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
        pixels = self.image_processor(images=[rgb], return_tensors="pt")
        return {
            "pixel_values": pixels["pixel_values"].to(self.device, self.model.dtype),
            "image_grid_thw": pixels["image_grid_thw"].to(self.device),
        }

    def encode_image(self, image: np.ndarray) -> ImageContext:
        start = time.perf_counter()
        vision = self._vision_inputs(image)
        merge = int(self.image_processor.merge_size)
        image_tokens = int(vision["image_grid_thw"].prod()) // merge**2
        input_ids = self._tokens(
            self._prefix_text.replace(self._image_token, self._image_token * image_tokens)
        )
        cache, rope_deltas = None, None
        if self.reuse_image:
            cache, rope_deltas = self._prefill(input_ids, vision)
        state = _Prefix(input_ids, cache, rope_deltas, vision)
        height, width = np.asarray(image).shape[:2]
        return ImageContext(width, height, image_tokens, time.perf_counter() - start, state)

    def _with_vision(
        self, input_ids: torch.Tensor, vision: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Model inputs holding the image; transformers 5 also wants each token's modality."""
        inputs = {"input_ids": input_ids, **vision}
        if "mm_token_type_ids" in inspect.signature(self.model.model.get_rope_index).parameters:
            inputs["mm_token_type_ids"] = (input_ids == self._image_token_id).to(torch.int32)
        return inputs

    def _prefill(self, input_ids: torch.Tensor, vision: dict[str, torch.Tensor]) -> tuple[Any, Any]:
        self.model.model.rope_deltas = None
        with torch.inference_mode(), self._out_of_memory_as_error():
            output = self.model(
                **self._with_vision(input_ids, vision), use_cache=True, logits_to_keep=1
            )
        return _cache_of(output), self.model.model.rope_deltas

    @contextlib.contextmanager
    def _out_of_memory_as_error(self) -> Iterator[None]:
        """An out-of-memory failure during a forward pass becomes a ModelLoadError."""
        try:
            yield
        except Exception as exc:
            if hf_checkpoint.is_out_of_memory(exc):
                raise hf_checkpoint.out_of_memory_error(self.checkpoint, self.device) from exc
            raise

    def _row(self, prefix: _Prefix, ask: Ask) -> Row:
        """``ask``'s prompt prefilled after the image prefix (a copy of its cache, or the whole
        chat again without reuse), as a row to decode."""
        suffix = self._tokens(ask.prompt + self._suffix_text)
        start = int(prefix.input_ids.shape[1])
        length = start + int(suffix.shape[1])
        if self.reuse_image:
            delta = 0 if prefix.rope_deltas is None else int(prefix.rope_deltas.view(-1)[0])
            positions = torch.arange(start, length, device=self.device) + delta
            output = self.model(
                input_ids=suffix,
                position_ids=positions.view(1, 1, -1).expand(3, -1, -1),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_argument: copy.deepcopy(prefix.cache)},
            )
        else:
            self.model.model.rope_deltas = None
            input_ids = torch.cat([prefix.input_ids, suffix], dim=1)
            vision = self._with_vision(input_ids, prefix.vision_inputs)
            output = self.model(**vision, use_cache=True, logits_to_keep=1)
            delta = int(self.model.model.rope_deltas.view(-1)[0])
        settings = ask.settings
        generator = None
        if settings.temperature > 0:
            generator = torch.Generator(device=self.device).manual_seed(settings.seed)
        constraint = None
        if settings.json_schema is not None:
            constraint = JsonConstraint(settings.json_schema, self._json_masks().texts)
        return Row(
            cache=_cache_of(output),
            logits=output.logits[0, -1],
            length=length,
            position=length + delta,
            settings=settings,
            stream=TextStream(self.tokenizer, ask.on_text),
            constraint=constraint,
            generator=generator,
        )

    def _json_masks(self) -> JsonMasks:
        if self._masks is None:
            vocab = int(self.model.get_output_embeddings().weight.shape[0])
            texts = TokenTexts(self.tokenizer, vocab, self.device)
            self._masks = JsonMasks(texts, self._eos_ids)
        return self._masks

    def generate(
        self,
        context: ImageContext,
        prompt: str,
        settings: GenerationSettings,
        on_text: TokenCallback | None = None,
    ) -> Generation:
        return self.generate_batch([Ask(context, prompt, settings, on_text)])[0]

    def generate_batch(self, asks: Sequence[Ask]) -> list[Generation]:
        """The answers to ``asks``, up to :attr:`max_batch` decoded together."""
        answers: list[Generation] = []
        for first in range(0, len(asks), self.max_batch):
            answers += self._decode_together(asks[first : first + self.max_batch])
            if any(answer.stopped_by_callback for answer in answers):
                break
        return answers

    def _decode_together(self, asks: Sequence[Ask]) -> list[Generation]:
        start = time.perf_counter()
        with torch.inference_mode(), self._out_of_memory_as_error():
            rows = [self._row(ask.context.state, ask) for ask in asks]
            prompt_tokens = [row.length for row in rows]
            masks = self._masks if any(row.constraint for row in rows) else None
            Decoder(
                self.model, self._eos_ids, masks, self.stop_at_eos, self._cache_argument
            ).decode(rows)
        answers = []
        for row, prompt_length in zip(rows, prompt_tokens, strict=True):
            first = row.first_token_at or start
            answers.append(
                Generation(
                    text=self.tokenizer.decode(row.tokens, skip_special_tokens=True),
                    prompt_tokens=prompt_length,
                    generated_tokens=len(row.tokens),
                    prefill_s=first - start,
                    decode_s=(row.finished_at or first) - first,
                    stopped_by_callback=row.stopped,
                )
            )
        return answers

    def close(self) -> None:
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
