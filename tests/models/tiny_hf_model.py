"""Tiny random Qwen-VL checkpoints built offline, for testing the transformers engine.

Each checkpoint folder holds what a published one holds (config.json, safetensors weights,
tokenizer, processor and chat template) so :class:`HFEngine` loads it exactly like FADA's real
weights. The tokenizer is a byte-level BPE trained in code on FADA-like text, with Qwen's ChatML
and vision special tokens; the models are a few thousand parameters, so they run in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_fada.core.prompts import task_prompt
from napari_fada.core.vocabulary import PLANE_LABELS, STRUCTURES

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
VOCAB_SIZE = 512

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Small enough that a 256-pixel image gives a few dozen image tokens.
_MAX_PIXELS = 128 * 128


def _corpus() -> list[str]:
    structures = list(STRUCTURES)
    prompts = [task_prompt(p, structures[:6]) for p in ("interpret", "classify", "detect")]
    answers = [json.dumps({"label": label}) for label in PLANE_LABELS] + [
        json.dumps([{"bbox_2d": [12, 340, 560, 999], "label": s, "mask": [[1, 2], [30, 4]]}])
        for s in structures
    ]
    return prompts + answers + ['0123456789 ,:[]{}"\n']


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )


def _token_ids(tokenizer: Any) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }


_TINY_TEXT: dict[str, Any] = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 4096,
    "bos_token_id": None,
    "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3]},
}
_TINY_VISION: dict[str, Any] = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,
}


@dataclass(frozen=True)
class Architecture:
    """A Qwen-VL family: its classes and what its tiny version changes from the defaults."""

    config_class: str
    model_class: str
    patch_size: int
    text: dict[str, Any]
    vision: dict[str, Any]


ARCHITECTURES: dict[str, Architecture] = {
    "qwen2_5_vl": Architecture(
        "Qwen2_5_VLConfig",
        "Qwen2_5_VLForConditionalGeneration",
        14,
        {},
        {"patch_size": 14, "window_size": 56, "fullatt_block_indexes": [1]},
    ),
    "qwen3_vl": Architecture(
        "Qwen3VLConfig",
        "Qwen3VLForConditionalGeneration",
        16,
        {"rope_parameters": {**_TINY_TEXT["rope_parameters"], "mrope_interleaved": True}},
        {"patch_size": 16, "num_position_embeddings": 64, "deepstack_visual_indexes": [0]},
    ),
    # FADA's own family: gated delta-net (linear attention) layers mixed with full attention.
    "qwen3_5": Architecture(
        "Qwen3_5Config",
        "Qwen3_5ForConditionalGeneration",
        16,
        {
            "head_dim": 32,
            "full_attention_interval": 2,
            "linear_num_key_heads": 2,
            "linear_num_value_heads": 4,
            "linear_key_head_dim": 16,
            "linear_value_head_dim": 16,
            "rope_parameters": {
                "rope_type": "default",
                "mrope_section": [2, 1, 1],
                "mrope_interleaved": True,
                "partial_rotary_factor": 0.25,
            },
        },
        {"patch_size": 16, "num_position_embeddings": 64},
    ),
}


def image_processor(patch_size: int, max_pixels: int = _MAX_PIXELS) -> Any:
    """Qwen-VL's image processor (the PIL one: it needs no torchvision)."""
    from transformers import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": 4 * patch_size**2, "longest_edge": max_pixels},
    )


def build_tiny_checkpoint(
    folder: Path,
    architecture: str = "qwen2_5_vl",
    seed: int = 0,
    text: dict[str, Any] | None = None,
    vision: dict[str, Any] | None = None,
    max_pixels: int = _MAX_PIXELS,
) -> Path:
    """Write a random ``architecture`` checkpoint (see :data:`ARCHITECTURES`) into ``folder``.

    ``text`` and ``vision`` override the tiny sizes (the benchmark gives real model sizes).
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    family = ARCHITECTURES[architecture]
    tokenizer = _tokenizer()
    ids = _token_ids(tokenizer)
    text_config = {
        **_TINY_TEXT,
        **family.text,
        **(text or {}),
        "eos_token_id": ids["eos_token_id"],
        "pad_token_id": ids["pad_token_id"],
    }
    vision_config = {**_TINY_VISION, **family.vision, **(vision or {})}
    config = getattr(transformers, family.config_class)(
        text_config=text_config, vision_config=vision_config, **ids
    )
    model = getattr(transformers, family.model_class)(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    image_processor(family.patch_size, max_pixels).save_pretrained(folder)
    return folder
