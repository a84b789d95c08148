"""A local transformers checkpoint folder of a Qwen-VL model: checks, identity and loading.

Every failure a user can meet (wrong folder, missing or corrupt files, a text-only or other
vision-language model, not enough memory) becomes a :class:`ModelLoadError` that names the
folder and says what to do. Nothing here touches the network: the hub is switched off for the
process and every ``from_pretrained`` call is ``local_files_only``. Nor does anything run code
shipped in the folder: every call passes ``trust_remote_code=False`` (transformers never asks on
stdin), and a folder whose files ask for their own code (``auto_map``) is refused up front.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from napari_fada.core.proposal import ModelInfo
from napari_fada.errors import ModelLoadError
from napari_fada.models.file_hashes import files_sha256

BACKEND_NAME = "transformers"

#: Qwen-VL families whose image tokens follow the ``<|image_pad|>`` x grid convention.
QWEN_VL_TYPES: frozenset[str] = frozenset(
    {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe"}
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
#: The checkpoint's files in which an ``auto_map`` asks transformers to import the folder's code.
_CODE_MAPS = (
    "config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer_config.json",
    "video_preprocessor_config.json",
)
#: Passed to every ``from_pretrained``: offline, and never the folder's own Python code.
_SAFE_LOADING: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}


def go_offline() -> None:
    """No hub access from this process, whatever the user's environment says."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def read_config(folder: Path) -> dict[str, Any]:
    """The checkpoint's config.json, after checking that this is a Qwen-VL checkpoint folder."""
    if not folder.is_dir():
        raise ModelLoadError(
            f"The model folder {folder} does not exist: choose the folder that holds the "
            "checkpoint's config.json and weights."
        )
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(
            f"{folder} has no config.json, so it is not a transformers checkpoint: choose the "
            "folder you downloaded the model into (it holds config.json and *.safetensors)."
        )
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"{config_path} cannot be read ({exc}): download the checkpoint again."
        ) from exc
    model_type = str(config.get("model_type", "unknown"))
    if model_type not in QWEN_VL_TYPES or "vision_config" not in config:
        raise ModelLoadError(
            f"{folder} holds a {model_type!r} model, which is not a Qwen-VL vision-language "
            f"model; the transformers backend runs {', '.join(sorted(QWEN_VL_TYPES))} "
            "checkpoints such as FADA's."
        )
    if not weight_files(folder):
        raise ModelLoadError(
            f"{folder} has no weights (*.safetensors or *.bin): download the complete checkpoint."
        )
    refuse_custom_code(folder)
    return config


def refuse_custom_code(folder: Path) -> None:
    """ModelLoadError if a file of the checkpoint maps a class to Python code in the folder."""
    for name in _CODE_MAPS:
        path = folder / name
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # absent, or unreadable: loading it reports that
        if isinstance(document, dict) and "auto_map" in document:
            raise ModelLoadError(
                f"{path} asks to run Python code shipped with the checkpoint (auto_map: "
                f"{document['auto_map']}); napari-fada never runs a model folder's own code. "
                "Use a checkpoint of a standard Qwen-VL architecture, such as FADA's."
            )


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file())


def checkpoint_info(folder: Path) -> ModelInfo:
    """Provenance: the folder's name as model id, hashes of weights and config."""
    return ModelInfo(
        model_id=folder.resolve().name,
        backend=BACKEND_NAME,
        weights_sha256=files_sha256(weight_files(folder)),
        config_sha256=files_sha256([folder / "config.json"]),
    )


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def out_of_memory_error(folder: Path, device: str) -> ModelLoadError:
    return ModelLoadError(
        f"Not enough memory on {device} for the model in {folder}: close other programs, use a "
        "smaller model (0.8B) or the llama.cpp backend with a quantized GGUF."
    )


def load_model(folder: Path, device: str, dtype: Any) -> Any:
    """The model in eval mode on ``device``; load failures become ModelLoadError."""
    from transformers import AutoModelForImageTextToText

    try:
        model: Any = AutoModelForImageTextToText.from_pretrained(
            folder, dtype=dtype, **_SAFE_LOADING
        )
        return model.to(device).eval()
    except Exception as exc:
        if is_out_of_memory(exc):
            raise out_of_memory_error(folder, device) from exc
        raise ModelLoadError(
            f"The weights in {folder} could not be loaded ({type(exc).__name__}: {exc}): they "
            "are incomplete or corrupt, or belong to another model; download the checkpoint again."
        ) from exc


def load_preprocessing(folder: Path) -> tuple[Any, Any]:
    """The tokenizer and the image processor of the checkpoint."""
    from transformers import AutoImageProcessor, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **_SAFE_LOADING)
        image_processor = AutoImageProcessor.from_pretrained(folder, **_SAFE_LOADING)
    except Exception as exc:
        raise ModelLoadError(
            f"The tokenizer or image processor in {folder} could not be loaded "
            f"({type(exc).__name__}: {exc}): the checkpoint needs tokenizer.json and "
            "preprocessor_config.json; download it again."
        ) from exc
    return tokenizer, image_processor
