"""The inspection dock on a real viewer with the real shared sample images as ground truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from qtpy.QtCore import QItemSelectionModel, Qt

from napari_fada._napari.inspection.layers import BOXES_LAYER, ERRORS_LAYER, IMAGE_LAYER
from napari_fada._napari.inspection.widget import InspectionWidget
from napari_fada.core.proposal import ImageRecord, ModelInfo, PlaneCall, Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.inspection.error_maps import BOX_COLORS, FALSE_NEGATIVE, FALSE_POSITIVE
from tests.scripted_backend import ScriptedBackend

PERFECT, MISSED, SHIFTED = "hc18_010_HC", "hc18_017_HC", "psfhs_03744"
SHIFT_PX = 12
FETAL_HEAD = 2  # its value in the sample masks


def _known_predictions(widget: InspectionWidget) -> dict[str, Proposal]:
    """A perfect answer, an empty one, and one whose fetal head is 12 pixels to the right."""
    assert widget.inspection is not None
    predictions = {}
    for image_id in (PERFECT, MISSED, SHIFTED):
        truth = widget.inspection.reference(image_id)
        annotations = [] if image_id == MISSED else list(truth.annotations)
        if image_id == SHIFTED:
            annotations = [
                replace(a, polygon=[(x + SHIFT_PX, y) for x, y in a.polygon or []], box=None)
                if a.label == "fetal_head"
                else a
                for a in annotations
            ]
        predictions[image_id] = Proposal(
            truth.width,
            truth.height,
            annotations=annotations,
            plane=PlaneCall(truth.plane or "", score=0.8),
            model=ModelInfo(model_id="known"),
        )
    return predictions


@pytest.fixture
def widget(make_napari_viewer, samples_dir) -> InspectionWidget:
    viewer = make_napari_viewer()
    widget = InspectionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="FADA inspection")
    assert widget.load_ground_truth(samples_dir)
    assert widget.add_predictions(_known_predictions(widget))
    return widget


def _column(widget: InspectionWidget, column: int) -> list[str]:
    return [widget.table.item(row, column).text() for row in range(widget.table.rowCount())]


def _layer(widget: InspectionWidget, name: str):
    return widget.viewer.layers[name]


def test_the_table_lists_the_cases_worst_first_and_sorts_by_any_column(widget) -> None:
    assert _column(widget, 1) == [MISSED, SHIFTED, PERFECT]
    assert _column(widget, 0) == ["1", "2", "3"]
    assert _column(widget, 4)[0] == "0.000" and _column(widget, 4)[2] == "1.000"
    widget.table.sortItems(4, Qt.SortOrder.DescendingOrder)  # best mean Dice first
    assert _column(widget, 1) == [PERFECT, SHIFTED, MISSED]
    assert widget.case_at(0).image_id == PERFECT
    table = widget.table
    header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    fetal_head = header.index("Dice fetal_head")  # one Dice column per structure
    table.sortItems(fetal_head, Qt.SortOrder.AscendingOrder)
    assert _column(widget, 1)[0] == SHIFTED  # the only image with a fetal head
    assert _column(widget, fetal_head)[1:] == ["-", "-"]


def test_selecting_a_row_jumps_to_its_image_with_exact_error_pixels(widget, samples_dir) -> None:
    row = _column(widget, 1).index(SHIFTED)
    widget.table.selectRow(row)
    image = _layer(widget, IMAGE_LAYER)
    assert image.metadata["image_id"] == SHIFTED
    pixels = np.asarray(Image.open(samples_dir / "images" / f"{SHIFTED}.png"))
    np.testing.assert_array_equal(image.data, pixels)

    truth = np.asarray(Image.open(samples_dir / "masks" / f"{SHIFTED}.png")) == FETAL_HEAD
    assert not truth[:, -SHIFT_PX:].any()
    moved = np.roll(truth, SHIFT_PX, axis=1)
    expected = np.zeros(truth.shape, np.uint8)
    expected[moved & ~truth] = FALSE_POSITIVE
    expected[truth & ~moved] = FALSE_NEGATIVE
    np.testing.assert_array_equal(_layer(widget, ERRORS_LAYER).data, expected)
    assert "fetal_head" in widget.details.toPlainText()

    widget.structure_combo.setCurrentText("pubic_symphysis")  # predicted exactly
    assert not _layer(widget, ERRORS_LAYER).data.any()


def test_a_missed_image_shows_its_true_boxes_as_false_negatives(widget) -> None:
    widget.table.selectRow(_column(widget, 1).index(MISSED))
    assert _layer(widget, IMAGE_LAYER).metadata["image_id"] == MISSED
    boxes = _layer(widget, BOXES_LAYER)
    truth = widget.inspection.reference(MISSED).annotations
    assert boxes.nshapes == len(truth) >= 1
    assert set(boxes.features["kind"]) == {"false negative"}
    np.testing.assert_allclose(boxes.edge_color[0], BOX_COLORS["false negative"])
    assert (_layer(widget, ERRORS_LAYER).data == FALSE_NEGATIVE).sum() > 1000


def test_plots_are_written_as_png_and_shown_in_a_dock(widget, tmp_path) -> None:
    paths = widget.save_plots(tmp_path)
    assert sorted(p.name for p in paths) == [
        "calibration.png",
        "dice_per_structure.png",
        "failures_by_source.png",
        "plane_confusion.png",
    ]
    assert all(Image.open(p).format == "PNG" for p in paths)
    assert widget.plots is not None and widget.plots.tabs.count() == 4
    assert widget.plots.parentWidget() is not None  # docked in the viewer's window
    assert all(canvas.figure.axes for canvas in widget.plots.canvases.values())


def _select_rows(widget: InspectionWidget, rows: list[int]) -> None:
    model = widget.table.selectionModel()
    model.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in rows:
        model.select(widget.table.model().index(row, 0), flags)


def test_selected_cases_export_as_a_dataset_and_a_report(widget, tmp_path) -> None:
    widget.table.clearSelection()
    assert widget.export_selected_dataset(tmp_path / "none") == []
    assert "Select the cases" in widget.status.text()
    _select_rows(widget, [0, 1])
    assert widget.export_selected_dataset(tmp_path / "hard") == [MISSED, SHIFTED]
    dataset = Dataset.open(tmp_path / "hard", create=False)
    assert sorted(r.image_id for r in dataset.records()) == sorted([MISSED, SHIFTED])
    widget.report_format.setCurrentText("html")
    report = widget.export_selected_report(tmp_path / "report")
    assert report is not None and report.name == "report.html"
    text = report.read_text()
    assert MISSED in text and SHIFTED in text and PERFECT not in text.split("Cases", 1)[1]


def test_a_model_runs_over_the_dataset_in_a_worker_and_its_cases_join(widget, qtbot) -> None:
    worker = widget.run_backend(ScriptedBackend(model_id="scripted-1"))
    assert worker is not None and widget.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: "scripted-1" in widget.inspection.cases, timeout=60_000)
    qtbot.waitUntil(lambda: widget.run_button.isEnabled(), timeout=5_000)
    assert widget.table.rowCount() == 3 + len(widget.inspection.items)
    assert set(_column(widget, 2)) == {"known", "scripted-1"}


def test_a_folder_of_saved_predictions_is_scored_in_a_worker(widget, qtbot, tmp_path) -> None:
    folder = tmp_path / "predictions"
    dataset = Dataset.open(folder)
    for image_id in (PERFECT, SHIFTED):
        pixels = widget.inspection.image(image_id)
        height, width = pixels.shape
        found = Proposal(width, height, model=ModelInfo(model_id="finds-nothing"))
        dataset.save(ImageRecord(image_id, width, height), pixels, found)
    assert widget.add_predictions_folder(folder) is not None
    qtbot.waitUntil(lambda: widget.run_button.isEnabled(), timeout=60_000)
    assert "finds-nothing: 2 images scored, 2 failed" in widget.status.text()
    assert _column(widget, 2)[:2] == ["finds-nothing", "finds-nothing"]  # Dice 0: worst
    assert _column(widget, 1)[2] == MISSED  # Dice 0 too, but its plane is right


def test_bad_folders_are_reported_in_the_dock(make_napari_viewer, tmp_path) -> None:
    widget = InspectionWidget(make_napari_viewer())
    assert not widget.add_predictions({})
    assert "ground truth first" in widget.status.text()
    assert widget.add_predictions_folder(tmp_path) is None
    assert not widget.load_ground_truth(tmp_path)
    assert "manifest.csv" in widget.status.text()
    assert widget.table.rowCount() == 0
