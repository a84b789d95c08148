"""The transformers backend: FADA's five phases on a tiny random Qwen2.5-VL checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

import jsonschema
from PIL import Image

from napari_fada.core.fada_format import answer_schema
from napari_fada.errors import ModelLoadError
from napari_fada.models.base import ProposeRequest
from napari_fada.models.hf_backend import HFBackend
from napari_fada.models.registry import load_backend
from tests.models.tiny_hf_model import build_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("hf") / "tiny-fada-vl")


@pytest.fixture(scope="module")
def backend(checkpoint: Path) -> HFBackend:
    loaded = load_backend("transformers", model=checkpoint, threads=1)
    assert isinstance(loaded, HFBackend)
    return loaded


def test_five_phases_give_schema_valid_answers(
    backend: HFBackend, samples_dir: Path, checkpoint: Path
) -> None:
    image = np.asarray(Image.open(samples_dir / "images" / "hc18_010_HC.png"))
    messages: list[str] = []
    # structures by hand: a random model's plane may route to a group with nothing to segment
    request = ProposeRequest(structures=("fetal_head", "Brain"))
    proposal = backend.propose(image, request, progress=lambda message, _: messages.append(message))
    assert backend.info.model_id == checkpoint.name == proposal.model.model_id
    assert backend.info.backend == "transformers"
    assert set(proposal.raw_answers) == {"interpret", "classify", "map", "detect", "segment"}
    routed = json.loads(proposal.raw_answers["map"])
    assert proposal.plane is not None
    jsonschema.validate(json.loads(proposal.raw_answers["classify"]), answer_schema("classify"))
    for phase in ("detect", "segment"):
        answer = json.loads(proposal.raw_answers[phase])
        jsonschema.validate(answer, answer_schema(phase, routed[phase]))
    # a random model writes long strings: INTERPRET may reach 1024 tokens; its keys are kept
    assert isinstance(proposal.interpretation, dict) and proposal.interpretation
    assert proposal.annotations, "the tiny model's boxes should survive parsing"
    assert {a.source for a in proposal.annotations} == {checkpoint.name}
    for annotation in proposal.annotations:
        x0, y0, x1, y1 = annotation.box
        assert 0 <= x0 < x1 <= 800 and 0 <= y0 < y1 <= 540
    generations = backend.last_generations
    assert generations["classify"].generated_tokens <= 256
    assert all(g.tokens_per_s > 0 for g in generations.values())
    assert any("classifying" in m for m in messages)


def test_a_gguf_file_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    gguf = tmp_path / "fada-0.8b-q4_k_m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ModelLoadError, match="use the llama backend"):
        HFBackend(gguf)
    with pytest.raises(ModelLoadError, match="does not exist"):
        HFBackend(tmp_path / "nowhere")
