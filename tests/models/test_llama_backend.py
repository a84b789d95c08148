"""The llama.cpp backend: FADA's five phases on a tiny GGUF + mmproj pair written in the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

import jsonschema
from PIL import Image

from napari_fada.commands.main import main
from napari_fada.core.fada_format import answer_schema
from napari_fada.core.vocabulary import INTERPRETATION_KEYS
from napari_fada.data.dataset import Dataset
from napari_fada.models.base import ProposeRequest
from napari_fada.models.llama_backend import LlamaBackend
from napari_fada.models.registry import load_backend
from napari_fada.models.vlm_engine import Generation
from tests.models.tiny_gguf import GgufPair, build_gguf_pair

MODEL_ID = "tiny-fada-qwen2vl"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> GgufPair:
    return build_gguf_pair(tmp_path_factory.mktemp("gguf"))


@pytest.fixture(scope="module")
def backend(pair: GgufPair) -> LlamaBackend:
    loaded = load_backend("llama", model=pair.model, mmproj=pair.mmproj, threads=1, n_ctx=None)
    assert isinstance(loaded, LlamaBackend)
    return loaded


@pytest.fixture(scope="module")
def head_image(samples_dir: Path) -> np.ndarray:
    return np.asarray(Image.open(samples_dir / "images" / "hc18_010_HC.png"))


def test_five_phases_give_a_proposal_from_the_model(
    backend: LlamaBackend, head_image: np.ndarray
) -> None:
    messages: list[str] = []
    proposal = backend.propose(head_image, progress=lambda message, _: messages.append(message))
    assert proposal.model.model_id == backend.model_id == MODEL_ID
    assert proposal.model.backend == "llama" and proposal.model.weights_sha256
    assert (proposal.width, proposal.height) == (800, 540)
    assert set(proposal.raw_answers) == {"interpret", "classify", "map", "detect", "segment"}
    assert proposal.interpretation is not None
    assert set(proposal.interpretation) == set(INTERPRETATION_KEYS)
    assert proposal.plane is not None and proposal.plane.source == MODEL_ID
    routed = json.loads(proposal.raw_answers["map"])
    for phase in ("detect", "segment"):
        answer = json.loads(proposal.raw_answers[phase])
        jsonschema.validate(answer, answer_schema(phase, routed[phase]))
    assert proposal.annotations, "the tiny model's boxes should survive parsing"
    assert {a.source for a in proposal.annotations} == {MODEL_ID}
    for annotation in proposal.annotations:
        assert annotation.box is not None
        x0, y0, x1, y1 = annotation.box
        assert 0 <= x0 < x1 <= 800 and 0 <= y0 < y1 <= 540
    generations = backend.last_generations
    image_tokens = 29 * 19  # 800x540 in 2x2 merged 14-px patches
    assert all(g.prompt_tokens > image_tokens for g in generations.values())
    assert proposal.timings_s["encode"] > 0 and proposal.timings_s["total"] > 0
    assert any("segmenting" in m for m in messages)


def test_structures_chosen_by_hand(backend: LlamaBackend, head_image: np.ndarray) -> None:
    request = ProposeRequest(phases=("segment",), structures=("head",))
    proposal = backend.propose(head_image, request)
    assert json.loads(proposal.raw_answers["map"])["group"] == "chosen by hand"
    assert "detect" not in proposal.raw_answers
    assert [a.label for a in proposal.annotations] == ["head"]
    assert proposal.annotations[0].polygon is not None


BRAIN = '{"bbox_2d": [100, 200, 300, 400], "label": "Brain"}'
BROKEN_ANSWERS = {
    "prose": ("The image shows a fetal head.", "no_json"),
    "truncated": (f'[{BRAIN}, {{"bbox_2d": [1', "truncated"),
    "looping": (f"[{BRAIN}]\nassistant\n[{BRAIN}]\nassistant\n[{{", "after its first answer"),
}


@pytest.mark.parametrize("case", list(BROKEN_ANSWERS))
def test_broken_answers_become_issues(
    backend: LlamaBackend, head_image: np.ndarray, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The engine runs for real; only the text of its detect answer is replaced."""
    text, issue = BROKEN_ANSWERS[case]
    generate = backend.engine.generate

    def answer(*args: Any, **kwargs: Any) -> Generation:
        generation = generate(*args, **kwargs)
        generation.text = text
        return generation

    monkeypatch.setattr(backend.engine, "generate", answer)
    request = ProposeRequest(phases=("detect",), structures=("Brain",))
    proposal = backend.propose(head_image, request)
    assert any(i.startswith("detect: ") and issue in i for i in proposal.issues)
    assert len(proposal.annotations) == (0 if case == "prose" else 1)


def test_unconstrained_tiny_model_answers_nothing_readable(
    backend: LlamaBackend, head_image: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a grammar the tiny model ends at once: every phase says so, nothing crashes."""
    monkeypatch.setattr(backend, "constrained", False)
    proposal = backend.propose(head_image, ProposeRequest(structures=("Brain",)))
    assert proposal.annotations == [] and proposal.interpretation is None
    assert all(text == "" for phase, text in proposal.raw_answers.items() if phase != "map")
    for phase in ("interpret", "classify", "detect", "segment"):
        assert any(i.startswith(f"{phase}: ") for i in proposal.issues)


def test_cli_proposes_into_a_dataset_with_the_gguf_files(
    pair: GgufPair, samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    image = samples_dir / "images" / "hc18_010_HC.png"
    argv = ["propose", str(image), "--out", str(tmp_path / "ds"), "--backend", "llama"]
    argv += ["--model", str(pair.model), "--mmproj", str(pair.mmproj), "--threads", "1"]
    assert main(argv) == 0
    _, proposal = Dataset.open(tmp_path / "ds").load("hc18_010_HC")
    assert (proposal.model.model_id, proposal.model.backend) == (MODEL_ID, "llama")
    assert set(proposal.raw_answers) == {"interpret", "classify", "map", "detect", "segment"}
    assert proposal.annotations and {a.status for a in proposal.annotations} == {"proposed"}
    assert {a.source for a in proposal.annotations} == {MODEL_ID}
