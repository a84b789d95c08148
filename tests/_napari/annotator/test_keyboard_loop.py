"""The annotator's loop over a folder, run from the keyboard alone in a real napari viewer.

The embedded default model proposes on each image as it is shown; the person accepts, rejects or
marks "nothing to label" with one key and steps on with another. Only decided images are saved,
decisions taken before a dataset folder is chosen included, and going back is answered from the
cache, with no second model call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Image
from PIL import Image as PILImage
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada.data.folders import folder_images
from napari_fada.models.embedded_backend import EmbeddedBackend

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | SHIFT
#: decision -> the key that takes it (image-level: the plane call included)
DECISION_KEYS = {
    "accepted": (Qt.Key.Key_Y, CTRL_SHIFT),
    "rejected": (Qt.Key.Key_N, CTRL_SHIFT),
    "nothing_to_label": (Qt.Key.Key_E, SHIFT),
}
NEXT = (Qt.Key.Key_Right, SHIFT)
PREVIOUS = (Qt.Key.Key_Left, SHIFT)


@pytest.fixture
def scans(samples_dir: Path, tmp_path: Path) -> list[Path]:
    """The 20 shared sample images, copied into a folder of their own."""
    folder = tmp_path / "scans"
    folder.mkdir()
    for image in folder_images(samples_dir / "images"):
        shutil.copy(image, folder / image.name)
    return folder_images(folder)


def press(widget: AnnotatorWidget, key: tuple[Qt.Key, Qt.KeyboardModifier], qtbot) -> None:
    """A key press on the canvas, dispatched through napari's keymaps as a person's is."""
    qtbot.keyClick(widget.viewer.window._qt_viewer.canvas.native, *key)


def wait_for_proposals(widget: AnnotatorWidget, path: Path, qtbot) -> None:
    """Until ``path``'s image is shown with its proposals (or labels) for review."""

    def shown() -> bool:
        image = widget.image
        return image is not None and image.source_path == path and widget.session is not None

    qtbot.waitUntil(shown, timeout=60_000)


def step(
    widget: AnnotatorWidget, key: tuple[Qt.Key, Qt.KeyboardModifier], path: Path, qtbot
) -> None:
    """Press ``key`` and wait until it has brought ``path``'s image up for review."""
    press(widget, key, qtbot)
    wait_for_proposals(widget, path, qtbot)


def docked(make_napari_viewer, backend=None, **viewer_options) -> AnnotatorWidget:
    """The annotator docked in a new viewer, using ``backend`` when one is given (else the
    embedded default model)."""
    viewer = make_napari_viewer(**viewer_options)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    if backend is not None:
        widget.set_backend(backend)
    return widget


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every propose call of the embedded default model, counted."""
    calls: list[str] = []
    propose = EmbeddedBackend.propose

    def counted(self, *args, **kwargs):
        calls.append("propose")
        return propose(self, *args, **kwargs)

    monkeypatch.setattr(EmbeddedBackend, "propose", counted)
    return calls


def test_twenty_images_reviewed_with_keys_only_make_twenty_records(
    make_napari_viewer, qtbot, scans: list[Path], tmp_path: Path, model_calls: list[str]
) -> None:
    widget = docked(make_napari_viewer)
    viewer = widget.viewer
    widget.annotator_edit.setText("ana")
    widget.open_sequence(scans[0].parent)  # File dialog aside, no mouse from here on
    assert widget.loop.auto_propose.isChecked()
    calls = model_calls
    decisions = [list(DECISION_KEYS)[i % 3] for i in range(len(scans))]

    for index, (path, decision) in enumerate(zip(scans, decisions, strict=True)):
        wait_for_proposals(widget, path, qtbot)
        if index == 4:  # the first four decisions were taken before a dataset folder existed
            assert len(widget.unsaved) == 4
            widget.open_dataset(tmp_path / "dataset")
            assert widget.unsaved == {} and widget.dataset is not None
            assert len(widget.dataset.records()) == 4
        if index == 6:  # look at the next image without deciding, and come back
            saved = len(widget.dataset.records())
            step(widget, NEXT, scans[7], qtbot)
            made = len(calls)
            step(widget, PREVIOUS, path, qtbot)
            step(widget, NEXT, scans[7], qtbot)
            step(widget, PREVIOUS, path, qtbot)
            assert len(calls) == made  # both answered from the cache
            assert len(widget.dataset.records()) == saved  # looking saves nothing
        press(widget, DECISION_KEYS[decision], qtbot)
        press(widget, NEXT, qtbot)
        # one image in view at a time: the image before and its layers are replaced
        assert len([layer for layer in viewer.layers if layer.name.endswith(" shapes")]) <= 1

    dataset = widget.dataset
    assert dataset is not None
    records = {Path(r.source_path or "").name: r for r in dataset.records()}
    assert sorted(records) == [p.name for p in scans]
    assert len(calls) == len(scans)  # one model call per image
    for path, decision in zip(scans, decisions, strict=True):
        loaded = dataset.load(records[path.name].image_id)
        assert loaded is not None
        proposal = loaded[1]
        assert proposal.decision == decision, path.name
        assert all(a.status != "proposed" for a in proposal.annotations)
        if proposal.plane is not None:
            expected = "accepted" if decision == "accepted" else "rejected"
            assert proposal.plane.status == expected, path.name
        if decision == "nothing_to_label":
            assert proposal.kept() == []
    assert sorted(p.name for p in (dataset.root / "images").iterdir()) == sorted(
        f"{r.image_id}.png" for r in records.values()
    )


def test_keys_work_right_after_clicking_propose(
    make_napari_viewer, qtbot, scripted_backend, scans: list[Path]
) -> None:
    widget = docked(make_napari_viewer, show=True)
    window = widget.window()
    window.activateWindow()  # as the window a person works in is
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=10_000)
    widget.set_backend(scripted_backend)
    widget.open_sequence(scans[0].parent)
    widget.loop.auto_propose.setChecked(False)
    qtbot.waitUntil(lambda: widget.session is not None, timeout=10_000)
    widget.annotator_edit.setFocus()
    qtbot.keyClicks(widget.annotator_edit, "ana")  # typing one's name leaves the keyboard there
    assert QApplication.focusWidget() is widget.annotator_edit
    qtbot.mouseClick(widget.propose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.job is None and widget.session is not None, timeout=10_000)
    focused = QApplication.focusWidget()
    # not a widget of the dock: a text box there would take Shift+arrows for its selection
    assert focused is not None and not widget.isAncestorOf(focused)
    qtbot.keyClick(focused, Qt.Key.Key_Y, CTRL_SHIFT)  # wherever the keyboard now is
    assert widget.session is not None and widget.session.decision == "accepted"
    qtbot.keyClick(focused, Qt.Key.Key_Right, SHIFT)
    qtbot.waitUntil(
        lambda: widget.image is not None and widget.image.source_path == scans[1], timeout=10_000
    )


def test_a_small_image_opened_after_a_big_one_replaces_it_in_view(
    make_napari_viewer, qtbot, scripted_backend, scans: list[Path], tmp_path: Path
) -> None:
    widget = docked(make_napari_viewer, scripted_backend)
    viewer = widget.viewer
    widget.open_dataset(tmp_path / "dataset")
    widget.open_sequence(scans[0].parent)  # its first image is 959 x 661
    qtbot.waitUntil(lambda: widget.session is not None, timeout=10_000)
    assert widget.save() is False  # only looked at: nothing to save
    small = tmp_path / "small" / "tiny.png"
    small.parent.mkdir()
    PILImage.fromarray(np.full((8, 8), 200, np.uint8)).save(small)
    (layer,) = viewer.open(small, plugin="napari-fada")
    qtbot.waitUntil(lambda: widget.session is not None, timeout=10_000)
    assert [x for x in viewer.layers if isinstance(x, Image)] == [layer]
    assert not any(x.name.startswith(scans[0].stem) for x in viewer.layers)
    assert np.all(np.abs(np.asarray(viewer.camera.center[-2:]) - 3.5) < 1)  # the view fits it
    assert widget.dataset is not None and widget.dataset.records() == []


def test_a_saved_dataset_opens_as_a_sequence_of_its_images_with_their_labels(
    make_napari_viewer, qtbot, scripted_backend, scans: list[Path], tmp_path: Path
) -> None:
    widget = docked(make_napari_viewer, scripted_backend)
    widget.open_dataset(tmp_path / "dataset")
    widget.open_sequence(scans[0].parent)
    wait_for_proposals(widget, scans[0], qtbot)
    press(widget, DECISION_KEYS["nothing_to_label"], qtbot)
    widget.viewer.close()
    calls = scripted_backend.calls

    widget = docked(make_napari_viewer, scripted_backend)
    widget.open_sequence(tmp_path / "dataset")
    qtbot.waitUntil(lambda: widget.session is not None, timeout=10_000)
    assert widget.dataset is not None and widget.dataset.root == tmp_path / "dataset"
    assert widget.session.to_proposal().decision == "nothing_to_label"
    assert scripted_backend.calls == calls  # its saved labels, not a new proposal


def test_nothing_to_label_is_recorded_without_asking_the_model(
    make_napari_viewer, qtbot, scripted_backend, scans: list[Path], tmp_path: Path
) -> None:
    widget = docked(make_napari_viewer, scripted_backend)
    widget.open_dataset(tmp_path / "dataset")
    widget.viewer.open(scans[0], plugin="napari-fada")  # not proposing on each image
    assert widget.session is None
    press(widget, DECISION_KEYS["nothing_to_label"], qtbot)
    assert widget.dataset is not None
    (record,) = widget.dataset.records()
    loaded = widget.dataset.load(record.image_id)
    assert loaded is not None
    assert loaded[1].decision == "nothing_to_label" and loaded[1].annotations == []
    assert scripted_backend.calls == 0
