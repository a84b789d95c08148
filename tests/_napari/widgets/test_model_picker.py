"""The model picker and FADA through the widget: a tiny transformers checkpoint, five phases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLineEdit

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.hooks.source import ImageSource
from napari_fada._napari.widgets.model_picker import ModelPicker
from napari_fada.models.registry import available_backends
from napari_fada.settings import Settings

SAMPLE = "hc18_010_HC"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Widget settings go to a temporary folder, never the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from tests.models.tiny_hf_model import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("hf") / "tiny-fada-vl")


def shown_rows(picker: ModelPicker) -> list[str]:
    return [name for name, row in picker.rows.items() if not row.isHidden()]


def test_picker_shows_only_what_the_backend_needs(qtbot) -> None:
    picker = ModelPicker(available_backends())
    qtbot.addWidget(picker)
    changes: list[str] = []
    picker.model_changed.connect(lambda: changes.append("model"))
    picker.phases_changed.connect(lambda: changes.append("phases"))
    assert shown_rows(picker) == ["weights"]
    picker.backend_combo.setCurrentText("llama")
    assert shown_rows(picker) == ["gguf_model", "mmproj"] and not picker.n_ctx_row.isHidden()
    assert "llama.cpp" in picker.description.text()
    picker.backend_combo.setCurrentText("transformers")
    assert shown_rows(picker) == ["hf_model"] and picker.n_ctx_row.isHidden()
    picker.backend_combo.setCurrentText("openai")
    assert shown_rows(picker) == ["server_url", "server_model", "api_key"]
    assert picker.threads_row.isHidden() and picker.rows["server_url"].browse_button.isHidden()
    assert picker.rows["api_key"].edit.echoMode() == QLineEdit.EchoMode.Password
    picker.phase_boxes["interpret"].setChecked(False)
    assert picker.phases() == ("classify", "map", "detect", "segment")
    assert changes == ["model", "model", "model", "phases"]


def test_picker_round_trips_settings(qtbot) -> None:
    picker = ModelPicker(available_backends())
    qtbot.addWidget(picker)
    saved = Settings(
        backend="llama",
        gguf_model="/m/fada.gguf",
        mmproj="/m/mmproj.gguf",
        hf_model="/m/hf",
        threads=2,
        n_ctx=8192,
        phases=["classify", "segment"],
    )
    changes: list[str] = []
    picker.model_changed.connect(lambda: changes.append("model"))
    picker.set_from(saved)
    assert changes == [] and picker.backend() == "llama"
    assert picker.rows["mmproj"].edit.text() == "/m/mmproj.gguf"
    written = Settings()
    picker.write_to(written)
    assert written == saved
    for box in picker.phase_boxes.values():
        box.setChecked(True)
    picker.write_to(written)
    assert written.phases is None


def open_sample(viewer, samples_dir: Path):
    path = samples_dir / "images" / f"{SAMPLE}.png"
    return viewer.add_image(
        np.asarray(PILImage.open(path)), name=SAMPLE, metadata=ImageSource(path=path).metadata()
    )


def choose_transformers(widget: AnnotatorWidget, folder: Path) -> None:
    widget.model_combo.setCurrentText("transformers")
    widget.model_picker.rows["hf_model"].edit.setText(str(folder))
    widget.model_picker.rows["hf_model"].edit.editingFinished.emit()
    widget.model_picker.threads.setValue(1)


@pytest.mark.qt
def test_widget_runs_fada_five_phases_from_a_checkpoint_folder(
    make_napari_viewer, qtbot, samples_dir: Path, checkpoint: Path, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_dataset(tmp_path / "dataset")
    choose_transformers(widget, checkpoint)
    # structures by hand: a random model's plane may route to a group with nothing to segment
    widget.structures.set_manual(["fetal_head", "Brain"])
    open_sample(viewer, samples_dir)
    messages: list[str] = []
    widget.progress.valueChanged.connect(lambda _: messages.append(widget.status.text()))
    qtbot.mouseClick(widget.propose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.loader is None and widget.job is None, timeout=60_000)
    assert widget.backend is not None and widget.backend.model_id == "tiny-fada-vl"
    assert widget.session is not None
    shapes = widget.session.layers.shapes
    assert len(shapes.data) > 0
    assert set(shapes.features["source"]) == {"tiny-fada-vl"}
    assert set(shapes.features["status"]) == {"proposed"}
    raw = widget.raw_answers.toPlainText()
    for phase in ("interpret", "classify", "map", "detect", "segment"):
        assert f"== {phase}" in raw
    assert widget.plane_label.text().startswith("Plane: ")
    assert widget.progress.value() == 100
    assert any("classifying" in m for m in messages), messages
    saved = Settings.load()
    assert (saved.backend, saved.hf_model, saved.threads) == ("transformers", str(checkpoint), 1)


@pytest.mark.qt
def test_widget_runs_only_the_checked_phases_and_reports_load_errors(
    make_napari_viewer, qtbot, samples_dir: Path, checkpoint: Path, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    open_sample(viewer, samples_dir)
    choose_transformers(widget, tmp_path / "nowhere")
    widget.propose()
    qtbot.waitUntil(lambda: widget.loader is None, timeout=30_000)
    assert "does not exist" in widget.status.text()
    assert widget.backend is None and widget.job is None
    choose_transformers(widget, checkpoint)
    for phase in ("interpret", "detect"):
        widget.model_picker.phase_boxes[phase].setChecked(False)
    widget.propose()
    qtbot.waitUntil(lambda: widget.loader is None and widget.job is None, timeout=60_000)
    raw = widget.raw_answers.toPlainText()
    assert "== classify" in raw and "== interpret" not in raw and "== detect" not in raw
    assert Settings.load().phases == ["classify", "map", "segment"]
