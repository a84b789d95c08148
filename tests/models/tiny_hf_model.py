"""Tiny random Qwen-VL checkpoints built offline, for testing the transformers engine.

Each checkpoint folder holds what a published one holds (config.json, safetensors weights,
tokenizer, processor and chat template) so :class:`HFEngine` loads it exactly like FADA's real
weights. The tokenizer is a byte-level BPE trained in code on FADA-like text, with Qwen's ChatML
and vision special tokens; the models are a few thousand parameters, so they run in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

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


def _tokenizer() -> object:
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


def _token_ids(tokenizer: object) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}  # type: ignore[attr-defined]
    return {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }


def _text_config(ids: dict[str, int], head_dim: int) -> dict[str, object]:
    return {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": head_dim,
        "max_position_embeddings": 4096,
        "eos_token_id": ids["eos_token_id"],
        "pad_token_id": ids["pad_token_id"],
        "bos_token_id": None,
    }


def _qwen2_5_vl(ids: dict[str, int]) -> tuple[object, object, int]:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    text = _text_config(ids, head_dim=16)
    text["rope_parameters"] = {"rope_type": "default", "mrope_section": [2, 3, 3]}
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 64,
        "patch_size": 14,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
    return config, Qwen2_5_VLForConditionalGeneration, 14


def _qwen3_vl(ids: dict[str, int]) -> tuple[object, object, int]:
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    text = _text_config(ids, head_dim=16)
    text["rope_parameters"] = {
        "rope_type": "default",
        "mrope_section": [2, 3, 3],
        "mrope_interleaved": True,
    }
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 64,
        "patch_size": 16,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    }
    config = Qwen3VLConfig(text_config=text, vision_config=vision, **ids)
    return config, Qwen3VLForConditionalGeneration, 16


_ARCHITECTURES = {"qwen2_5_vl": _qwen2_5_vl, "qwen3_vl": _qwen3_vl}


def _image_processor(patch_size: int) -> object:
    """Qwen-VL's image processor (the PIL one: it needs no torchvision)."""
    from transformers import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": 4 * patch_size**2, "longest_edge": _MAX_PIXELS},
    )


def build_tiny_checkpoint(folder: Path, architecture: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """Write a tiny random ``architecture`` checkpoint (qwen2_5_vl or qwen3_vl) into ``folder``."""
    import torch

    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    ids = _token_ids(tokenizer)
    config, model_class, patch_size = _ARCHITECTURES[architecture](ids)
    model = model_class(config).eval()  # type: ignore[operator]
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    _image_processor(patch_size).save_pretrained(folder)  # type: ignore[attr-defined]
    return folder
