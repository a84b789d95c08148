"""The "FADA train & evaluate" dock: train on a dataset the plugin saved, switch the annotator to
the new weights and propose with them; evaluate like ``evaluate_backend``; cancel; errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.training.panel import FINE_TUNE_LR, START_FILE, START_NEW, START_SHIPPED
from napari_fada._napari.training.widget import TrainingWidget
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.inspection.evaluate import evaluate_backend
from napari_fada.models.embedded_backend import EmbeddedBackend
from napari_fada.models.file_hashes import file_sha256
from napari_fada.settings import Settings
from napari_fada.training.options import TrainOptions
from tests.training.test_train import _saved_dataset, _scene

LEFT = Qt.MouseButton.LeftButton
PLANES = {"trans-thalamic", "transperineal", "trans-ventricular"}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings and the training cache go to temporary folders, never the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))


@pytest.fixture
def docks(make_napari_viewer, scripted_backend) -> tuple[TrainingWidget, AnnotatorWidget]:
    """The annotator (with the scripted model) and the training dock on one viewer."""
    viewer = make_napari_viewer()
    annotator = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(annotator, name="FADA annotator")
    annotator.set_backend(scripted_backend)
    widget = TrainingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="FADA train & evaluate")
    return widget, annotator


def set_up_training(widget: TrainingWidget, data: Path, out: Path, epochs: int) -> None:
    """A new model of input 32x32: a few steps take seconds."""
    panel = widget.train_panel
    widget.add_dataset(data)
    panel.start_combo.setCurrentText(START_NEW)
    panel.size_spin.setValue(32)
    panel.epochs_spin.setValue(epochs)
    panel.batch_spin.setValue(4)
    panel.lr_spin.setValue(0.01)
    panel.out_edit.setText(str(out))


def run_training(widget: TrainingWidget, qtbot) -> None:
    qtbot.mouseClick(widget.train_panel.run_button, LEFT)
    qtbot.waitUntil(lambda: widget.training is None, timeout=120_000)


def epoch_losses(log: str) -> list[float]:
    return [float(v) for v in re.findall(r"^epoch \d+: loss=([\d.]+)", log, re.MULTILINE)]


def test_train_then_propose_with_the_new_weights(docks, qtbot, tmp_path):
    widget, annotator = docks
    panel = widget.train_panel
    out = tmp_path / "tuned.pt"
    set_up_training(widget, _saved_dataset(tmp_path / "dataset"), out, epochs=6)
    run_training(widget, qtbot)
    assert widget.result is not None, panel.status.text()
    losses = epoch_losses(panel.log.toPlainText())
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert panel.progress.value() == 100
    assert panel.status.text().startswith(f"Wrote {out} after 6 epochs: validation score ")
    assert panel.validation.text().startswith("Validation after epoch 6: ")
    score = next(line for line in panel.result_box.toPlainText().splitlines() if "score" in line)
    before, after = (float(v) for v in score.split()[1:3])
    assert (before, after) == pytest.approx(
        (widget.result.before["score"], widget.result.after["score"]), abs=1e-4
    )

    scripted = annotator.backend
    assert scripted is not None and panel.use_button.isEnabled()
    qtbot.mouseClick(panel.use_button, LEFT)
    qtbot.waitUntil(lambda: widget.loader is None, timeout=30_000)
    assert annotator.backend is not scripted, panel.status.text()
    assert annotator.backend.info.weights_sha256 == file_sha256(out)
    assert annotator.backend.info.weights_sha256 != scripted.info.weights_sha256
    saved = Settings.load()
    assert (saved.backend, saved.weights) == ("embedded", str(out))
    assert annotator.model_picker.rows["weights"].edit.text() == str(out)

    image, _ = _scene(0)
    annotator.viewer.add_image(image, name="scan0")
    qtbot.mouseClick(annotator.propose_button, LEFT)
    qtbot.waitUntil(lambda: annotator.job is None, timeout=30_000)
    assert annotator.session is not None, annotator.status.text()
    proposal = annotator.session.base
    assert proposal.model.weights_sha256 == file_sha256(out)
    assert proposal.plane is not None and proposal.plane.label in PLANES
    assert proposal.annotations
    assert {a.source for a in proposal.annotations} == {"fada-embedded-1.1"}


def test_evaluate_shows_what_evaluate_backend_reports(docks, qtbot, samples_dir, tmp_path):
    widget, _ = docks
    panel = widget.evaluate_panel
    panel.data_edit.setText(str(samples_dir))
    panel.limit_spin.setValue(3)
    qtbot.mouseClick(panel.run_button, LEFT)
    qtbot.waitUntil(lambda: widget.evaluation is None, timeout=60_000)
    assert widget.report is not None, panel.status.text()
    expected = evaluate_backend(EmbeddedBackend(), samples_dir, limit=3)
    assert widget.report.to_dict() == expected.to_dict()
    assert panel.report_box.toPlainText() == expected.format_table()
    assert panel.progress.value() == 100 and panel.save_button.isEnabled()
    written = widget.save_report(tmp_path / "report.json")
    assert written is not None
    assert json.loads(written.read_text())["map50"] == pytest.approx(expected.map50)
    assert widget.save_report(tmp_path) is None
    assert panel.status.text().startswith(f"Could not write {tmp_path}")


def test_cancel_training_leaves_a_checkpoint_to_resume(docks, qtbot, tmp_path):
    widget, _ = docks
    panel = widget.train_panel
    out = tmp_path / "m.pt"
    set_up_training(widget, _saved_dataset(tmp_path / "dataset"), out, epochs=10_000)
    qtbot.mouseClick(panel.run_button, LEFT)
    assert widget.training is not None
    widget.training.relay.event.connect(
        lambda event: widget.cancel_training() if event.stage == "step" else None
    )
    qtbot.waitUntil(lambda: widget.training is None, timeout=60_000)
    assert re.match(r"Cancelled: training cancelled at step \d+", panel.status.text())
    assert widget.result is None and not out.exists() and not panel.use_button.isEnabled()
    assert Path(f"{out}.ckpt").is_file() and panel.run_button.isEnabled()

    panel.resume_box.setChecked(True)
    panel.epochs_spin.setValue(2)
    run_training(widget, qtbot)
    assert re.search(r"^resumed after epoch \d", panel.log.toPlainText(), re.MULTILINE)
    assert widget.result is not None and out.is_file()


def test_cancel_evaluation(docks, qtbot, samples_dir):
    widget, _ = docks
    panel = widget.evaluate_panel
    panel.data_edit.setText(str(samples_dir))
    qtbot.mouseClick(panel.run_button, LEFT)
    assert widget.evaluation is not None
    widget.evaluation.relay.event.connect(lambda _: widget.cancel_evaluation())
    qtbot.waitUntil(lambda: widget.evaluation is None, timeout=60_000)
    assert panel.status.text() == "Evaluation cancelled: no report."
    assert widget.report is None and not panel.save_button.isEnabled()


# -- what the user gets wrong is shown in the dock ---------------------------------------------


def _empty(root: Path) -> Path:
    Dataset.open(root)
    return root


# Each broken dataset has a dozen images, so that the hashed validation split never takes all.


def _unknown_structure(root: Path) -> Path:
    _saved_dataset(root)
    image, proposal = _scene(100)
    proposal.annotations[0].label = "stomach"
    Dataset.open(root).save(make_record(image, "odd.png"), image, proposal)
    return root


def _mask_of_another_size(root: Path) -> Path:
    _saved_dataset(root)
    mask = next((root / "masks").iterdir())
    Image.fromarray(np.zeros((10, 12), dtype=np.uint8)).save(mask)
    return root


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_empty, r"manifest\.csv"),
        (_unknown_structure, r"'stomach'.*does not know"),
        (_mask_of_another_size, r"is 64x64 but its mask .* is 12x10"),
    ],
)
def test_a_broken_dataset_is_reported(docks, qtbot, tmp_path, make, message):
    widget, _ = docks
    set_up_training(widget, make(tmp_path / "dataset"), tmp_path / "m.pt", epochs=1)
    run_training(widget, qtbot)
    assert re.search(message, widget.train_panel.status.text())
    assert widget.result is None and widget.train_panel.run_button.isEnabled()


def test_corrupt_init_weights_are_reported(docks, qtbot, tmp_path):
    widget, _ = docks
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    set_up_training(widget, _saved_dataset(tmp_path / "dataset"), tmp_path / "m.pt", epochs=1)
    widget.train_panel.start_combo.setCurrentText(START_FILE)
    widget.train_panel.init_edit.setText(str(bad))
    run_training(widget, qtbot)
    assert (
        "bad.pt is not a readable embedded model weights file" in widget.train_panel.status.text()
    )


def test_nothing_to_train_on(docks):
    widget, _ = docks
    widget.train()
    assert widget.training is None
    assert widget.train_panel.status.text() == "Add at least one dataset folder to train on."


def test_learning_rate_follows_the_start(docks):
    panel = docks[0].train_panel
    assert panel.start_combo.currentText() == START_SHIPPED
    assert panel.lr_spin.value() == pytest.approx(FINE_TUNE_LR)
    assert not panel.size_spin.isEnabled() and not panel.init_row.isEnabled()
    panel.start_combo.setCurrentText(START_NEW)
    assert panel.lr_spin.value() == pytest.approx(TrainOptions.default("lr"))
    assert panel.size_spin.isEnabled()


LOOP_SAMPLES = (
    "hc18_010_HC", "hc18_014_HC", "psfhs_03744", "psfhs_03745",
    "brain_Patient00644_Plane3_1_of_3", "brain_Patient00652_Plane3_1_of_1",
)  # fmt: skip


def test_propose_review_save_train_and_propose_again(
    make_napari_viewer, qtbot, samples_dir, tmp_path
):
    """The loop an annotator runs: the shipped model proposes, the reviewer's decisions are
    saved, the dock fine-tunes on that dataset, and the annotator proposes with the result."""
    viewer = make_napari_viewer()
    annotator = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(annotator, name="FADA annotator")
    corrections = tmp_path / "corrections"
    annotator.open_dataset(corrections)
    annotator.set_backend(EmbeddedBackend())
    for image_id in LOOP_SAMPLES:
        pixels = np.asarray(Image.open(samples_dir / "images" / f"{image_id}.png"))
        viewer.add_image(pixels, name=image_id)
        qtbot.mouseClick(annotator.propose_button, LEFT)
        qtbot.waitUntil(lambda: annotator.job is None, timeout=30_000)
        assert annotator.accept_all(), annotator.status.text()
    assert len(Dataset.open(corrections).records()) == len(LOOP_SAMPLES)

    widget = TrainingWidget(viewer)  # offers the annotator's dataset
    viewer.window.add_dock_widget(widget, name="FADA train & evaluate")
    assert widget.datasets() == [corrections]
    out = tmp_path / "tuned.pt"
    widget.train_panel.out_edit.setText(str(out))
    widget.train_panel.epochs_spin.setValue(1)
    widget.train_panel.batch_spin.setValue(4)
    run_training(widget, qtbot)
    assert widget.result is not None, widget.train_panel.status.text()

    qtbot.mouseClick(widget.train_panel.use_button, LEFT)
    qtbot.waitUntil(lambda: widget.loader is None, timeout=30_000)
    qtbot.mouseClick(annotator.propose_button, LEFT)
    qtbot.waitUntil(lambda: annotator.job is None, timeout=30_000)
    assert annotator.session is not None
    assert annotator.session.base.model.weights_sha256 == file_sha256(out)
