"""The review queue dock on a real viewer: open, step with keys, edit, close, reopen, continue."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_fada._napari.review.widget import PLUGIN, QUEUE_KEYS, ReviewQueueWidget
from napari_fada.data.dataset import Dataset
from napari_fada.data.importers.to_dataset import import_folder
from napari_fada.review.stats import dataset_summary
from tests._napari.annotator.test_review_keys import napari_keybindings

QUEUE = "FADA review queue"
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Widget settings go to a temporary folder, never the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """The 20 shared samples imported once as a review dataset (copied per test)."""
    return import_folder(samples_dir, tmp_path_factory.mktemp("imported") / "review").root


@pytest.fixture
def dataset_dir(imported: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(imported, tmp_path / "review"))


def open_queue(make_napari_viewer) -> ReviewQueueWidget:
    """A viewer with the queue docked as napari's Plugins menu would dock it."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, QUEUE)
    return widget


def press(widget: ReviewQueueWidget, qtbot, key: Qt.Key, modifiers) -> None:
    qtbot.keyClick(widget.viewer.window._qt_viewer.canvas.native, key, modifiers)


def shown_image(widget: ReviewQueueWidget) -> str:
    annotator = widget.annotator
    assert annotator.record is not None and annotator.session is not None
    return annotator.record.image_id


def test_queue_keys_clash_with_nothing(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    taken = napari_keybindings(viewer)
    from napari.utils.key_bindings import coerce_keybinding

    from napari_fada._napari.annotator.review_keys import REVIEW_KEYS

    ours = {coerce_keybinding(k) for k in QUEUE_KEYS}
    assert not ours & taken
    assert not ours & {coerce_keybinding(k) for k in REVIEW_KEYS}


def test_step_edit_close_reopen_and_continue(make_napari_viewer, qtbot, dataset_dir) -> None:
    widget = open_queue(make_napari_viewer)
    widget.annotator.annotator_edit.setText("ana")
    widget.open_folder(dataset_dir)
    queue = widget.queue
    assert queue is not None and len(queue.items) == 20
    order = [i.image_id for i in queue.view("dataset")]
    assert shown_image(widget) == order[0]  # a new session starts at the first unreviewed
    assert widget.table.rowCount() == 20

    press(widget, qtbot, Qt.Key.Key_PageDown, SHIFT)
    assert shown_image(widget) == order[1]
    press(widget, qtbot, Qt.Key.Key_PageUp, SHIFT)
    assert shown_image(widget) == order[0]
    assert [layer.name for layer in widget.viewer.layers if layer.name in order] == [order[0]]

    press(widget, qtbot, Qt.Key.Key_Y, CTRL_SHIFT)  # accept everything on the first image
    qtbot.waitUntil(lambda: queue.items[order[0]].status == "accepted", timeout=5000)
    assert widget.table.item(0, 1).text() == "accepted"

    press(widget, qtbot, Qt.Key.Key_PageDown, SHIFT)  # the second image: move its outline
    assert shown_image(widget) == order[1]
    shapes = widget.annotator.session.layers.shapes
    moved = [shapes.data[0] + np.array([5.0, 0.0]), *shapes.data[1:]]
    shapes.data = list(zip(moved, shapes.shape_type, strict=True))
    expected = np.array(shapes.data[0])
    widget.viewer.close()  # closing saves the edit and the position

    widget = open_queue(make_napari_viewer)
    assert widget.queue is not None
    assert widget.state.current == order[1]
    assert shown_image(widget) == order[1]
    reopened = widget.annotator.session.layers.shapes
    assert "edited" in set(reopened.features["status"])
    assert np.allclose(reopened.data[0], expected)
    assert widget.queue.items[order[0]].status == "accepted"
    assert widget.queue.items[order[1]].stats.edits == 1
    summary = dataset_summary(Dataset.open(dataset_dir))
    assert summary.reviewed == 2  # the accepted image and the edited one
    assert summary.total_time_s > 0
    assert widget.summary_label.text() == summary.text()
    assert widget.counts_label.text().startswith("20 images: ")


def test_compare_filter_and_the_annotators_own_stepping(
    make_napari_viewer, qtbot, dataset_dir, samples_dir
) -> None:
    widget = open_queue(make_napari_viewer)
    widget.open_folder(dataset_dir)
    assert widget.queue is not None
    widget.compare_with(samples_dir)  # the labels the dataset was imported from: all agree
    qtbot.waitUntil(lambda: widget.comparer is None, timeout=20_000)
    assert widget.order_combo.currentData() == "disagreement"
    cells = {widget.table.item(r, 3).text() for r in range(widget.table.rowCount())}
    assert cells == {"0.00"}
    first = widget.state.current
    order = [i.image_id for i in widget.shown]
    press(widget, qtbot, Qt.Key.Key_Right, SHIFT)  # the annotator's next image: the table's next
    assert widget.state.current == order[order.index(first) + 1]
    assert shown_image(widget) == widget.state.current

    widget.filter_combo.setCurrentText("accepted")
    assert widget.table.rowCount() == 0
    widget.filter_combo.setCurrentText("unreviewed")
    assert widget.table.rowCount() == 20
    widget.viewer.close()

    widget = open_queue(make_napari_viewer)  # order, filter and comparison come back
    qtbot.waitUntil(lambda: widget.comparer is None, timeout=20_000)
    assert widget.state.compare_to == str(samples_dir)
    assert widget.filter_combo.currentText() == "unreviewed"
    assert widget.order_combo.currentData() == "disagreement"
    assert widget.queue is not None and widget.queue.comparison is not None


def test_a_labelled_folder_is_imported_then_reviewed(
    make_napari_viewer, qtbot, tmp_path, samples_dir, dataset_dir
) -> None:
    source = tmp_path / "coco"
    (source / "images").mkdir(parents=True)
    shutil.copy(samples_dir / "images" / "psfhs_03744.png", source / "images" / "scan.png")
    document = {
        "images": [{"id": 1, "file_name": "images/scan.png"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 50]}],
        "categories": [{"id": 1, "name": "pubic_symphysis"}],
    }
    (source / "coco.json").write_text(json.dumps(document))
    widget = open_queue(make_napari_viewer)
    widget.open_folder(source, import_into=tmp_path / "coco-review")
    qtbot.waitUntil(lambda: widget.queue is not None, timeout=10_000)
    assert shown_image(widget) == "scan"
    shapes = widget.annotator.session.layers.shapes
    assert list(shapes.features["label"]) == ["pubic_symphysis"]
    assert widget.counts_label.text() == "1 images: 1 unreviewed, 0 accepted, 0 edited, 0 rejected"

    widget.open_folder(dataset_dir)  # another dataset: the first one's image goes, saved there
    images = [layer.name for layer in widget.viewer.layers if layer.name in widget.queue.items]
    assert images == [widget.state.current] and "scan" not in widget.queue.items
    assert [r.image_id for r in Dataset.open(tmp_path / "coco-review").records()] == ["scan"]
