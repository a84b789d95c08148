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

import itertools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from tests.models.tiny_hf_model import CHAT_TEMPLATE, SPECIAL_TOKENS

#: The one merge of the tiny models (llama.cpp refuses a BPE tokenizer without merges): their
#: answers are written byte by byte, which the JSON bias needs.
_MERGE = ("Ġ", "Ġ")
#: Roughly the pieces llama.cpp's Qwen pre-tokenizer splits text into before merging.
_PIECES = re.compile(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+")

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
    """Sizes of the text model. ``vocab`` pads the tokenizer with unused tokens.

    ``architecture`` is ``qwen2vl`` (attention in every layer) or ``qwen35`` (Qwen3.5: gated
    delta-net layers, with gated attention in every ``full_attention_interval``-th layer).
    ``head_dim`` 0 means hidden / heads; ``rope_dims`` 0 means the whole head is rotated.
    """

    architecture: str = "qwen2vl"
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 128
    vocab: int = 0
    context: int = 8192
    head_dim: int = 0
    rope_dims: int = 0
    #: M-RoPE sections (time, height, width, unused) in rotated pairs; sum = rope dims / 2.
    rope_sections: tuple[int, int, int, int] = (2, 3, 3, 0)
    #: Gated delta-net sizes (qwen35 only): key heads, value heads, head size.
    delta_key_heads: int = 2
    delta_value_heads: int = 2
    delta_head_dim: int = 16
    full_attention_interval: int = 4
    #: The output layer is the token embedding, as in Qwen3.5-0.8B; the JSON bias then needs
    #: separate output weights, so tied models answer random text (fine for benchmarks).
    tied_embeddings: bool = False
    #: Standard deviation of the random weights; larger ones make the answers depend on every
    #: position and cache cell (at 0.02 attention is nearly uniform), as batching tests need.
    std: float = 0.02

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim or self.hidden // self.heads


@dataclass(frozen=True)
class VisionShape:
    """Sizes of the vision encoder: ``qwen2.5vl_merger`` (Qwen2.5-VL: patch 14, window
    attention, RMS norms, SiLU-gated FFN) or ``qwen3vl_merger`` (Qwen3-VL / Qwen3.5: patch 16,
    learned position embeddings, fused QKV, layer norms, GELU FFN); both merge 2x2 patches.

    The FFN size must differ from the hidden size: llama.cpp tells up from down projections by
    their shapes.
    """

    projector: str = "qwen2.5vl_merger"
    hidden: int = 32
    layers: int = 2
    heads: int = 2
    ffn: int = 48
    patch: int = 14
    positions: int = 2304


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


def _merged(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    for part in word:
        if out and (out[-1], part) == pair:
            out[-1] += part
        else:
            out.append(part)
    return tuple(out)


def learn_merges(corpus: Sequence[str], count: int) -> list[tuple[str, str]]:
    """Up to ``count`` byte-level BPE merges learned from ``corpus``, most frequent pair first,
    so that a model's prompts take about as many tokens as with a real Qwen vocabulary."""
    table = _byte_tokens()
    words: Counter[tuple[str, ...]] = Counter(
        tuple(table[b] for b in piece.encode())
        for text in corpus
        for piece in _PIECES.findall(text)
    )
    merges = [_MERGE]
    while len(merges) < count:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, frequency in words.items():
            for pair in itertools.pairwise(word):
                pairs[pair] += frequency
        if not pairs:
            break
        best = max(pairs, key=lambda pair: pairs[pair])
        merges.append(best)
        merged: Counter[tuple[str, ...]] = Counter()
        for word, frequency in words.items():
            merged[_merged(word, best)] += frequency
        words = merged
    return merges


def _vocabulary(size: int, merges: Sequence[tuple[str, str]]) -> tuple[list[str], list[int]]:
    """Tokens and their types: the bytes, merged tokens, specials, then unused padding."""
    tokens = [*_byte_tokens(), *dict.fromkeys(a + b for a, b in merges)]
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
    """Random tensors in a fixed order from one seeded generator.

    Matrices take the file's ``dtype`` (F32 or F16); vectors and norms stay F32 as llama.cpp
    expects.
    """

    def __init__(self, seed: int, dtype: type[np.floating], std: float = 0.02) -> None:
        self._rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.std = np.float32(std)

    def normal(self, *shape: int, dtype: type[np.floating] | None = None) -> np.ndarray:
        values = self._rng.standard_normal(shape, dtype=np.float32) * self.std
        return values.astype(dtype or self.dtype, copy=False)

    def ones(self, *shape: int) -> np.ndarray:
        return np.ones(shape, dtype=np.float32)


def _embeddings(
    shape: TextShape, weights: _Weights, bias: np.ndarray
) -> Iterator[tuple[str, np.ndarray]]:
    hidden = shape.hidden
    embeddings = weights.normal(len(bias), hidden)
    if shape.tied_embeddings:
        yield "token_embd.weight", embeddings
        yield "output_norm.weight", weights.ones(hidden)
        return
    output = weights.normal(len(bias), hidden)
    # Embeddings lie along the first hidden axis; the output reads it as a per-token bias.
    embeddings[:, 0] = 1.0
    output[_DIGIT_IDS, :] = 0.0
    output[:, 0] = bias / np.sqrt(hidden)
    yield "token_embd.weight", embeddings.astype(weights.dtype)
    yield "output_norm.weight", weights.ones(hidden)
    yield "output.weight", output.astype(weights.dtype)


def _ffn(shape: TextShape, weights: _Weights, block: str) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{block}.ffn_gate.weight", weights.normal(shape.ffn, shape.hidden)
    yield f"{block}.ffn_up.weight", weights.normal(shape.ffn, shape.hidden)
    yield f"{block}.ffn_down.weight", weights.normal(shape.hidden, shape.ffn)


def _qwen2vl_layer(
    shape: TextShape, weights: _Weights, block: str
) -> Iterator[tuple[str, np.ndarray]]:
    hidden, kv = shape.hidden, shape.kv_heads * shape.attention_head_dim
    yield f"{block}.attn_norm.weight", weights.ones(hidden)
    for name, size in (("attn_q", hidden), ("attn_k", kv), ("attn_v", kv)):
        yield f"{block}.{name}.weight", weights.normal(size, hidden)
        yield f"{block}.{name}.bias", weights.normal(size, dtype=np.float32)
    yield f"{block}.attn_output.weight", weights.normal(hidden, hidden)
    yield f"{block}.ffn_norm.weight", weights.ones(hidden)
    yield from _ffn(shape, weights, block)


def _qwen35_layer(
    shape: TextShape, weights: _Weights, block: str, attention: bool
) -> Iterator[tuple[str, np.ndarray]]:
    """A Qwen3.5 layer: gated attention (query and gate in one projection) or a gated
    delta-net (fused QKV, output gate, causal conv, per-head decay and step)."""
    hidden, head = shape.hidden, shape.attention_head_dim
    yield f"{block}.attn_norm.weight", weights.ones(hidden)
    yield f"{block}.post_attention_norm.weight", weights.ones(hidden)
    if attention:
        yield f"{block}.attn_q.weight", weights.normal(2 * shape.heads * head, hidden)
        yield f"{block}.attn_k.weight", weights.normal(shape.kv_heads * head, hidden)
        yield f"{block}.attn_v.weight", weights.normal(shape.kv_heads * head, hidden)
        yield f"{block}.attn_output.weight", weights.normal(hidden, shape.heads * head)
        yield f"{block}.attn_q_norm.weight", weights.ones(head)
        yield f"{block}.attn_k_norm.weight", weights.ones(head)
    else:
        keys = shape.delta_key_heads * shape.delta_head_dim
        values = shape.delta_value_heads * shape.delta_head_dim
        heads = shape.delta_value_heads
        yield f"{block}.attn_qkv.weight", weights.normal(2 * keys + values, hidden)
        yield f"{block}.attn_gate.weight", weights.normal(values, hidden)
        yield f"{block}.ssm_conv1d.weight", weights.normal(2 * keys + values, 4, dtype=np.float32)
        yield f"{block}.ssm_dt.bias", weights.normal(heads, dtype=np.float32)
        yield f"{block}.ssm_a", -weights.ones(heads)
        yield f"{block}.ssm_beta.weight", weights.normal(heads, hidden)
        yield f"{block}.ssm_alpha.weight", weights.normal(heads, hidden)
        yield f"{block}.ssm_norm.weight", weights.ones(shape.delta_head_dim)
        yield f"{block}.ssm_out.weight", weights.normal(hidden, values)
    yield from _ffn(shape, weights, block)


def _text_tensors(
    shape: TextShape, weights: _Weights, bias: np.ndarray
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) of the text model; numpy shapes are ggml's reversed."""
    yield from _embeddings(shape, weights, bias)
    for i in range(shape.layers):
        if shape.architecture == "qwen35":
            attention = (i + 1) % shape.full_attention_interval == 0
            yield from _qwen35_layer(shape, weights, f"blk.{i}", attention)
        else:
            yield from _qwen2vl_layer(shape, weights, f"blk.{i}")


def _vision_block(
    shape: VisionShape, weights: _Weights, i: int
) -> Iterator[tuple[str, np.ndarray]]:
    hidden, block = shape.hidden, f"v.blk.{i}"
    qwen3 = shape.projector == "qwen3vl_merger"
    names = ("attn_qkv", "attn_out") if qwen3 else ("attn_q", "attn_k", "attn_v", "attn_out")
    ffn = ("ffn_up", "ffn_down") if qwen3 else ("ffn_gate", "ffn_up", "ffn_down")
    yield from _norm(weights, f"{block}.ln1", hidden, qwen3)
    for name in names:
        rows = 3 * hidden if name == "attn_qkv" else hidden
        yield f"{block}.{name}.weight", weights.normal(rows, hidden)
        yield f"{block}.{name}.bias", weights.normal(rows, dtype=np.float32)
    yield from _norm(weights, f"{block}.ln2", hidden, qwen3)
    for name in ffn:
        rows, columns = (hidden, shape.ffn) if name == "ffn_down" else (shape.ffn, hidden)
        yield f"{block}.{name}.weight", weights.normal(rows, columns)
        yield f"{block}.{name}.bias", weights.normal(rows, dtype=np.float32)


def _norm(
    weights: _Weights, name: str, size: int, with_bias: bool
) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{name}.weight", weights.ones(size)
    if with_bias:
        yield f"{name}.bias", weights.normal(size, dtype=np.float32)


def _vision_tensors(
    shape: VisionShape, text_hidden: int, weights: _Weights
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) of the projector. Qwen-VL embeds two video frames; a still image goes
    through both patch kernels."""
    hidden, merged = shape.hidden, shape.hidden * 4
    qwen3 = shape.projector == "qwen3vl_merger"
    yield "v.patch_embd.weight", weights.normal(hidden, 3, shape.patch, shape.patch)
    yield "v.patch_embd.weight.1", weights.normal(hidden, 3, shape.patch, shape.patch)
    if qwen3:
        yield "v.patch_embd.bias", weights.normal(hidden, dtype=np.float32)
        # llama.cpp interpolates the position table to the image grid in F32 only.
        yield "v.position_embd.weight", weights.normal(shape.positions, hidden, dtype=np.float32)
    for i in range(shape.layers):
        yield from _vision_block(shape, weights, i)
    yield from _norm(weights, "v.post_ln", hidden, qwen3)
    yield "mm.0.weight", weights.normal(merged, merged)
    yield "mm.0.bias", weights.normal(merged, dtype=np.float32)
    yield "mm.2.weight", weights.normal(text_hidden, merged)
    yield "mm.2.bias", weights.normal(text_hidden, dtype=np.float32)


def _text_parameters(writer: gguf.GGUFWriter, shape: TextShape) -> None:
    head = shape.attention_head_dim
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.hidden)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_key_length(head)
    writer.add_value_length(head)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_rope_dimension_count(shape.rope_dims or head)
    writer.add_rope_dimension_sections(list(shape.rope_sections))
    if shape.architecture == "qwen35":
        writer.add_ssm_conv_kernel(4)
        writer.add_ssm_state_size(shape.delta_head_dim)
        writer.add_ssm_group_count(shape.delta_key_heads)
        writer.add_ssm_time_step_rank(shape.delta_value_heads)
        writer.add_ssm_inner_size(shape.delta_value_heads * shape.delta_head_dim)
        writer.add_full_attention_interval(shape.full_attention_interval)


def _tokenizer(
    writer: gguf.GGUFWriter,
    tokens: list[str],
    types: list[int],
    merges: Sequence[tuple[str, str]],
) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([f"{a} {b}" for a, b in merges])
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)


def write_text_model(
    path: Path,
    shape: TextShape = TextShape(),
    name: str = "tiny-fada-qwen2vl",
    seed: int = 0,
    dtype: type[np.floating] = np.float32,
    merges: Sequence[tuple[str, str]] = (_MERGE,),
) -> Path:
    """The text model with its tokenizer and ChatML template (F32, or F16 matrices).

    ``merges`` (see :func:`learn_merges`) give word-sized tokens; the default single merge
    keeps the byte-by-byte answers the tiny models' JSON bias relies on.
    """
    tokens, types = _vocabulary(shape.vocab, merges)
    writer = gguf.GGUFWriter(str(path), shape.architecture)
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == np.float16 else 0)
    _text_parameters(writer, shape)
    _tokenizer(writer, tokens, types, merges)
    bias = _preferences(tokens, tokens.index("<|im_end|>"))
    for tensor_name, array in _text_tensors(shape, _Weights(seed, dtype, shape.std), bias):
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
    """A projector whose output feeds a text model of ``text_hidden``."""
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name("tiny-fada-mmproj")
    writer.add_clip_has_vision_encoder(True)
    writer.add_clip_projector_type(shape.projector)
    writer.add_vision_image_size(shape.patch * 40)
    writer.add_vision_patch_size(shape.patch)
    writer.add_vision_embedding_length(shape.hidden)
    writer.add_vision_feed_forward_length(shape.ffn)
    writer.add_vision_block_count(shape.layers)
    writer.add_vision_head_count(shape.heads)
    writer.add_vision_attention_layernorm_eps(1e-6)
    writer.add_vision_projection_dim(text_hidden)
    writer.add_vision_image_mean([0.5, 0.5, 0.5])
    writer.add_vision_image_std([0.5, 0.5, 0.5])
    if shape.projector == "qwen3vl_merger":
        writer.add_vision_use_gelu(True)
        writer.add_vision_spatial_merge_size(2)
    else:
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


#: A tiny Qwen3.5 (FADA's architecture): hybrid memory that cannot be cut back to a position.
TINY_QWEN35 = (
    TextShape(architecture="qwen35", heads=2, kv_heads=1, layers=4, rope_dims=16),
    VisionShape(projector="qwen3vl_merger", patch=16),
)


def build_gguf_pair(
    folder: Path,
    text: TextShape = TextShape(),
    vision: VisionShape = VisionShape(),
    name: str = "tiny-fada-qwen2vl",
) -> GgufPair:
    """The tiny model and its mmproj in ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = write_text_model(folder / "tiny-fada.gguf", text, name)
    mmproj = write_mmproj(folder / "mmproj-tiny-fada.gguf", text.hidden, vision)
    return GgufPair(model, mmproj)
