"""The pre-label dock on a real viewer: a folder with a corrupt file is proposed in a worker
thread with progress, the summary names the failure, and errors are shown, not raised; the batch
size is offered for the backends that batch and reaches the model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from napari_fada._napari.prelabel.widget import PrelabelWidget, describe_progress
from napari_fada.batch.prelabel import Progress
from napari_fada.core.prompts import max_new_tokens
from napari_fada.data.dataset import Dataset
from napari_fada.models import fada_pipeline
from napari_fada.models.fada_pipeline import FadaPipeline
from napari_fada.settings import Settings
from tests.batch.conftest import SMALL_IMAGES, write_images_folder

PLUGIN, DOCK = "napari-fada", "FADA pre-label a folder"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))


def open_dock(make_napari_viewer, show: bool = False) -> PrelabelWidget:
    _, widget = make_napari_viewer(show=show).window.add_plugin_dock_widget(PLUGIN, DOCK)
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


def test_the_batch_size_follows_the_backend_and_reaches_the_model(
    make_napari_viewer, qtbot, samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("llama_cpp")
    from tests.models.tiny_gguf import build_gguf_pair

    widget = open_dock(make_napari_viewer, show=True)
    assert Settings.load().backend == "embedded"
    assert not widget.batch_spin.isEnabled() and widget.batch_spin.value() == 1
    assert "one image at a time" in widget.batch_spin.toolTip()

    pair = build_gguf_pair(tmp_path / "gguf")  # the model is chosen in the annotator meanwhile
    settings = Settings.load()
    settings.backend, settings.gguf_model, settings.mmproj = (
        "llama",
        str(pair.model),
        str(pair.mmproj),
    )
    settings.save()
    dock = widget.parentWidget()
    dock.hide()
    dock.show()  # the dock shown again
    assert widget.batch_spin.isEnabled() and "llama" in widget.batch_spin.toolTip()

    # short answers: a random model writes until the limit
    monkeypatch.setattr(fada_pipeline, "max_new_tokens", lambda p: min(max_new_tokens(p), 16))
    sizes: list[int] = []
    propose_batch = FadaPipeline.propose_batch

    def counted(self: FadaPipeline, images: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(images))
        return propose_batch(self, images, *args, **kwargs)

    monkeypatch.setattr(FadaPipeline, "propose_batch", counted)
    widget.input_edit.setText(str(write_images_folder(samples_dir, tmp_path / "scans")))
    widget.dataset_edit.setText(str(tmp_path / "ds"))
    widget.workers_spin.setValue(1)  # in this process, so the count above sees the model
    widget.batch_spin.setValue(3)
    widget.run_button.click()
    assert "3 images at a time" in widget.status.text()
    qtbot.waitUntil(lambda: not widget.running, timeout=300_000)
    assert widget.report is not None and widget.report.done == len(SMALL_IMAGES)
    assert sizes == [2, 2]  # groups of three files, broken.png failing to read in the first
