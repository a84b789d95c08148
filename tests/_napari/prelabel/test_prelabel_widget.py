"""The pre-label dock on a real viewer: a folder with a corrupt file is proposed in a worker
thread with progress, the summary names the failure, and errors are shown, not raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_fada._napari.prelabel.widget import PrelabelWidget, describe_progress
from napari_fada.batch.prelabel import Progress
from napari_fada.data.dataset import Dataset
from napari_fada.settings import Settings
from tests.batch.conftest import SMALL_IMAGES, write_images_folder

PLUGIN, DOCK = "napari-fada", "FADA pre-label a folder"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))


def open_dock(make_napari_viewer) -> PrelabelWidget:
    _, widget = make_napari_viewer().window.add_plugin_dock_widget(PLUGIN, DOCK)
    return widget


def test_a_folder_is_prelabelled_with_progress_and_a_summary(
    make_napari_viewer, qtbot, samples_dir: Path, tmp_path: Path
):
    widget = open_dock(make_napari_viewer)
    folder = write_images_folder(samples_dir, tmp_path / "scans")
    out = tmp_path / "ds"
    widget.input_edit.setText(str(folder))
    widget.dataset_edit.setText(str(out))
    widget.workers_spin.setValue(1)
    values: list[int] = []
    widget.progress.valueChanged.connect(values.append)
    widget.run_button.click()
    assert widget.running and not widget.run_button.isEnabled()
    qtbot.waitUntil(lambda: not widget.running, timeout=120_000)
    assert widget.report is not None
    assert (widget.report.done, widget.report.failed) == (len(SMALL_IMAGES), 1)
    assert values[:2] == [1, 2] and widget.progress.value() == widget.progress.maximum() == 5
    assert "4 done" in widget.status.text() and "1 failed" in widget.status.text()
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()
    assert len(Dataset.open(out).records()) == len(SMALL_IMAGES)
    assert Settings.load().dataset_dir == str(out)


def test_a_folder_that_is_not_a_dataset_is_an_error_shown_in_the_dock(
    make_napari_viewer, qtbot, samples_dir: Path, tmp_path: Path
):
    widget = open_dock(make_napari_viewer)
    widget.run_button.click()
    assert not widget.running and "first" in widget.status.text()
    widget.input_edit.setText(str(samples_dir / "images"))
    widget.dataset_edit.setText(str(samples_dir))  # not empty and not a dataset
    widget.run_button.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert "not a napari-fada dataset" in widget.status.text()
    assert widget.run_button.isEnabled()


def test_progress_reads_as_counts_rate_and_time_left():
    text = describe_progress(Progress(handled=12, total=40, failed=1, elapsed_s=6.0))
    assert text == "12 / 40 images, 2.00 images/s, about 14 s left, 1 failed"
