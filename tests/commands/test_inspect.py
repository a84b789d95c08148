"""``napari-fada inspect`` on the shared samples with a folder of saved predictions."""

from __future__ import annotations

import numpy as np
from PIL import Image

from napari_fada.commands.main import main
from napari_fada.core.proposal import ImageRecord, ModelInfo, Proposal
from napari_fada.data.dataset import Dataset

IMAGES = ("hc18_010_HC", "psfhs_03744")


def _save_empty_predictions(samples_dir, folder) -> None:
    """A model that finds nothing, saved as 'napari-fada propose' would."""
    dataset = Dataset.open(folder)
    for image_id in IMAGES:
        pixels = np.asarray(Image.open(samples_dir / "images" / f"{image_id}.png"))
        height, width = pixels.shape
        proposal = Proposal(width, height, model=ModelInfo(model_id="finds-nothing"))
        dataset.save(ImageRecord(image_id, width, height), pixels, proposal)


def test_inspect_writes_the_report_of_saved_predictions(samples_dir, tmp_path, capsys) -> None:
    _save_empty_predictions(samples_dir, tmp_path / "predictions")
    code = main(
        [
            "inspect", "--data", str(samples_dir), "--predictions", str(tmp_path / "predictions"),
            "--out", str(tmp_path / "report"), "--worst", "2",
            "--export-dataset", str(tmp_path / "hard"),
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert all(image_id in out for image_id in IMAGES) and "finds-nothing" in out
    report = (tmp_path / "report" / "report.md").read_text()
    assert all(f"### {image_id} — finds-nothing" in report for image_id in IMAGES)
    assert sorted(r.image_id for r in Dataset.open(tmp_path / "hard").records()) == sorted(IMAGES)


def test_inspect_rejects_bad_arguments_with_a_message(samples_dir, tmp_path, capsys) -> None:
    assert main(["inspect", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no manifest.csv" in capsys.readouterr().err
    args = ["inspect", "--data", str(samples_dir), "--out", str(tmp_path / "r"), "--worst", "0"]
    assert main(args) == 2
    assert "--worst must be at least 1" in capsys.readouterr().err
    assert main(["inspect", "--data", str(samples_dir)]) == 2
    assert "--out DIR" in capsys.readouterr().err
