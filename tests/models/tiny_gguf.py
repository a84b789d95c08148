"""Qwen2.5-VL-style GGUF files (text model + mmproj) written offline with the ``gguf`` package.

llama.cpp loads them exactly as it loads FADA's published GGUF + mmproj pair: architecture
``qwen2vl`` (M-RoPE) for the text model, projector ``qwen2.5vl_merger`` for the vision file, a
byte-level BPE tokenizer with Qwen's ChatML and vision special tokens and a ChatML chat template.
:func:`build_gguf_pair` writes a tiny pair for the tests (milliseconds per token) and, with
:class:`TextShape` / :class:`VisionShape` sizes of a real model, the benchmark's random model.

Random weights rarely close a JSON answer, even under a grammar (a string may grow forever). The
tiny model therefore carries a fixed preference per token: every token embedding has a large
component along the first hidden axis and the output weights read that axis with a per-token
bias, so after any token the end of the answer, ``{``, ``}``, ``]`` and ``"`` are likelier than
``,``, digits and letters, and signs and whitespace least likely. Under a JSON-schema grammar
that closes strings, objects and lists early, gives one-digit coordinates (the digits tie, so
the sampler's seed picks them) and one item per list: short valid answers, sampled or greedy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: The one merge (llama.cpp refuses a BPE tokenizer without merges) and the token it makes.
_MERGE = ("Ġ", "Ġ")

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Preference per answer character (see the module docstring); other tokens get 0.
_PREFERENCE: dict[str, float] = {
    "{": 6.0,
    "}": 5.0,
    "]": 4.0,
    '"': 3.0,
    ",": 2.0,
    ":": 2.0,
    **dict.fromkeys("0123456789", 1.0),
    **dict.fromkeys("- \n\t", -3.0),
}
_END_PREFERENCE = 8.0
#: Byte tokens of the digits: equally likely everywhere, so the sampler's seed picks them.
_DIGIT_IDS = [ord(d) for d in "0123456789"]


@dataclass(frozen=True)
class TextShape:
    """Sizes of the ``qwen2vl`` text model. ``vocab`` pads the tokenizer with unused tokens."""

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 128
    vocab: int = 0
    context: int = 8192
    #: M-RoPE sections (time, height, width, unused) in rotated pairs; sum = head dim / 2.
    rope_sections: tuple[int, int, int, int] = (2, 3, 3, 0)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass(frozen=True)
class VisionShape:
    """Sizes of the ``qwen2.5vl_merger`` vision encoder (patch 14, 2x2 merge, as Qwen2.5-VL).

    The FFN size must differ from the hidden size: llama.cpp tells up from down projections by
    their shapes.
    """

    hidden: int = 32
    layers: int = 2
    heads: int = 2
    ffn: int = 48
    patch: int = 14


@dataclass(frozen=True)
class GgufPair:
    model: Path
    mmproj: Path


def _byte_tokens() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes, the byte-level BPE alphabet."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for byte in range(256):
        if byte not in chars:
            chars[byte] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def _vocabulary(size: int) -> tuple[list[str], list[int]]:
    """Tokens and their types: the bytes, the merged token, specials, then unused padding."""
    tokens = [*_byte_tokens(), "".join(_MERGE)]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    tokens += SPECIAL_TOKENS
    types += [gguf.TokenType.CONTROL] * len(SPECIAL_TOKENS)
    padding = max(size - len(tokens), 0)
    tokens += [f"<|unused_{i}|>" for i in range(padding)]
    types += [gguf.TokenType.UNUSED] * padding
    return tokens, [int(t) for t in types]


def _preferences(tokens: list[str], end_id: int) -> np.ndarray:
    table = dict(zip(_byte_tokens(), (chr(b) for b in range(256)), strict=True))
    bias = np.array([_PREFERENCE.get(table.get(t, ""), 0.0) for t in tokens], dtype=np.float32)
    bias[end_id] = _END_PREFERENCE
    return bias


class _Weights:
    """Random tensors in a fixed order from one seeded generator, as float32 or float16."""

    def __init__(self, seed: int, dtype: type[np.floating]) -> None:
        self._rng = np.random.default_rng(seed)
        self._dtype = dtype

    def normal(self, *shape: int, scale: float = 0.02) -> np.ndarray:
        values = self._rng.standard_normal(shape, dtype=np.float32) * scale
        return values.astype(self._dtype)

    def ones(self, *shape: int) -> np.ndarray:
        return np.ones(shape, dtype=np.float32)


def _text_tensors(
    shape: TextShape, weights: _Weights, bias: np.ndarray
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) of the qwen2vl text model; numpy shapes are ggml's reversed."""
    hidden, kv = shape.hidden, shape.kv_heads * shape.head_dim
    embeddings = weights.normal(len(bias), hidden)
    output = weights.normal(len(bias), hidden)
    # Embeddings lie along the first hidden axis; the output reads it as a per-token bias.
    embeddings[:, 0] = 1.0
    output[_DIGIT_IDS, :] = 0.0
    output[:, 0] = bias / np.sqrt(hidden)
    yield "token_embd.weight", embeddings
    yield "output_norm.weight", weights.ones(hidden)
    yield "output.weight", output
    for i in range(shape.layers):
        block = f"blk.{i}"
        yield f"{block}.attn_norm.weight", weights.ones(hidden)
        yield f"{block}.attn_q.weight", weights.normal(hidden, hidden)
        yield f"{block}.attn_q.bias", weights.normal(hidden).astype(np.float32)
        yield f"{block}.attn_k.weight", weights.normal(kv, hidden)
        yield f"{block}.attn_k.bias", weights.normal(kv).astype(np.float32)
        yield f"{block}.attn_v.weight", weights.normal(kv, hidden)
        yield f"{block}.attn_v.bias", weights.normal(kv).astype(np.float32)
        yield f"{block}.attn_output.weight", weights.normal(hidden, hidden)
        yield f"{block}.ffn_norm.weight", weights.ones(hidden)
        yield f"{block}.ffn_gate.weight", weights.normal(shape.ffn, hidden)
        yield f"{block}.ffn_up.weight", weights.normal(shape.ffn, hidden)
        yield f"{block}.ffn_down.weight", weights.normal(hidden, shape.ffn)


def _vision_tensors(
    shape: VisionShape, text_hidden: int, weights: _Weights
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) of the qwen2.5vl_merger projector (window attention, RMS norms)."""
    hidden, merged = shape.hidden, shape.hidden * 4

    def f32(array: np.ndarray) -> np.ndarray:
        return array.astype(np.float32)

    # Qwen2.5-VL embeds two video frames; a still image goes through both kernels.
    yield "v.patch_embd.weight", weights.normal(hidden, 3, shape.patch, shape.patch)
    yield "v.patch_embd.weight.1", weights.normal(hidden, 3, shape.patch, shape.patch)
    for i in range(shape.layers):
        block = f"v.blk.{i}"
        yield f"{block}.ln1.weight", weights.ones(hidden)
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            yield f"{block}.{name}.weight", weights.normal(hidden, hidden)
            yield f"{block}.{name}.bias", f32(weights.normal(hidden))
        yield f"{block}.ln2.weight", weights.ones(hidden)
        yield f"{block}.ffn_gate.weight", weights.normal(shape.ffn, hidden)
        yield f"{block}.ffn_gate.bias", f32(weights.normal(shape.ffn))
        yield f"{block}.ffn_up.weight", weights.normal(shape.ffn, hidden)
        yield f"{block}.ffn_up.bias", f32(weights.normal(shape.ffn))
        yield f"{block}.ffn_down.weight", weights.normal(hidden, shape.ffn)
        yield f"{block}.ffn_down.bias", f32(weights.normal(hidden))
    yield "v.post_ln.weight", weights.ones(hidden)
    yield "mm.0.weight", weights.normal(merged, merged)
    yield "mm.0.bias", f32(weights.normal(merged))
    yield "mm.2.weight", weights.normal(text_hidden, merged)
    yield "mm.2.bias", f32(weights.normal(text_hidden))


def write_text_model(
    path: Path,
    shape: TextShape = TextShape(),
    name: str = "tiny-fada-qwen2vl",
    seed: int = 0,
    dtype: type[np.floating] = np.float32,
) -> Path:
    """A ``qwen2vl`` text model with its tokenizer and ChatML template."""
    tokens, types = _vocabulary(shape.vocab)
    end_id = tokens.index("<|im_end|>")
    writer = gguf.GGUFWriter(str(path), "qwen2vl")
    writer.add_name(name)
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.hidden)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_rope_dimension_sections(list(shape.rope_sections))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == np.float16 else 0)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([" ".join(_MERGE)])
    writer.add_eos_token_id(end_id)
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    bias = _preferences(tokens, end_id)
    for tensor_name, array in _text_tensors(shape, _Weights(seed, dtype), bias):
        writer.add_tensor(tensor_name, array)
    _finish(writer)
    return path


def write_mmproj(
    path: Path,
    text_hidden: int,
    shape: VisionShape = VisionShape(),
    seed: int = 1,
    dtype: type[np.floating] = np.float32,
) -> Path:
    """A ``qwen2.5vl_merger`` projector whose output feeds a text model of ``text_hidden``."""
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name("tiny-fada-mmproj")
    writer.add_clip_has_vision_encoder(True)
    writer.add_clip_projector_type("qwen2.5vl_merger")
    writer.add_vision_image_size(560)
    writer.add_vision_patch_size(shape.patch)
    writer.add_vision_embedding_length(shape.hidden)
    writer.add_vision_feed_forward_length(shape.ffn)
    writer.add_vision_block_count(shape.layers)
    writer.add_vision_head_count(shape.heads)
    writer.add_vision_attention_layernorm_eps(1e-6)
    writer.add_vision_projection_dim(text_hidden)
    writer.add_vision_image_mean([0.48145466, 0.4578275, 0.40821073])
    writer.add_vision_image_std([0.26862954, 0.26130258, 0.27577711])
    writer.add_vision_use_silu(True)
    writer.add_vision_n_wa_pattern(2)
    for tensor_name, array in _vision_tensors(shape, text_hidden, _Weights(seed, dtype)):
        writer.add_tensor(tensor_name, array)
    _finish(writer)
    return path


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def build_gguf_pair(folder: Path, text: TextShape = TextShape()) -> GgufPair:
    """The tiny model and its mmproj in ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = write_text_model(folder / "tiny-fada.gguf", text)
    mmproj = write_mmproj(folder / "mmproj-tiny-fada.gguf", text.hidden)
    return GgufPair(model, mmproj)
