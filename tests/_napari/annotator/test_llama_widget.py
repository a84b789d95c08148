"""FADA through the widget on llama.cpp: a tiny GGUF + mmproj pair, five phases, editable layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.hooks.source import ImageSource
from napari_fada.settings import Settings

SAMPLE = "hc18_010_HC"
MODEL_ID = "tiny-fada-qwen2vl"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Widget settings go to a temporary folder, never the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from tests.models.tiny_gguf import build_gguf_pair

    return build_gguf_pair(tmp_path_factory.mktemp("gguf"))


def choose_llama(widget: AnnotatorWidget, model: Path, mmproj: Path) -> None:
    widget.model_combo.setCurrentText("llama")
    for row, path in (("gguf_model", model), ("mmproj", mmproj)):
        widget.model_picker.rows[row].edit.setText(str(path))
        widget.model_picker.rows[row].edit.editingFinished.emit()
    widget.model_picker.threads.setValue(1)


@pytest.mark.qt
def test_widget_runs_fada_five_phases_from_gguf_files(
    make_napari_viewer, qtbot, samples_dir: Path, pair, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_dataset(tmp_path / "dataset")
    choose_llama(widget, pair.model, pair.mmproj)
    path = samples_dir / "images" / f"{SAMPLE}.png"
    viewer.add_image(
        np.asarray(PILImage.open(path)), name=SAMPLE, metadata=ImageSource(path=path).metadata()
    )
    qtbot.mouseClick(widget.propose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.loader is None and widget.job is None, timeout=60_000)
    assert widget.backend is not None and widget.backend.model_id == MODEL_ID
    assert widget.backend.info.backend == "llama"
    assert widget.session is not None
    shapes = widget.session.layers.shapes
    assert len(shapes.data) > 0
    assert set(shapes.features["source"]) == {MODEL_ID}
    assert set(shapes.features["status"]) == {"proposed"}
    assert shapes.name == f"{SAMPLE} shapes" and shapes in viewer.layers
    raw = widget.raw_answers.toPlainText()
    for phase in ("interpret", "classify", "map", "detect", "segment"):
        assert f"== {phase}" in raw
    assert widget.plane_label.text().startswith("Plane: ")
    assert "anatomical_structures" in widget.interpretation.toPlainText()
    saved = Settings.load()
    assert (saved.backend, saved.gguf_model, saved.mmproj, saved.threads) == (
        "llama",
        str(pair.model),
        str(pair.mmproj),
        1,
    )


@pytest.mark.qt
def test_widget_reports_a_mismatched_mmproj(make_napari_viewer, qtbot, pair, tmp_path) -> None:
    from tests.models.tiny_gguf import write_mmproj

    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    choose_llama(widget, pair.model, write_mmproj(tmp_path / "mmproj-other.gguf", 96))
    widget.load_selected_backend()
    qtbot.waitUntil(lambda: widget.loader is None, timeout=30_000)
    assert widget.backend is None
    assert "choose the mmproj published with this model" in widget.status.text()
