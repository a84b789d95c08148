"""The serving backend against a real server: llama-cpp-python's own (``python -m
llama_cpp.server``) on 127.0.0.1, serving the tiny GGUF + mmproj pair written in the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")

import jsonschema
from PIL import Image

from napari_fada.commands.main import main
from napari_fada.core.fada_format import answer_schema
from napari_fada.core.vocabulary import INTERPRETATION_KEYS
from napari_fada.data.dataset import Dataset
from napari_fada.errors import ModelLoadError
from napari_fada.models.openai_backend import OpenAIBackend
from napari_fada.models.openai_engine import OpenAIEngine
from napari_fada.models.registry import load_backend
from napari_fada.settings import Settings
from tests.models.llama_server import llama_server
from tests.models.tiny_gguf import build_gguf_pair

API_KEY = "test-key"
SERVED = "tiny-fada"
IMAGES = ("hc18_010_HC", "hc18_014_HC", "psfhs_03744", "brain_Patient00644_Plane3_1_of_3")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pair = build_gguf_pair(tmp_path_factory.mktemp("gguf"))
    with llama_server(pair, SERVED, API_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def backend(url: str) -> OpenAIBackend:
    loaded = load_backend("openai", url=url, api_key=API_KEY)
    assert isinstance(loaded, OpenAIBackend)
    return loaded


def test_five_phases_through_the_server(backend: OpenAIBackend, samples_dir: Path) -> None:
    image = np.asarray(Image.open(samples_dir / "images" / "hc18_010_HC.png"))
    proposal = backend.propose(image)
    assert (proposal.model.model_id, proposal.model.backend) == (SERVED, "openai")
    assert set(proposal.raw_answers) == {"interpret", "classify", "map", "detect", "segment"}
    assert proposal.interpretation is not None
    assert set(proposal.interpretation) == set(INTERPRETATION_KEYS)
    assert proposal.plane is not None and proposal.plane.source == SERVED
    routed = json.loads(proposal.raw_answers["map"])
    for phase in ("detect", "segment"):
        jsonschema.validate(
            json.loads(proposal.raw_answers[phase]), answer_schema(phase, routed[phase])
        )
    assert proposal.annotations and {a.source for a in proposal.annotations} == {SERVED}
    for annotation in proposal.annotations:
        assert annotation.box is not None
        x0, y0, x1, y1 = annotation.box
        assert 0 <= x0 < x1 <= 800 and 0 <= y0 < y1 <= 540
    # llama_cpp.server refuses OpenAI's json_schema format and takes json_object + schema.
    assert isinstance(backend.engine, OpenAIEngine)
    assert backend.engine.response_format_kind == "json_object"
    assert all(g.generated_tokens > 0 for g in backend.last_generations.values())


def test_a_wrong_key_or_model_is_refused_at_load(url: str) -> None:
    with pytest.raises(ModelLoadError, match="refused the API key"):
        OpenAIBackend(url, api_key="wrong")
    with pytest.raises(ModelLoadError, match=f"it serves '{SERVED}'"):
        OpenAIBackend(url, model="fada-4b", api_key=API_KEY)


def test_prelabel_through_the_server(
    url: str, samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The settings command saves the server (the key never printed); prelabel then proposes on
    two images at once through it."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["settings", "--backend", "openai", "--url", url, "--api-key", API_KEY]) == 0
    printed = capsys.readouterr().out
    assert f"Server URL: {url}" in printed and "API key: (set)" in printed
    assert API_KEY not in printed
    assert Settings.load().backend_arguments() == {"url": url, "api_key": API_KEY}
    images = [str(samples_dir / "images" / f"{name}.png") for name in IMAGES]
    out = tmp_path / "ds"
    argv = ["prelabel", *images, "--out", str(out), "--workers", "2", "--no-progress"]
    assert main([*argv, "--model", SERVED]) == 0
    dataset = Dataset.open(out)
    records = dataset.records()
    assert sorted(Path(str(r.source_path)).stem for r in records) == sorted(IMAGES)
    for record in records:
        loaded = dataset.load(record.image_id)
        assert loaded is not None
        proposal = loaded[1]
        assert (proposal.model.model_id, proposal.model.backend) == (SERVED, "openai")
        assert set(proposal.raw_answers) == {"interpret", "classify", "map", "detect", "segment"}
