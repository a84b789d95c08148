"""The transformers engine on tiny random Qwen2.5-VL and Qwen3-VL checkpoints built offline."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("transformers")

import jsonschema
import torch
from PIL import Image

from napari_fada.core.fada_format import answer_schema
from napari_fada.core.prompts import task_prompt
from napari_fada.core.vocabulary import PLANE_LABELS
from napari_fada.errors import ModelLoadError
from napari_fada.models.hf_engine import HFEngine, _chat_parts, kernel_note
from napari_fada.models.vlm_engine import GenerationSettings
from tests.models.tiny_hf_model import build_tiny_checkpoint

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fetal-us-samples"
ARCHITECTURES = ("qwen2_5_vl", "qwen3_vl", "qwen3_5")
GREEDY = GenerationSettings(max_new_tokens=40, temperature=0.0)
#: For what does not depend on the architecture.
one_architecture = pytest.mark.parametrize("checkpoint", ["qwen2_5_vl"], indirect=True)


@pytest.fixture(scope="module", params=ARCHITECTURES)
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf") / f"tiny-{request.param}"
    return build_tiny_checkpoint(folder, request.param)


@pytest.fixture(scope="module")
def engine(checkpoint: Path) -> HFEngine:
    return HFEngine(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def sample_image() -> np.ndarray:
    paths = sorted((SAMPLES / "images").glob("*.png"))
    if not paths:
        pytest.skip(f"no sample images in {SAMPLES}")
    return np.asarray(Image.open(paths[0]))


def test_checkpoint_loads_with_provenance(engine: HFEngine, checkpoint: Path) -> None:
    assert engine.info.backend == "transformers"
    assert engine.info.model_id == checkpoint.name
    assert len(engine.info.weights_sha256 or "") == 64
    assert engine.device == "cpu"


def test_classify_answers_a_plane_label(engine: HFEngine, sample_image: np.ndarray) -> None:
    context = engine.encode_image(sample_image)
    assert (context.width, context.height) == (sample_image.shape[1], sample_image.shape[0])
    assert context.image_tokens > 4
    settings = GenerationSettings(max_new_tokens=64, json_schema=answer_schema("classify"))
    answer = engine.generate(context, task_prompt("classify"), settings)
    assert json.loads(answer.text)["label"] in PLANE_LABELS
    assert answer.generated_tokens > 3
    assert answer.prompt_tokens > context.image_tokens


@one_architecture
@pytest.mark.parametrize("phase", ["detect", "segment"])
def test_constrained_answers_follow_the_schema(
    engine: HFEngine, sample_image: np.ndarray, phase: str
) -> None:
    structures = ["Brain", "CSP", "LV"]
    schema = answer_schema(phase, structures)
    context = engine.encode_image(sample_image)
    settings = GenerationSettings(max_new_tokens=600, json_schema=schema, seed=3)
    answer = engine.generate(context, task_prompt(phase, structures), settings)
    jsonschema.validate(json.loads(answer.text), schema)


def test_cached_prefix_equals_full_generation(checkpoint: Path, sample_image: np.ndarray) -> None:
    reused = HFEngine(checkpoint, device="cpu")
    context = reused.encode_image(sample_image)
    assert context.state.rope_deltas is not None and int(context.state.rope_deltas.abs().sum()) > 0
    reused.stop_at_eos = False
    full = HFEngine(checkpoint, device="cpu", reuse_image=False)
    full.stop_at_eos = False
    full_context = full.encode_image(sample_image)
    for phase in ("classify", "interpret"):
        cached = reused.generate(context, task_prompt(phase), GREEDY)
        uncached = full.generate(full_context, task_prompt(phase), GREEDY)
        assert cached.generated_tokens == uncached.generated_tokens == GREEDY.max_new_tokens
        assert cached.text == uncached.text


def _count_calls(module: torch.nn.Module, calls: list[int]) -> None:
    def hook(_module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        embeds = kwargs.get("inputs_embeds")
        calls.append(0 if embeds is None else int(embeds.shape[1]))

    module.register_forward_pre_hook(hook, with_kwargs=True)


def test_image_is_encoded_and_prefilled_once(checkpoint: Path, sample_image: np.ndarray) -> None:
    engine = HFEngine(checkpoint, device="cpu")
    vision_calls: list[int] = []
    text_calls: list[int] = []
    _count_calls(engine.model.model.visual, vision_calls)
    _count_calls(engine.model.model.language_model, text_calls)
    context = engine.encode_image(sample_image)
    prefix_length = int(context.state.input_ids.shape[1])
    assert text_calls == [prefix_length]
    for phase in ("classify", "interpret"):
        text_calls.clear()
        answer = engine.generate(context, task_prompt(phase), GREEDY)
        assert text_calls[0] == answer.prompt_tokens - prefix_length
    assert len(vision_calls) == 1


@one_architecture
def test_callback_streams_text_and_cancels(engine: HFEngine, sample_image: np.ndarray) -> None:
    context = engine.encode_image(sample_image)
    pieces: list[str] = []

    def on_text(piece: str) -> bool:
        pieces.append(piece)
        return len(pieces) == 3

    engine.stop_at_eos = False
    try:
        answer = engine.generate(context, task_prompt("interpret"), GREEDY, on_text)
        full = engine.generate(context, task_prompt("interpret"), GREEDY)
    finally:
        engine.stop_at_eos = True
    assert answer.stopped_by_callback
    assert answer.generated_tokens == 3
    assert full.text.startswith(answer.text) and "".join(pieces) == answer.text


@one_architecture
def test_chat_template_of_the_checkpoint_else_chatml(engine: HFEngine) -> None:
    prefix, suffix = _chat_parts(engine.tokenizer, "<|image_pad|>")
    assert prefix.endswith("<|vision_start|><|image_pad|><|vision_end|>")
    assert suffix == "<|im_end|>\n<|im_start|>assistant\n"

    class NoTemplate:
        def apply_chat_template(self, *args: Any, **kwargs: Any) -> str:
            raise ValueError("no chat template")

    assert _chat_parts(NoTemplate(), "<|image_pad|>") == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>",
        "<|im_end|>\n<|im_start|>assistant\n",
    )


# --- failures the user sees (on one architecture: the checks come before the model) -----------


def _copy_without(checkpoint: Path, target: Path, *names: str) -> Path:
    shutil.copytree(checkpoint, target, ignore=shutil.ignore_patterns(*names))
    return target


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        HFEngine(tmp_path / "nowhere")


@one_architecture
def test_missing_config(checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy_without(checkpoint, tmp_path / "ckpt", "config.json")
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        HFEngine(folder)


@one_architecture
def test_text_only_model_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy_without(checkpoint, tmp_path / "ckpt")
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="'qwen2' model, which is not a Qwen-VL"):
        HFEngine(folder)


@one_architecture
def test_missing_weights(checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy_without(checkpoint, tmp_path / "ckpt", "*.safetensors")
    with pytest.raises(ModelLoadError, match="has no weights"):
        HFEngine(folder)


@one_architecture
def test_corrupt_weights(checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy_without(checkpoint, tmp_path / "ckpt")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="incomplete or corrupt"):
        HFEngine(folder)


@one_architecture
def test_out_of_memory_while_loading(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained", no_memory)
    with pytest.raises(ModelLoadError, match="Not enough memory"):
        HFEngine(checkpoint)


@one_architecture
def test_out_of_memory_while_generating(
    checkpoint: Path, sample_image: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = HFEngine(checkpoint, device="cpu")
    context = engine.encode_image(sample_image)

    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(engine.model, "forward", no_memory)
    with pytest.raises(ModelLoadError, match="Not enough memory on cpu"):
        engine.generate(context, task_prompt("classify"), GREEDY)


@one_architecture
def test_unknown_dtype(checkpoint: Path) -> None:
    with pytest.raises(ModelLoadError, match="Unknown dtype"):
        HFEngine(checkpoint, dtype="float33")


@one_architecture
def test_a_checkpoint_asking_for_custom_code_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy_without(checkpoint, tmp_path / "ckpt")
    config = folder / "preprocessor_config.json"
    document = json.loads(config.read_text(encoding="utf-8"))
    document["auto_map"] = {"AutoImageProcessor": "processing.Custom"}
    config.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="never runs a model folder's own code"):
        HFEngine(folder)


def test_the_status_line_says_whether_the_fast_kernels_are_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hybrid = {"text_config": {"layer_types": ["linear_attention", "full_attention"]}}
    assert kernel_note({"text_config": {"layer_types": ["full_attention"]}}) is None
    assert kernel_note({"model_type": "qwen2_5_vl"}) is None
    present = {"fla"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: name if name in present else None)
    missing = kernel_note(hybrid) or ""
    assert "causal-conv1d missing" in missing and "flash-linear-attention" not in missing
    present.add("causal_conv1d")
    assert kernel_note(hybrid) == "fast kernels: flash-linear-attention, causal-conv1d"


@pytest.mark.parametrize("checkpoint", ["qwen3_5"], indirect=True)
def test_a_hybrid_model_reports_its_kernels(engine: HFEngine) -> None:
    from napari_fada.models.hf_backend import HFBackend

    backend = HFBackend(engine.checkpoint, device="cpu")
    assert backend.notes == engine.notes and len(engine.notes) == 1
    assert backend.describe().startswith(f"{engine.info.model_id}; ")
    assert ("missing" in engine.notes[0]) != ("fast kernels" in engine.notes[0])
