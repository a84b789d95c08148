"""The annotator dock widget end to end on real samples, with the scripted backend."""

from __future__ import annotations

import csv
import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.hooks.source import SOURCE_KEY, ImageSource, source_of
from napari_fada.core.biometry import reviewed_head_biometry
from napari_fada.core.geometry import polygon_to_mask
from napari_fada.core.proposal import MANUAL_SOURCE, Annotation
from napari_fada.core.vocabulary import STRUCTURES, structure_id
from napari_fada.errors import ModelLoadError
from tests.scripted_backend import ScriptedBackend

HEAD = "hc18_010_HC"
SAMPLES = (HEAD, "psfhs_03744", "brain_Patient00644_Plane3_1_of_3")
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def manifest_row(samples_dir: Path, image_id: str) -> dict[str, str]:
    with (samples_dir / "manifest.csv").open() as handle:
        return next(row for row in csv.DictReader(handle) if row["id"] == image_id)


def open_sample(viewer, samples_dir: Path, image_id: str):
    """Add a sample as our reader would: pixels, scale from pixel spacing, its source record."""
    path = samples_dir / "images" / f"{image_id}.png"
    spacing_text = manifest_row(samples_dir, image_id)["pixel_size_mm"]
    spacing = (float(spacing_text),) * 2 if spacing_text else None
    return viewer.add_image(
        np.asarray(PILImage.open(path)),
        name=image_id,
        scale=spacing or (1.0, 1.0),
        metadata=ImageSource(path=path, pixel_spacing_mm=spacing).metadata(),
    )


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Widget settings go to a temporary folder, never the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


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
    assert widget.plane_label.text() == "Plane: BPD_PLANE 0.88"
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
    qtbot.waitUntil(lambda: widget.progress.value() == 10, timeout=5_000)
    assert widget.status.text() == "thinking" and widget.cancel_button.isEnabled()
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
    source = ImageSource(is_stack=True, clip_id="clip")
    widget.viewer.add_image(np.stack(frames), name="clip", metadata=source.metadata())
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
    paths = list(first.metadata[SOURCE_KEY].collection)
    assert len(paths) == 20  # mixed sizes: a collection, not a stack
    propose(widget, qtbot)
    widget.accept_all()
    widget.next_image()
    assert first not in widget.viewer.layers and widget.session is None
    assert widget.image.source_path == paths[1]
    assert source_of(widget.image.layer).index == 1
    widget.previous_image()
    assert widget.image.source_path == paths[0]
    assert {a.status for a in by_label(widget).values()} == {"accepted"}


def yolo_rows(path: Path) -> list[tuple[int, list[float]]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(row[0]), [float(v) for v in row[1:]]) for row in rows]


def test_saved_files_hold_exactly_the_reviewed_answer(make_widget, qtbot, samples_dir, tmp_path):
    """HC18 head 800 x 540: head accepted (Shift+Y), CSP rejected (Shift+N), LV and the plane
    accepted (Ctrl+Shift+Y); every export holds exactly the scripted answer's kept items."""
    widget = make_widget()
    image = widget.viewer.open(samples_dir / "images" / f"{HEAD}.png", plugin="napari-fada")[0]
    propose(widget, qtbot)
    press(widget, qtbot, Qt.Key.Key_Y, SHIFT)
    press(widget, qtbot, Qt.Key.Key_N, SHIFT)
    press(widget, qtbot, Qt.Key.Key_Y, CTRL_SHIFT)
    head, csp, lv = widget.session.base.annotations
    root = tmp_path / "dataset"

    assert np.array_equal(np.asarray(PILImage.open(root / "images" / f"{HEAD}.png")), image.data)
    mask = np.zeros((540, 800), np.uint8)
    mask[polygon_to_mask(head.polygon, 800, 540)] = structure_id("head")
    mask[polygon_to_mask(lv.polygon, 800, 540)] = structure_id("LV")
    assert np.array_equal(np.asarray(PILImage.open(root / "masks" / f"{HEAD}.png")), mask)

    assert yolo_rows(root / "labels" / f"{HEAD}.txt") == [
        (structure_id("head") - 1, [0.5, 0.15, 0.8, 0.5, 0.5, 0.85, 0.2, 0.5]),
        (structure_id("LV") - 1, [0.3, 0.3, 0.42, 0.3, 0.42, 0.38, 0.3, 0.38]),
    ]
    assert yolo_rows(root / "labels-detect" / f"{HEAD}.txt") == [
        (structure_id("head") - 1, [0.5, 0.5, 0.6, 0.7]),
        (structure_id("LV") - 1, [0.36, 0.34, 0.12, 0.08]),
    ]

    coco = json.loads((root / "coco.json").read_text())
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [
        (structure_id(name), name) for name in STRUCTURES
    ]
    (entry,) = coco["images"]
    assert (entry["fada_image_id"], entry["plane"], entry["plane_status"]) == (
        HEAD,
        "BPD_PLANE",
        "accepted",
    )
    kept = [
        (a["category_id"], a["bbox"], a["segmentation"], a["iscrowd"], a["score"])
        for a in coco["annotations"]
    ]
    assert kept == [
        (27, [160.0, 81.0, 480.0, 378.0], [[400.0, 81.0, 640.0, 270.0, 400.0, 459.0, 160.0, 270.0]],
         0, 0.93),
        (11, [240.0, 162.0, 96.0, 43.2], [[240.0, 162.0, 336.0, 162.0, 336.0, 205.2, 240.0, 205.2]],
         0, 0.42),
    ]  # fmt: skip
    provenance = [a["provenance"] for a in coco["annotations"] + coco["rejected_annotations"]]
    assert [(p["annotation_id"], p["status"], p["source"], p["annotator"]) for p in provenance] == [
        (head.id, "accepted", "scripted-1", "ana"),
        (lv.id, "accepted", "scripted-1", "ana"),
        (csp.id, "rejected", "scripted-1", "ana"),
    ]
    assert {p["weights_sha256"] for p in provenance} == {"0" * 64}
    assert all(p["time_spent_s"] >= 0 and p["edited"] for p in provenance)

    samples = [json.loads(line) for line in (root / "fada_finetune.jsonl").read_text().splitlines()]
    answers = {s["task"]: json.loads(s["messages"][1]["content"]) for s in samples}
    assert answers == {
        "classify": {"label": "BPD_PLANE"},
        "detect": [
            {"bbox_2d": [200, 150, 800, 850], "label": "head"},
            {"bbox_2d": [300, 300, 420, 380], "label": "LV"},
        ],
        "segment": [
            {"bbox_2d": [200, 150, 800, 850], "label": "head",
             "mask": [[500, 150], [800, 500], [500, 850], [200, 500]]},
            {"bbox_2d": [300, 300, 420, 380], "label": "LV",
             "mask": [[300, 300], [420, 300], [420, 380], [300, 380]]},
        ],
    }  # fmt: skip
    assert {s["messages"][0]["content"][0]["image"] for s in samples} == {f"images/{HEAD}.png"}

    with (root / "planes.csv").open() as handle:
        assert list(csv.DictReader(handle)) == [
            {"image_id": HEAD, "plane_label": "BPD_PLANE", "score": "0.88",
             "source": "scripted-1", "status": "accepted"}
        ]  # fmt: skip
    saved = json.loads((root / "annotations" / f"{HEAD}.json").read_text())
    statuses = {a["id"]: a["status"] for a in saved["proposal"]["annotations"]}
    assert statuses == {head.id: "accepted", csp.id: "rejected", lv.id: "accepted"}
    assert saved["record"]["sha256"] == widget.record.sha256


def test_settings_bring_back_the_dataset_and_annotator(make_widget, samples_dir) -> None:
    first = make_widget()
    first.annotator_edit.setText("bo")
    first.annotator_edit.editingFinished.emit()
    second = AnnotatorWidget(first.viewer)
    assert second.dataset is not None and second.dataset.root == first.dataset.root
    assert second.annotator == "bo"


def test_an_unloadable_model_is_reported_without_proposing(make_widget, qtbot, samples_dir):
    widget = make_widget()
    widget.backend = None
    widget.model_combo.addItem("no-such-backend")
    widget.model_combo.setCurrentText("no-such-backend")
    open_sample(widget.viewer, samples_dir, "psfhs_03744")
    widget.propose()
    qtbot.waitUntil(lambda: widget.loader is None, timeout=5_000)
    assert "unknown model backend 'no-such-backend'" in widget.status.text()
    assert widget.job is None and widget.session is None


def test_same_pixels_from_another_file_reload_their_labels(
    make_widget, qtbot, samples_dir, tmp_path
) -> None:
    widget = make_widget()
    open_sample(widget.viewer, samples_dir, "psfhs_03745")
    propose(widget, qtbot)
    widget.accept_all()
    copy = tmp_path / "renamed.png"
    copy.write_bytes((samples_dir / "images" / "psfhs_03745.png").read_bytes())
    again = make_widget()
    again.viewer.open(copy, plugin="napari-fada")
    assert again.record.image_id == "psfhs_03745"
    assert {a.status for a in by_label(again).values()} == {"accepted"}


def test_other_pixels_under_a_saved_file_name_start_without_labels(
    make_widget, qtbot, samples_dir, tmp_path
) -> None:
    widget = make_widget()
    open_sample(widget.viewer, samples_dir, "psfhs_03745")
    propose(widget, qtbot)
    widget.accept_all()
    other = tmp_path / "psfhs_03745.png"  # the same name, another image
    other.write_bytes((samples_dir / "images" / "psfhs_03744.png").read_bytes())
    again = make_widget()
    again.viewer.open(other, plugin="napari-fada")
    assert again.session is None  # nothing of the other image's labels is shown
    propose(again, qtbot)
    again.accept_all()
    assert again.dataset is not None
    first = again.dataset.load("psfhs_03745")
    assert first is not None and {a.status for a in first[1].annotations} == {"accepted"}
    assert len(again.dataset.records()) == 2


def test_a_folder_that_is_not_a_dataset_is_refused_clearly(make_widget, tmp_path) -> None:
    widget = make_widget()
    before = widget.dataset
    foreign = tmp_path / "holiday-photos"
    foreign.mkdir()
    (foreign / "beach.txt").write_text("sand")
    widget.dataset_edit.setText(str(foreign))
    widget.dataset_edit.editingFinished.emit()
    assert widget.dataset is before
    assert "holiday-photos is not a napari-fada dataset" in widget.status.text()
    assert (foreign / "beach.txt").read_text() == "sand" and len(list(foreign.iterdir())) == 1


def test_the_plugin_menu_docks_a_working_widget(make_napari_viewer, qtbot, samples_dir) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-fada", "FADA annotator")
    assert isinstance(widget, AnnotatorWidget)  # napari hands it a public-only viewer proxy
    widget.set_backend(ScriptedBackend())
    open_sample(viewer, samples_dir, "psfhs_03746")
    propose(widget, qtbot)
    widget.accept()
    propose(widget, qtbot)  # again: the decision stands and the same head is not repeated
    assert widget.session is not None and widget.session.layers.shapes in viewer.layers
    read = [(a.label, a.status) for a in widget.session.to_proposal().annotations]
    assert read == [("head", "accepted"), ("CSP", "proposed"), ("LV", "proposed")]


def test_closing_the_image_saves_and_removes_its_labels(make_widget, qtbot, samples_dir) -> None:
    widget = make_widget()
    image = open_sample(widget.viewer, samples_dir, "psfhs_03747")
    propose(widget, qtbot)
    widget.autosave.setChecked(False)
    widget.session.accept()  # not saved yet: closing the image must save it
    sha256 = widget.record.sha256
    widget.viewer.layers.remove(image)
    assert widget.session is None
    qtbot.waitUntil(lambda: list(widget.viewer.layers) == [], timeout=5_000)
    record = widget.dataset.find_by_sha256(sha256)
    saved = widget.dataset.load(record.image_id)[1]
    assert [a.status for a in saved.annotations] == ["accepted", "proposed", "proposed"]


def test_deleting_an_image_with_its_layers_selected_raises_nothing(
    make_widget, qtbot, samples_dir
) -> None:
    widget = make_widget()
    viewer = widget.viewer
    image = open_sample(viewer, samples_dir, "psfhs_03747")
    propose(widget, qtbot)
    # napari's "delete selected layers" removes them one by one, here the image first
    for layer in (image, *widget.session.layers.all()):
        viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: list(viewer.layers) == [], timeout=5_000)
    assert widget.session is None and widget.image is None


def test_head_biometry_is_shown_and_saved_from_the_reviewed_outline(
    make_widget, qtbot, samples_dir
) -> None:
    widget = make_widget()
    open_sample(widget.viewer, samples_dir, HEAD)
    spacing = float(manifest_row(samples_dir, HEAD)["pixel_size_mm"])
    assert widget.biometry.value() == pytest.approx(spacing, rel=1e-3)  # shown rounded
    assert widget.biometry.pixel_spacing_mm() == (spacing, spacing)  # used exactly
    propose(widget, qtbot)
    assert widget.biometry.readout.text().startswith("HC ")
    assert widget.biometry.readout.text().endswith("(model)")
    widget.accept()  # the first head proposal
    assert widget.biometry.readout.text().endswith("(reviewed head)")
    assert widget.dataset is not None and widget.record is not None
    saved = widget.dataset.load(widget.record.image_id)
    assert saved is not None
    record, proposal = saved
    head = next(a for a in proposal.annotations if a.label == "head" and a.status == "accepted")
    expected = reviewed_head_biometry([head], record.width, record.height, (spacing, spacing))
    assert proposal.biometry == pytest.approx(expected)
    assert f"HC {expected['hc_mm']:.1f} mm" in widget.biometry.readout.text()
    rows = list(csv.DictReader((widget.dataset.root / "manifest.csv").open()))
    assert float(rows[0]["head_circumference_mm"]) == pytest.approx(expected["hc_mm"])


def test_a_typed_pixel_size_measures_and_is_saved(make_widget, qtbot, samples_dir) -> None:
    widget = make_widget()
    image = open_sample(widget.viewer, samples_dir, "psfhs_03744")
    image.metadata[SOURCE_KEY] = replace(source_of(image), pixel_spacing_mm=None)
    widget.show_image(image)
    assert widget.biometry.pixel_spacing_mm() is None
    propose(widget, qtbot)
    assert "set the pixel size" in widget.biometry.readout.text()
    widget.biometry.spacing.setValue(0.125)
    widget.biometry.spacing.editingFinished.emit()
    assert widget.biometry.readout.text().startswith("HC ")
    widget.accept()
    assert widget.record is not None and widget.record.pixel_spacing_mm == (0.125, 0.125)
    assert widget.dataset is not None
    rows = list(csv.DictReader((widget.dataset.root / "manifest.csv").open()))
    assert rows[0]["pixel_size_mm"] == "0.125"


def test_the_dock_fits_a_laptop_screen(make_widget) -> None:
    """All sections scroll inside the dock, so it never asks for more height than a laptop has."""
    widget = make_widget()
    assert widget.minimumSizeHint().height() < 600
