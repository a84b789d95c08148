"""``napari-fada import`` writes a dataset to review, and says why when it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from napari_fada.commands.main import main
from napari_fada.data.dataset import Dataset


def test_import_command_writes_a_dataset(tmp_path: Path, capsys) -> None:
    source = tmp_path / "yolo"
    (source / "images").mkdir(parents=True)
    (source / "labels").mkdir()
    Image.fromarray(np.full((8, 8), 9, dtype=np.uint8)).save(source / "images" / "a.png")
    (source / "labels" / "a.txt").write_text("26 0.5 0.5 0.5 0.5\n")  # class 26: "head"
    assert main(["import", str(source), "--out", str(tmp_path / "review")]) == 0
    assert "imported 1 of 1 image(s)" in capsys.readouterr().out
    _, proposal = Dataset.open(tmp_path / "review").load("a")  # type: ignore[misc]
    assert [(a.label, a.box) for a in proposal.annotations] == [("head", (2.0, 2.0, 6.0, 6.0))]


def test_import_command_reports_a_folder_it_cannot_read(tmp_path: Path, capsys) -> None:
    assert main(["import", str(tmp_path), "--out", str(tmp_path.parent / "out")]) == 2
    assert "not a labelled folder" in capsys.readouterr().err
