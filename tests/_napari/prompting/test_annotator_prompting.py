"""Prompting from the annotator dock: the section's button shows the prompt layers, a box makes
an outline of the chosen label, and the saved dataset keeps its prompts and prompt model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.prompting.layers import BOX_LAYER, POINTS_LAYER
from tests._napari.annotator.test_annotator_widget import HEAD, open_sample, propose
from tests._napari.prompting.test_prompt_layers import DiskPredictor

pytestmark = pytest.mark.qt


def test_a_box_in_the_dock_is_saved_with_its_prompts(
    make_napari_viewer, scripted_backend, qtbot, samples_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.set_backend(scripted_backend)
    widget.open_dataset(tmp_path / "dataset")
    widget.prompting.start()
    assert widget.status.text()  # without an image: a clear error, no layers
    assert BOX_LAYER not in [layer.name for layer in viewer.layers]

    open_sample(viewer, samples_dir, HEAD)
    propose(widget, qtbot)
    widget.label_combo.setCurrentText("abdomen")
    widget.prompting.controller._load = DiskPredictor  # a stand-in for the shipped model
    qtbot.mouseClick(widget.prompting.start_button, Qt.MouseButton.LeftButton)
    names = [layer.name for layer in viewer.layers]
    assert names[-2:] == [BOX_LAYER, POINTS_LAYER]
    assert viewer.layers.selection.active.name == POINTS_LAYER

    viewer.layers[BOX_LAYER].add_rectangles(np.array([[99.5, 99.5], [199.5, 299.5]]))
    assert widget.prompting.status.text().startswith("0 click(s) and a box")
    assert widget.save()
    document = json.loads((tmp_path / "dataset" / "annotations" / f"{HEAD}.json").read_text())
    (record,) = [p for p in document["provenance"] if p["source"] == "prompted:disks"]
    assert record["status"] == "accepted" and record["model_id"] == "disks"
    assert record["prompts"]["box"] == pytest.approx([100, 100, 300, 200], abs=0.6)
    saved = {a["id"]: a for a in document["proposal"]["annotations"]}
    assert saved[record["annotation_id"]]["label"] == "abdomen"


def test_prompting_needs_no_proposal_first(
    make_napari_viewer, scripted_backend, qtbot, samples_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_dataset(tmp_path / "dataset")
    open_sample(viewer, samples_dir, HEAD)
    assert widget.session is None
    widget.prompting.controller._load = DiskPredictor
    widget.prompting.start()
    viewer.layers[POINTS_LAYER].add(np.array([[200.0, 300.0]]))
    assert widget.session is not None
    assert viewer.layers.selection.active.name == POINTS_LAYER  # the next click is a prompt too
    (annotation,) = widget.session.to_proposal("ana").annotations
    assert annotation.source == "prompted:disks" and annotation.label == "head"
    assert annotation.prompts["points"] == [{"x": 300.5, "y": 200.5, "positive": True}]
