"""The Cine section end to end in a real viewer: streaming proposals frame by frame, cancel,
accept a range and save per frame, carry forward, best frames and their keys."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from napari.utils.key_bindings import coerce_keybinding
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.review_keys import REVIEW_KEYS
from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.cine.panel import CINE_KEYS
from napari_fada._napari.hooks.source import SOURCE_KEY
from napari_fada.core.proposal import Proposal
from napari_fada.data.dataset import Dataset
from tests._napari.annotator.test_review_keys import napari_keybindings
from tests._napari.cine.cine_clips import DRIFT_PX, clip_frames, write_dicom_clip
from tests.scripted_backend import ScriptedBackend

N_FRAMES = 6


class GatedBackend(ScriptedBackend):
    """Proposes one frame each time the test opens the gate; checks cancel while it waits, as a
    real backend does between its steps."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Semaphore(0)

    def propose(self, image, request=None, progress=None, cancel=None) -> Proposal:
        self.calls += 1
        while not self.gate.acquire(timeout=0.01):
            if cancel is not None:
                cancel.raise_if_cancelled()
        self.calls -= 1  # the parent counts the call again
        return super().propose(image, request, progress, cancel)


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def clip_path(tmp_path: Path) -> Path:
    return write_dicom_clip(tmp_path / "sweep.dcm", clip_frames(N_FRAMES))


@pytest.fixture
def open_clip(make_napari_viewer, clip_path: Path, tmp_path: Path):
    """A viewer with the widget docked, the clip open and a dataset chosen."""

    def make(backend, with_dataset: bool = True) -> AnnotatorWidget:
        viewer = make_napari_viewer()
        widget = AnnotatorWidget(viewer)
        viewer.window.add_dock_widget(widget)
        widget.set_backend(backend)
        widget.annotator_edit.setText("ana")
        if with_dataset:
            widget.open_dataset(tmp_path / "dataset")
        viewer.open(clip_path, plugin="napari-fada")
        viewer.dims.set_current_step(0, 0)  # napari opens a stack at its middle frame
        return widget

    return make


def stream_all(widget: AnnotatorWidget, qtbot) -> None:
    qtbot.mouseClick(widget.cine.propose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.cine.job is None, timeout=20_000)


def overview_frames(widget: AnnotatorWidget) -> list[int]:
    assert widget.cine.overview is not None
    return sorted(set(widget.cine.overview.features["frame"].astype(int)))


def test_proposals_stream_frame_by_frame_and_cancel_stops_at_once(open_clip, qtbot) -> None:
    backend = GatedBackend()
    widget = open_clip(backend)
    cine = widget.cine
    qtbot.mouseClick(cine.propose_button, Qt.MouseButton.LeftButton)
    assert cine.job is not None and not widget.propose_button.isEnabled()
    for done in (1, 2):
        backend.gate.release()
        qtbot.waitUntil(lambda done=done: len(cine.clip) == done, timeout=5_000)
        assert cine.clip.frames() == list(range(done))
        assert overview_frames(widget) == list(range(done))
    # frame 0 is in view: its proposal is under review as soon as it arrived
    assert widget.session is not None and widget.image.frame_index == 0
    assert {a.label for a in widget.session.base.annotations} == {"head", "CSP", "LV"}

    qtbot.waitUntil(lambda: backend.calls == 3, timeout=5_000)  # frame 2 is in progress
    qtbot.mouseClick(cine.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cine.job is None, timeout=5_000)
    assert backend.calls == 3  # no frame started after cancel
    assert cine.clip.frames() == [0, 1] and overview_frames(widget) == [0, 1]
    assert "Stopped: 2 of 6 frames" in cine.status.text()
    assert widget.propose_button.isEnabled() and cine.propose_button.isEnabled()

    fast = ScriptedBackend()
    widget.set_backend(fast)
    stream_all(widget, qtbot)  # resumes: only the frames still missing
    assert fast.calls == N_FRAMES - 2
    assert cine.clip.frames() == list(range(N_FRAMES)) and overview_frames(widget) == list(
        range(N_FRAMES)
    )


def test_accept_range_saves_one_accepted_image_per_frame_with_clip_and_index(
    open_clip, qtbot, tmp_path: Path
) -> None:
    widget = open_clip(ScriptedBackend())
    stream_all(widget, qtbot)
    cine = widget.cine
    clip_id = widget.image.layer.metadata[SOURCE_KEY].clip_id
    cine.range_from.setValue(1)
    cine.range_to.setValue(3)
    qtbot.mouseClick(cine.accept_range_button, Qt.MouseButton.LeftButton)
    cine.accept_frame()  # frame 0, under review in the widget's layers
    dataset = Dataset.open(tmp_path / "dataset")
    records = sorted(dataset.records(), key=lambda r: r.frame_index)
    assert [(r.frame_index, r.clip_id) for r in records] == [(f, clip_id) for f in range(4)]
    assert [r.image_id for r in records] == [f"sweep_f{f:05d}" for f in range(4)]
    for record in records:
        _, proposal = dataset.load(record.image_id)
        assert {a.status for a in proposal.annotations} == {"accepted"}
        assert {a.annotator for a in proposal.annotations} == {"ana"}
        assert proposal.plane.label == "BPD_PLANE" and proposal.plane.status == "accepted"
        assert proposal.biometry["hc_mm"] > 0  # the accepted head, measured at 0.25 mm/pixel
        frame = clip_frames(N_FRAMES)[record.frame_index]
        assert np.array_equal(dataset.image(record.image_id), frame)
    in_view = widget.session.to_proposal().annotations
    assert {a.status for a in in_view} == {"accepted"}


def test_carry_forward_moves_the_accepted_outline_to_the_next_frames(open_clip, qtbot) -> None:
    widget = open_clip(ScriptedBackend())
    stream_all(widget, qtbot)
    session = widget.session
    head = next(a for a in session.base.annotations if a.label == "head")
    session.accept([head.id])
    widget.cine.carry_frames.setValue(2)
    assert widget.cine.carry() == [1, 2]
    for frame in (1, 2):
        carried = [a for a in widget.cine.clip.raw(frame).annotations if a.label == "head"]
        assert len(carried) == 1 and carried[0].source == "carried:scripted-1"
        assert carried[0].status == "proposed" and carried[0].parent_id == head.id
        assert carried[0].box[0] == pytest.approx(head.box[0] + DRIFT_PX * frame, abs=1.5)
    widget.next_image()  # frame 1 is reviewed with the carried head as its proposal
    shown = {a.label: a.source for a in widget.session.base.annotations}
    assert widget.image.frame_index == 1 and shown["head"] == "carried:scripted-1"


def test_best_frames_are_listed_and_keys_step_through_them(open_clip, qtbot) -> None:
    widget = open_clip(ScriptedBackend())
    stream_all(widget, qtbot)
    cine = widget.cine
    assert cine.best_plane.currentText() == "BPD_PLANE"
    assert sorted(cine.best) == list(range(N_FRAMES))
    assert cine.best_list.count() == N_FRAMES
    assert cine.best_list.item(0).text().startswith(f"frame {cine.best[0]}:")
    canvas = widget.viewer.window._qt_viewer.canvas.native
    shift, ctrl = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier
    visited = []
    for modifiers in (shift, shift, shift | ctrl):
        qtbot.keyClick(canvas, Qt.Key.Key_B, modifiers)
        visited.append(widget.viewer.dims.current_step[0])
    assert visited == [cine.best[0], cine.best[1], cine.best[0]]
    assert widget.image.frame_index == cine.best[0]  # the widget reviews the frame jumped to


def test_cine_keys_clash_with_neither_napari_nor_the_review_keys(make_napari_viewer) -> None:
    taken = napari_keybindings(make_napari_viewer())
    ours = {coerce_keybinding(key) for key in REVIEW_KEYS}
    assert [key for key in CINE_KEYS if coerce_keybinding(key) in taken | ours] == []


def test_cine_work_without_a_clip_or_a_dataset_says_what_to_do(open_clip, qtbot) -> None:
    widget = open_clip(ScriptedBackend(), with_dataset=False)
    stream_all(widget, qtbot)
    assert widget.cine.accept_frames([1, 2]) == []
    assert "Choose a dataset folder first" in widget.cine.status.text()
    widget.viewer.add_image(np.zeros((20, 30), np.uint8), name="still")
    widget.cine.propose_all()
    assert "Open a cine clip first" in widget.cine.status.text()


def test_deleting_the_widget_unbinds_the_cine_keys_and_callbacks(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    dock = viewer.window.add_dock_widget(widget)
    assert all(coerce_keybinding(key) in viewer.keymap for key in CINE_KEYS)
    viewer.window.remove_dock_widget(dock)
    with qtbot.waitSignal(widget.cine.destroyed, timeout=5_000):
        widget.deleteLater()
    assert not any(coerce_keybinding(key) in viewer.keymap for key in CINE_KEYS)
    viewer.add_image(np.zeros((4, 8, 8), np.uint8))
    viewer.dims.set_current_step(0, 3)  # no callback into the deleted panel
