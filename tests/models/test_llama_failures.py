"""Every way a user's GGUF files or settings can fail with llama.cpp gives an actionable error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

import llama_cpp

from napari_fada.core.prompts import task_prompt
from napari_fada.errors import ModelLoadError
from napari_fada.models.llama_engine import LlamaEngine
from napari_fada.models.vlm_engine import GenerationSettings
from tests.models.tiny_gguf import GgufPair, build_gguf_pair, write_mmproj

IMAGE = np.full((193, 280), 90, dtype=np.uint8)
SHORT = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> GgufPair:
    return build_gguf_pair(tmp_path_factory.mktemp("gguf"))


def header_only(path: Path, architecture: str) -> Path:
    """A valid GGUF file of ``architecture`` with no tensors."""
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_missing_files(pair: GgufPair, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"model file .*nowhere\.gguf does not exist"):
        LlamaEngine(tmp_path / "nowhere.gguf", pair.mmproj)
    with pytest.raises(ModelLoadError, match=r"mmproj file .*nowhere\.gguf does not exist"):
        LlamaEngine(pair.model, tmp_path / "nowhere.gguf")


def test_a_file_that_is_not_gguf(pair: GgufPair, tmp_path: Path) -> None:
    picture = tmp_path / "fada.gguf"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(ModelLoadError, match=r"model file .* is not a readable GGUF file"):
        LlamaEngine(picture, pair.mmproj)
    cut = tmp_path / "mmproj.gguf"
    cut.write_bytes(pair.mmproj.read_bytes()[:3000])
    with pytest.raises(ModelLoadError, match=r"mmproj file .* incomplete download"):
        LlamaEngine(pair.model, cut)


def test_swapped_files(pair: GgufPair) -> None:
    with pytest.raises(ModelLoadError, match=r"is a vision projector \(mmproj\), not the language"):
        LlamaEngine(pair.mmproj, pair.model)


def test_model_of_another_architecture(pair: GgufPair, tmp_path: Path) -> None:
    for architecture in ("llama", "qwen2"):
        model = header_only(tmp_path / f"{architecture}.gguf", architecture)
        with pytest.raises(ModelLoadError, match=f"'{architecture}' model, which is not a Qwen-VL"):
            LlamaEngine(model, pair.mmproj)


def test_mmproj_without_a_vision_encoder(pair: GgufPair, tmp_path: Path) -> None:
    audio = header_only(tmp_path / "mmproj-audio.gguf", "clip")
    with pytest.raises(ModelLoadError, match="is not a vision projector"):
        LlamaEngine(pair.model, audio)


def test_mmproj_of_another_model(pair: GgufPair, tmp_path: Path) -> None:
    other = write_mmproj(tmp_path / "mmproj-other.gguf", text_hidden=96)
    with pytest.raises(ModelLoadError, match=r"mismatch between text model.*for another model"):
        LlamaEngine(pair.model, other)


def test_out_of_memory_while_loading(pair: GgufPair, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise ValueError("Failed to create llama_context")

    monkeypatch.setattr(llama_cpp, "Llama", no_memory)
    with pytest.raises(ModelLoadError, match=r"Not enough memory for a context of 4096 tokens"):
        LlamaEngine(pair.model, pair.mmproj)


def test_damaged_files(pair: GgufPair, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    data = pair.model.read_bytes()
    cut.write_bytes(data[: len(data) - 4096])  # tensor data cut short
    with pytest.raises(ModelLoadError, match=r"not a readable GGUF file.* download it again"):
        LlamaEngine(cut, pair.mmproj)
    empty = header_only(tmp_path / "no-tensors.gguf", "qwen2vl")  # llama.cpp finds no weights
    with pytest.raises(ModelLoadError, match=r"could not load .* damaged .* download it again"):
        LlamaEngine(empty, pair.mmproj)


def test_context_too_small_for_the_image_or_the_prompt(pair: GgufPair) -> None:
    tiny_context = LlamaEngine(pair.model, pair.mmproj, threads=1, n_ctx=64)  # llama.cpp: 256
    large_image = np.full((560, 560), 90, dtype=np.uint8)  # 400 image tokens
    with pytest.raises(ModelLoadError, match=r"context of 256 tokens is too small for the image"):
        tiny_context.encode_image(large_image)
    small_context = LlamaEngine(pair.model, pair.mmproj, threads=1, n_ctx=256)
    context = small_context.encode_image(IMAGE)
    with pytest.raises(ModelLoadError, match="raise the context size"):
        small_context.generate(context, task_prompt("classify"), SHORT)


def test_out_of_memory_while_generating(pair: GgufPair, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = LlamaEngine(pair.model, pair.mmproj, threads=1)
    context = engine.encode_image(IMAGE)

    def no_room(tokens: list[int]) -> None:
        raise RuntimeError("llama_decode returned 1")

    monkeypatch.setattr(engine._llama, "eval", no_room)
    with pytest.raises(ModelLoadError, match=r"Not enough memory for .* more tokens"):
        engine.generate(context, "Hi", SHORT)
