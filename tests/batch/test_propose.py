"""`napari-fada propose`: a model's proposals saved into a dataset for later review."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.batch.propose import propose_into
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
    summary = propose_into(backend, inputs, tmp_path / "ds", annotator="cli-user")
    assert (summary.saved, summary.failures) == (2, [])
    dataset = Dataset.open(tmp_path / "ds")
    ids = sorted(r.image_id for r in dataset.records())
    assert ids == ["hc18_010_HC", "psfhs_03744"]
    record, proposal = dataset.load("hc18_010_HC")
    assert (record.width, record.height) == (800, 540)
    assert record.source_path == str(inputs[0].resolve())
    assert [a.label for a in proposal.annotations] == ["head", "CSP", "LV"]
    assert {a.status for a in proposal.annotations} == {"proposed"}
    assert {a.source for a in proposal.annotations} == {"scripted-1"}


def test_a_corrupt_file_is_reported_and_the_rest_still_saved(samples_dir: Path, tmp_path: Path):
    good = samples_dir / "images" / "psfhs_03745.png"
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(good.read_bytes()[:300])
    summary = propose_into(ScriptedBackend(), [corrupt, good], tmp_path / "ds")
    assert summary.saved == 1
    assert len(summary.failures) == 1 and "broken.png" in summary.failures[0]
    assert [r.image_id for r in Dataset.open(tmp_path / "ds").records()] == ["psfhs_03745"]


def _same_size_folder(samples_dir: Path, folder: Path) -> Path:
    """Four 256 x 256 images and a truncated one, first by name."""
    folder.mkdir()
    names = ["psfhs_03744.png", "psfhs_03745.png", "psfhs_03746.png", "psfhs_03747.png"]
    for name in names:
        shutil.copy(samples_dir / "images" / name, folder / name)
    (folder / "a_broken.png").write_bytes((folder / names[0]).read_bytes()[:300])
    return folder


def test_a_folder_goes_on_past_an_unreadable_file_and_keeps_file_names(
    samples_dir: Path, tmp_path: Path
):
    folder = _same_size_folder(samples_dir, tmp_path / "scans")
    summary = propose_into(ScriptedBackend(), [folder], tmp_path / "ds")
    assert summary.saved == 4
    assert len(summary.failures) == 1 and "a_broken.png" in summary.failures[0]
    records = Dataset.open(tmp_path / "ds").records()
    assert sorted(r.image_id for r in records) == [f"psfhs_0374{i}" for i in range(4, 8)]
    assert {r.frame_index for r in records} == {None}


def test_a_folder_is_a_clip_only_when_asked(samples_dir: Path, tmp_path: Path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.full((32, 48), index * 40, np.uint8)).save(folder / f"f{index}.png")
    summary = propose_into(ScriptedBackend(), [folder], tmp_path / "ds", folder_clips=True)
    assert (summary.saved, summary.failures) == (3, [])
    records = Dataset.open(tmp_path / "ds").records()
    assert [r.frame_index for r in records] == [0, 1, 2]
    assert len({r.clip_id for r in records}) == 1


def test_a_multi_frame_file_gives_a_record_per_frame(tmp_path: Path):
    frames = [np.full((32, 48), i * 40, np.uint8) for i in range(3)]
    Image.fromarray(frames[0]).save(
        tmp_path / "clip.tif", save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]]
    )
    summary = propose_into(ScriptedBackend(), [tmp_path / "clip.tif"], tmp_path / "ds")
    assert summary.saved == 3
    records = Dataset.open(tmp_path / "ds").records()
    assert [r.image_id for r in records] == [f"clip_f{i:05d}" for i in range(3)]
    assert len({r.clip_id for r in records}) == 1


def test_a_reviewed_image_is_left_as_it_is(samples_dir: Path, tmp_path: Path):
    image = samples_dir / "images" / "psfhs_03745.png"
    assert propose_into(ScriptedBackend(), [image], tmp_path / "ds").saved == 1
    dataset = Dataset.open(tmp_path / "ds")
    record, proposal = dataset.load("psfhs_03745")
    reviewed = [a.with_status("accepted") for a in proposal.annotations]
    dataset.save(record, dataset.image("psfhs_03745"), replace(proposal, annotations=reviewed))
    summary = propose_into(ScriptedBackend(), [image], tmp_path / "ds")
    assert (summary.saved, summary.kept_reviewed) == (0, 1)
    _, kept = Dataset.open(tmp_path / "ds").load("psfhs_03745")
    assert {a.status for a in kept.annotations} == {"accepted"}


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
