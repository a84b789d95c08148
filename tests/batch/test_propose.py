"""`napari-fada propose`: a model's proposals saved into a dataset for later review."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.batch.propose import iter_frames, propose_into
from napari_fada.commands.main import main
from napari_fada.data.dataset import Dataset
from napari_fada.settings import Settings
from tests.scripted_backend import ScriptedBackend


def test_proposals_of_every_input_are_saved_as_proposed(samples_dir: Path, tmp_path: Path):
    inputs = [
        samples_dir / "images" / "hc18_010_HC.png",
        samples_dir / "images" / "psfhs_03744.png",
    ]
    backend = ScriptedBackend()
    saved, failures = propose_into(backend, inputs, tmp_path / "ds", annotator="cli-user")
    assert (saved, failures) == (2, [])
    dataset = Dataset.open(tmp_path / "ds")
    ids = sorted(r.image_id for r in dataset.records())
    assert ids == ["hc18_010_HC", "psfhs_03744"]
    record, proposal = dataset.load("hc18_010_HC")
    assert (record.width, record.height) == (800, 540)
    assert record.source_path == str(inputs[0])
    assert [a.label for a in proposal.annotations] == ["head", "CSP", "LV"]
    assert {a.status for a in proposal.annotations} == {"proposed"}
    assert {a.source for a in proposal.annotations} == {"scripted-1"}


def test_a_corrupt_file_is_reported_and_the_rest_still_saved(samples_dir: Path, tmp_path: Path):
    good = samples_dir / "images" / "psfhs_03745.png"
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(good.read_bytes()[:300])
    saved, failures = propose_into(ScriptedBackend(), [corrupt, good], tmp_path / "ds")
    assert saved == 1
    assert len(failures) == 1 and "broken.png" in failures[0]
    assert [r.image_id for r in Dataset.open(tmp_path / "ds").records()] == ["psfhs_03745"]


def test_folders_and_stacks_expand_into_frames(samples_dir: Path, tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("hc18_010_HC.png", "psfhs_03744.png"):
        shutil.copy(samples_dir / "images" / name, folder / name)
    assert [f.image.shape for f in iter_frames(folder)] == [(540, 800), (256, 256)]
    frames = [np.full((32, 48), i * 40, np.uint8) for i in range(3)]
    Image.fromarray(frames[0]).save(
        tmp_path / "clip.tif", save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]]
    )
    clip = list(iter_frames(tmp_path / "clip.tif"))
    assert [f.frame_index for f in clip] == [0, 1, 2]
    assert [int(f.image[0, 0]) for f in clip] == [0, 40, 80]
    assert len({f.clip_id for f in clip}) == 1


def test_cli_proposes_with_the_transformers_backend(
    samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("transformers")
    from tests.models.tiny_hf_model import build_tiny_checkpoint

    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    checkpoint = build_tiny_checkpoint(tmp_path / "tiny-fada-vl")
    image = samples_dir / "images" / "hc18_010_HC.png"
    argv = ["propose", str(image), "--out", str(tmp_path / "ds"), "--backend", "transformers"]
    argv += ["--model", str(checkpoint), "--threads", "1", "--phases", "segment,classify"]
    assert main([*argv, "--structures", "head"]) == 0
    _, proposal = Dataset.open(tmp_path / "ds").load("hc18_010_HC")
    assert proposal.model.model_id == "tiny-fada-vl"
    assert proposal.model.backend == "transformers"
    assert set(proposal.raw_answers) == {"classify", "map", "segment"}
    assert '"head"' in proposal.raw_answers["map"]
    assert proposal.plane is not None and proposal.plane.source == "tiny-fada-vl"
    assert not (tmp_path / "config" / "settings.json").exists()  # flags are not saved


def test_cli_propose_uses_the_saved_settings(
    samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path))
    Settings(backend="llama").save()
    image = samples_dir / "images" / "hc18_010_HC.png"
    assert main(["propose", str(image), "--out", str(tmp_path / "ds")]) == 2
    assert "needs: Model (.gguf), Projector (mmproj .gguf)" in capsys.readouterr().err
    argv = ["propose", str(image), "--out", str(tmp_path / "ds"), "--backend", "transformers"]
    assert main([*argv, "--mmproj", "p.gguf"]) == 2
    assert "--mmproj is not used by the 'transformers' backend" in capsys.readouterr().err
