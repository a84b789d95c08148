"""The annotator dock widget end to end on real samples, with the scripted backend."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from qtpy.QtCore import Qt

from napari_fada._napari.annotator_widget import AnnotatorWidget
from napari_fada.core.proposal import MANUAL_SOURCE, Annotation
from napari_fada.errors import ModelLoadError
from tests.scripted_backend import ScriptedBackend

SAMPLES = ("hc18_010_HC", "psfhs_03744", "brain_Patient00644_Plane3_1_of_3")
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def manifest_row(samples_dir: Path, image_id: str) -> dict[str, str]:
    with (samples_dir / "manifest.csv").open() as handle:
        return next(row for row in csv.DictReader(handle) if row["id"] == image_id)


def open_sample(viewer, samples_dir: Path, image_id: str, **metadata):
    """Add a sample as our reader would: pixels, scale from pixel spacing, fada_* metadata."""
    path = samples_dir / "images" / f"{image_id}.png"
    spacing_text = manifest_row(samples_dir, image_id)["pixel_size_mm"]
    spacing = (float(spacing_text),) * 2 if spacing_text else None
    return viewer.add_image(
        np.asarray(PILImage.open(path)),
        name=image_id,
        scale=spacing or (1.0, 1.0),
        metadata={"fada_path": str(path), "fada_pixel_spacing_mm": spacing, **metadata},
    )


@pytest.fixture
def make_widget(make_napari_viewer, scripted_backend, tmp_path: Path):
    """A viewer with the widget docked, the scripted backend and a dataset under tmp_path."""

    def make(backend=scripted_backend) -> AnnotatorWidget:
        viewer = make_napari_viewer()
        widget = AnnotatorWidget(viewer)
        viewer.window.add_dock_widget(widget)
        widget.set_backend(backend)
        widget.annotator_edit.setText("ana")
        widget.open_dataset(tmp_path / "dataset")
        return widget

    return make


def propose(widget: AnnotatorWidget, qtbot) -> None:
    qtbot.mouseClick(widget.propose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.job is None, timeout=10_000)


def by_label(widget: AnnotatorWidget) -> dict[str, Annotation]:
    assert widget.session is not None
    return {a.label: a for a in widget.session.to_proposal(widget.annotator).annotations}


def press(widget: AnnotatorWidget, qtbot, key: Qt.Key, modifiers) -> None:
    qtbot.keyClick(widget.viewer.window._qt_viewer.canvas.native, key, modifiers)


@pytest.mark.parametrize("image_id", SAMPLES)
def test_propose_review_save_and_reload(make_widget, qtbot, samples_dir, image_id) -> None:
    widget = make_widget()
    image = open_sample(widget.viewer, samples_dir, image_id)
    propose(widget, qtbot)
    session = widget.session
    assert session is not None
    shapes = session.layers.shapes
    assert [layer.name for layer in widget.viewer.layers][-3:] == [
        f"{image_id} shapes",
        f"{image_id} masks",
        f"{image_id} keypoints",
    ]
    assert list(shapes.features["label"]) == ["head", "head", "CSP", "LV", "LV"]
    assert set(shapes.features["status"]) == {"proposed"}
    assert np.allclose(shapes.scale, image.scale)
    assert widget.plane_label.text() == "Plane: BPD_PLANE (0.88)"
    assert "trans-thalamic" in widget.interpretation.toPlainText()
    assert "'brain'" in widget.structures.route_label.text()

    data = list(shapes.data)  # move the LV polygon down 3 pixels: an edit
    data[4] = data[4] + np.array([3.0, 0.0])
    shapes.data = list(zip(data, shapes.shape_type, strict=True))
    shapes.selected_data = {2}  # relabel the CSP box: an edit
    widget.label_combo.setCurrentText("NT")
    widget.apply_label()
    widget.label_combo.setCurrentText("arm")
    shapes.selected_data = set()
    shapes.add_rectangles([np.array([[10.0, 10.0], [10.0, 40.0], [30.0, 40.0], [30.0, 10.0]])])
    assert widget.accept() == [widget.session.base.annotations[0].id]  # head, the next proposed
    shapes.selected_data = {4}
    widget.reject()  # the edited LV
    widget.accept_all()  # nothing proposed is left
    read = by_label(widget)
    assert {k: (a.status, a.source) for k, a in read.items()} == {
        "head": ("accepted", "scripted-1"),
        "NT": ("edited", "scripted-1"),
        "LV": ("rejected", "scripted-1"),
        "arm": ("accepted", MANUAL_SOURCE),
    }
    assert read["NT"].parent_id == widget.session.base.annotations[1].id
    assert all(a.annotator == "ana" for a in read.values())
    assert widget.save()

    again = make_widget()  # a fresh viewer on the same dataset
    open_sample(again.viewer, samples_dir, image_id)
    reloaded = by_label(again)
    assert reloaded.keys() == read.keys()
    for label, annotation in read.items():
        back = reloaded[label]
        assert (back.id, back.status, back.parent_id, back.source) == (
            annotation.id,
            annotation.status,
            annotation.parent_id,
            annotation.source,
        )
        assert np.allclose(back.box, annotation.box, atol=1e-3)


class SlowBackend(ScriptedBackend):
    """Waits, checking its cancel token, until cancelled (or 10 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.stopped = threading.Event()

    def propose(self, image, request=None, progress=None, cancel=None):
        self.started.set()
        try:
            for _ in range(1000):
                cancel.raise_if_cancelled()
                progress("thinking", 0.1)
                threading.Event().wait(0.01)
            return super().propose(image, request, progress, cancel)
        finally:
            self.stopped.set()


def test_cancel_stops_the_worker_and_adds_nothing(make_widget, qtbot, samples_dir) -> None:
    backend = SlowBackend()
    widget = make_widget(backend)
    open_sample(widget.viewer, samples_dir, "psfhs_03744")
    layer_count = len(widget.viewer.layers)
    widget.propose()
    assert backend.started.wait(5)
    assert widget.cancel_button.isEnabled()
    qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.job is None, timeout=5_000)
    assert widget.session is None and len(widget.viewer.layers) == layer_count
    assert widget.status.text().startswith("Cancelled")
    assert widget.propose_button.isEnabled() and backend.stopped.is_set()


class BrokenBackend(ScriptedBackend):
    def propose(self, image, request=None, progress=None, cancel=None):
        raise ModelLoadError("weights file /models/fada.gguf is truncated; download it again")


def test_a_failing_backend_is_reported_and_napari_carries_on(
    make_widget, qtbot, samples_dir
) -> None:
    widget = make_widget(BrokenBackend())
    open_sample(widget.viewer, samples_dir, "psfhs_03744")
    propose(widget, qtbot)
    assert "fada.gguf is truncated" in widget.status.text()
    assert widget.session is None and widget.propose_button.isEnabled()
    widget.set_backend(ScriptedBackend())
    propose(widget, qtbot)
    assert widget.session is not None and widget.session.layers.shapes.nshapes == 5


def test_manual_structure_choice_overrides_routing(make_widget, qtbot, samples_dir) -> None:
    widget = make_widget()
    open_sample(widget.viewer, samples_dir, "brain_Patient00644_Plane3_1_of_3")
    widget.structures.set_manual(["CSP", "LV"])
    propose(widget, qtbot)
    assert set(widget.session.layers.shapes.features["label"]) == {"CSP", "LV"}


def test_keyboard_shortcuts_drive_the_review(make_widget, qtbot, samples_dir) -> None:
    widget = make_widget()
    open_sample(widget.viewer, samples_dir, "hc18_010_HC")
    propose(widget, qtbot)
    press(widget, qtbot, Qt.Key.Key_Y, SHIFT)
    press(widget, qtbot, Qt.Key.Key_N, SHIFT)
    assert [a.status for a in by_label(widget).values()] == ["accepted", "rejected", "proposed"]
    press(widget, qtbot, Qt.Key.Key_Y, CTRL_SHIFT)
    assert [a.status for a in by_label(widget).values()] == ["accepted", "rejected", "accepted"]


def test_frames_of_a_stack_are_reviewed_one_by_one(make_widget, qtbot, samples_dir) -> None:
    widget = make_widget()
    frames = [
        np.asarray(PILImage.open(samples_dir / "images" / f"psfhs_0374{i}.png")) for i in (4, 5, 6)
    ]
    widget.viewer.add_image(
        np.stack(frames), name="clip", metadata={"fada_is_stack": True, "fada_clip_id": "clip"}
    )
    widget.viewer.dims.set_current_step(0, 0)  # napari opens a stack at its middle frame
    propose(widget, qtbot)
    assert widget.record.frame_index == 0
    widget.accept_all()
    press(widget, qtbot, Qt.Key.Key_Right, SHIFT)
    assert widget.viewer.dims.current_step[0] == 1
    assert widget.session is None and widget.record.frame_index == 1
    press(widget, qtbot, Qt.Key.Key_Left, SHIFT)
    assert widget.record.frame_index == 0
    assert {a.status for a in by_label(widget).values()} == {"accepted"}


def test_next_image_walks_a_folder_collection(make_widget, qtbot, samples_dir) -> None:
    widget = make_widget()
    first = widget.viewer.open(samples_dir / "images", plugin="napari-fada")[0]
    paths = [Path(p) for p in first.metadata["fada_collection"]]
    assert len(paths) == 20  # mixed sizes: a collection, not a stack
    propose(widget, qtbot)
    widget.accept_all()
    widget.next_image()
    assert first not in widget.viewer.layers and widget.session is None
    assert widget.image.source_path == paths[1]
    assert widget.image.layer.metadata["fada_index"] == 1
    widget.previous_image()
    assert widget.image.source_path == paths[0]
    assert {a.status for a in by_label(widget).values()} == {"accepted"}
