"""A full disk (ENOSPC faked where files are made durable) gives one clear message, a summary
where there is one, and no partial files; what was saved before stays intact."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from napari_fada.batch.prelabel import Progress, prelabel
from napari_fada.commands.main import main
from napari_fada.data.dataset import Dataset
from napari_fada.models.embedded_weights import SHIPPED_WEIGHTS, load_weights, save_weights
from tests.batch.conftest import EMBEDDED, images_folder  # noqa: F401 - a fixture
from tests.inspection.test_evaluate import write_shared_layout
from tests.scripted_backend import ScriptedBackend


class FullDisk:
    """Makes ``os.fsync`` (every durable write goes through it) fail once ``full`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, full: bool = False) -> None:
        self.full = full
        real = os.fsync

        def fsync(fd: int) -> None:
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial"))]


def test_prelabel_stops_with_one_message_and_keeps_what_it_saved(
    images_folder: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    disk = FullDisk(monkeypatch)

    def fill_after_the_first_save(progress: Progress) -> None:
        disk.full = progress.handled == 2  # broken.png, then one image saved

    out = tmp_path / "ds"
    report = prelabel([images_folder], out, EMBEDDED, on_progress=fill_after_the_first_save)
    assert (report.done, report.failed) == (1, 1)  # broken.png, not one failure per image
    assert report.write_error is not None and "No space left on device" in report.write_error
    assert "stopped: Could not write" in report.summary(out)
    assert _leftovers(out) == []

    disk.full = False
    assert len(Dataset.open(out).records()) == 1  # intact
    again = prelabel([images_folder], out, EMBEDDED)
    assert (again.done, again.skipped, again.write_error) == (3, 1, None)


def test_the_prelabel_command_prints_its_summary_on_a_full_disk(
    images_folder: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))  # default model
    out = tmp_path / "ds"
    Dataset.open(out)
    FullDisk(monkeypatch, full=True)
    args = ["prelabel", str(images_folder), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main(args) == 1
    printed = capsys.readouterr()
    assert "prelabel finished: 0 done" in printed.out
    assert printed.out.count("No space left on device") == 1
    assert "Traceback" not in printed.err
    assert _leftovers(out) == []


def test_evaluate_json_on_a_full_disk_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    root = write_shared_layout(tmp_path / "data")
    monkeypatch.setattr("napari_fada.commands.evaluate.load_model", lambda args: ScriptedBackend())
    FullDisk(monkeypatch, full=True)
    out = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(root), "--split", "val", "--json", str(out)]) == 2
    printed = capsys.readouterr()
    assert "evaluate: error: No space left on device" in printed.err
    assert "plane accuracy" in printed.out  # the table came first
    assert not out.exists() and _leftovers(tmp_path) == []


def test_saving_weights_on_a_full_disk_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    weights = load_weights(SHIPPED_WEIGHTS)
    FullDisk(monkeypatch, full=True)
    with pytest.raises(OSError, match="No space left"):
        save_weights(weights, tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


def test_training_on_a_full_disk_leaves_no_partial_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    from tests.training.test_train import _saved_dataset

    data = _saved_dataset(tmp_path / "ds", count=6)
    FullDisk(monkeypatch, full=True)
    code = main(
        ["train", "--data", str(data), "--out", str(tmp_path / "m.pt"), "--epochs", "1",
         "--size", "32", "--threads", "1", "--cache-dir", str(tmp_path / "cache")]
    )  # fmt: skip
    assert code != 0 and "No space left on device" in capsys.readouterr().err
    assert _leftovers(tmp_path) == [] and not (tmp_path / "m.pt").exists()
