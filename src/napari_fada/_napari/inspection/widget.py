"""The failure-inspection dock: where a model's proposals disagree with the ground truth.

Open a dataset with ground truth, add one or more models' proposals (saved prediction folders,
or the embedded model run over the dataset in a worker thread), and the table lists every
(image, model) case worst first. Selecting a row shows the image with its false-positive and
false-negative pixels and boxes, and the case's scores, raw answer and interpretation; the plots
dock shows the summary figures. Every user-facing failure is a FadaError shown in the dock and
as a napari notification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from napari.qt.threading import FunctionWorker, create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog

from napari_fada._napari.inspection.layers import show_boxes, show_errors, show_image
from napari_fada._napari.inspection.panel import (
    ALL_STRUCTURES,
    COLUMNS,
    InspectionPanel,
    SortItem,
)
from napari_fada._napari.inspection.plots import PlotsWidget
from napari_fada._napari.widgets.propose_worker import ProgressRelay
from napari_fada.core.proposal import Proposal
from napari_fada.errors import Cancelled, FadaError
from napari_fada.inspection.error_maps import error_boxes, error_label_image, structure_errors
from napari_fada.inspection.export import case_blocks, export_dataset, export_report
from napari_fada.inspection.per_image import Inspection, InspectionCase, load_predictions
from napari_fada.inspection.plots import save_figures, summary_figures
from napari_fada.inspection.report_document import ReportFormat, render
from napari_fada.models.base import Backend, CancelToken, ProgressCallback
from napari_fada.models.registry import DEFAULT_BACKEND, load_backend

PLOTS_DOCK = "FADA inspection plots"
#: What a background job hands back: one model's cases and the files it had to skip.
Scored = tuple[list[InspectionCase], list[str]]


def _number(value: float | None) -> tuple[str, float]:
    """Cell text and sort value; a missing value sorts after every number."""
    return ("-", 2.0) if value is None else (f"{value:.3f}", value)


def _row(rank: int, case: InspectionCase, structures: list[str]) -> list[SortItem]:
    """The fixed columns, then the Dice of each of ``structures`` ("-" where not scored)."""
    result = case.result
    mark = {True: "✓", False: "✗", None: ""}[result.plane_correct]
    plane = f"{mark} {result.plane_predicted or '-'}".strip()
    cells = [
        SortItem(str(rank), rank),
        SortItem(case.image_id, case.image_id),
        SortItem(case.model_id, case.model_id),
        SortItem(case.source_dataset, case.source_dataset),
        SortItem(*_number(case.mean_dice)),
        SortItem(case.worst_structure or "-", case.worst_structure or ""),
        SortItem(*_number(case.mean_box_ap)),
        SortItem(plane, plane),
        SortItem(*_number(case.plane_score)),
        *(SortItem(*_number(result.dice.get(label))) for label in structures),
    ]
    cells[0].setData(Qt.ItemDataRole.UserRole + 1, rank - 1)
    return cells


class InspectionWidget(InspectionPanel):
    """Dock widget: ground truth, models' proposals, the worst-first table, overlays, exports."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.inspection: Inspection | None = None
        self.cases: list[InspectionCase] = []
        self.current: InspectionCase | None = None
        self.worker: FunctionWorker | None = None
        self.token: CancelToken | None = None
        self.plots: PlotsWidget | None = None
        for button, slot in (
            (self.truth_button, self.choose_ground_truth),
            (self.predictions_button, self.choose_predictions),
            (self.run_button, self.run_default_model),
            (self.cancel_button, self.cancel),
            (self.plots_button, self.show_plots),
            (self.save_plots_button, self.choose_plots_folder),
            (self.export_dataset_button, self.choose_dataset_folder),
            (self.export_report_button, self.choose_report_folder),
        ):
            button.clicked.connect(_calling(slot))
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.structure_combo.currentTextChanged.connect(self._on_structure)

    # -- loading -----------------------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        self.status.setText(str(error))
        show_error(str(error))

    def load_ground_truth(self, folder: str | Path) -> bool:
        """Open the dataset at ``folder``; models loaded before are dropped."""
        try:
            inspection = Inspection.open(folder)
        except FadaError as error:
            self._fail(error)
            return False
        self.set_inspection(inspection)
        return True

    def set_inspection(self, inspection: Inspection) -> None:
        """Show ``inspection`` (ground truth and any models already scored)."""
        self.inspection = inspection
        self._refresh()
        models = f"{len(inspection.cases)} model(s) scored" if inspection.cases else "no model yet"
        self.status.setText(
            f"{len(inspection.items)} images with ground truth in {inspection.root}; {models}. "
            "Add predictions or run the embedded model."
        )

    def add_predictions(
        self, predictions: Mapping[str, Proposal], model_id: str | None = None
    ) -> bool:
        """Score ``predictions`` (image id -> proposal) here and now, and list them."""
        try:
            cases = self._require().add_predictions(predictions, model_id)
        except FadaError as error:
            self._fail(error)
            return False
        self._on_scored((cases, []))
        return True

    def add_predictions_folder(self, folder: str | Path) -> FunctionWorker | None:
        """Load and score the proposals saved in a dataset folder (e.g. by ``napari-fada
        propose``) in a worker thread."""

        def job(inspection: Inspection, progress: ProgressCallback, _: CancelToken) -> Scored:
            predictions, problems = load_predictions(folder)
            return inspection.add_predictions(predictions, progress=progress), problems

        return self._start(job, f"Scoring the predictions in {folder}...")

    def run_backend(self, backend: Backend | None = None) -> FunctionWorker | None:
        """Run ``backend`` (default: the embedded model, loaded in the thread) over every image
        and score its proposals, in a worker thread."""

        def job(inspection: Inspection, progress: ProgressCallback, token: CancelToken) -> Scored:
            model = backend or load_backend(DEFAULT_BACKEND)
            predictions = inspection.predict(model, progress=progress, cancel=token)
            return inspection.add_predictions(predictions, progress=progress), []

        return self._start(job, "Running the model over the dataset...")

    def run_default_model(self) -> None:
        self.run_backend()

    def _start(
        self,
        job: Callable[[Inspection, ProgressCallback, CancelToken], Scored],
        message: str,
    ) -> FunctionWorker | None:
        """Run ``job`` in a worker thread with progress and cancel; its cases are listed when it
        returns. Scoring runs there too: thousands of images take minutes."""
        try:
            inspection = self._require()
        except FadaError as error:
            self._fail(error)
            return None
        token = CancelToken()
        relay = ProgressRelay(self)
        relay.progressed.connect(self._on_progress)
        worker = create_worker(
            job, inspection, relay.progressed.emit, token, _start_thread=False, _ignore_errors=True
        )
        worker.returned.connect(self._on_scored)
        worker.errored.connect(self._on_worker_error)
        worker.finished.connect(self._on_worker_finished)
        self.worker, self.token = worker, token
        self._set_running(True)
        self.status.setText(message)
        worker.start()
        return worker

    def cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()

    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        for button in (self.truth_button, self.predictions_button, self.run_button):
            button.setEnabled(not running)

    def _on_progress(self, message: str, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))
        self.status.setText(message)

    def _on_scored(self, scored: Scored) -> None:
        cases, problems = scored
        self._refresh()
        failed = sum(c.failed for c in cases)
        self.status.setText(f"{cases[0].model_id}: {len(cases)} images scored, {failed} failed.")
        if problems:
            show_info(f"{len(problems)} prediction file(s) skipped: {problems[0]}")

    def _on_worker_error(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            self.status.setText("Cancelled: nothing was added.")
        elif isinstance(error, FadaError):
            self._fail(error)
        else:
            self._fail(FadaError(f"The model failed: {error!r}. Try another model or image."))

    def _on_worker_finished(self) -> None:
        self._set_running(False)
        self.worker = self.token = None

    # -- the table and the viewer ------------------------------------------------------------

    def _refresh(self) -> None:
        """Refill the table worst first (sorted by rank), with a Dice column per structure, and
        show the worst case."""
        self.cases = self.inspection.worst_first() if self.inspection else []
        structures = sorted({label for case in self.cases for label in case.result.dice})
        table = self.table
        table.setSortingEnabled(False)
        table.clearContents()
        table.setColumnCount(len(COLUMNS) + len(structures))
        table.setHorizontalHeaderLabels([*COLUMNS, *(f"Dice {s}" for s in structures)])
        table.setRowCount(len(self.cases))
        for row, case in enumerate(self.cases):
            for column, item in enumerate(_row(row + 1, case, structures)):
                table.setItem(row, column, item)
        table.setSortingEnabled(True)
        table.sortItems(0, Qt.SortOrder.AscendingOrder)
        if self.cases:
            table.selectRow(0)

    def case_at(self, row: int) -> InspectionCase:
        """The case shown in table row ``row`` (as the table is sorted now)."""
        item = self.table.item(row, 0)
        if item is None:
            raise IndexError(f"no case in row {row}")
        return self.cases[int(item.data(Qt.ItemDataRole.UserRole + 1))]

    def selected_cases(self) -> list[InspectionCase]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self.case_at(row) for row in rows]

    def _on_selection(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < self.table.rowCount() and self.table.item(row, 0) is not None:
            self.show_case(self.case_at(row))

    def show_case(self, case: InspectionCase) -> None:
        """Jump the viewer to ``case``'s image with its error overlays and show its details."""
        if self.inspection is None:
            return
        self.current = case
        try:
            image = self.inspection.image(case.image_id)
        except FadaError as error:
            self._fail(error)
            return
        show_image(self.viewer, image, case.image_id)
        labels = sorted({*case.result.dice, *(b.label for b in error_boxes(case))})
        combo = self.structure_combo
        chosen = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems([ALL_STRUCTURES, *labels])
        combo.setCurrentText(chosen if chosen in labels else ALL_STRUCTURES)
        combo.blockSignals(False)
        self._show_errors()
        self.viewer.reset_view()
        text = render(case_blocks(self.inspection, case), None, "markdown")
        self.details.setMarkdown(text)

    def _on_structure(self, _: str) -> None:
        if self.current is not None:
            self._show_errors()

    def _show_errors(self) -> None:
        """Overlay the current case's errors, for the chosen structure or all of them."""
        case, inspection = self.current, self.inspection
        if case is None or inspection is None:
            return
        reference = inspection.reference(case.image_id)
        chosen = self.structure_combo.currentText()
        labels = None if chosen in ("", ALL_STRUCTURES) else [chosen]
        errors = structure_errors(inspection.proposal(case), reference)
        show_errors(
            self.viewer, error_label_image(errors, reference.width, reference.height, labels)
        )
        boxes = [b for b in error_boxes(case) if labels is None or b.label in labels]
        show_boxes(self.viewer, boxes)

    # -- plots and exports -------------------------------------------------------------------

    def _all_cases(self) -> list[InspectionCase]:
        if not self.cases:
            raise FadaError("Nothing to plot yet: open ground truth and add predictions.")
        return self.cases

    def show_plots(self) -> PlotsWidget | None:
        """Draw the summary figures in the plots dock (created the first time)."""
        try:
            figures = summary_figures(self._all_cases())
        except FadaError as error:
            self._fail(error)
            return None
        if self.plots is None:
            self.plots = PlotsWidget()
            self.viewer.window.add_dock_widget(self.plots, name=PLOTS_DOCK, area="bottom")
        self.plots.show_figures(figures)
        return self.plots

    def save_plots(self, folder: str | Path) -> list[Path]:
        """Write the summary figures as PNG into ``folder`` and show them in the plots dock."""
        plots = self.show_plots()
        if plots is None:
            return []
        figures = {name: canvas.figure for name, canvas in plots.canvases.items()}
        try:
            paths = save_figures(figures, folder)
        except OSError as error:
            self._fail(FadaError(f"Could not write the plots into {folder}: {error}."))
            return []
        self.status.setText(f"{len(paths)} plots written to {folder}.")
        return paths

    def _chosen(self) -> list[InspectionCase]:
        chosen = self.selected_cases()
        if not chosen:
            raise FadaError("Select the cases to export in the table first (Ctrl/Shift-click).")
        return chosen

    def export_selected_dataset(self, folder: str | Path) -> list[str]:
        """Save the selected cases' images with their ground truth as a dataset in ``folder``."""
        try:
            saved = export_dataset(self._require(), self._chosen(), folder)
        except FadaError as error:
            self._fail(error)
            return []
        self.status.setText(f"{len(saved)} images saved with their ground truth into {folder}.")
        return saved

    def export_selected_report(self, folder: str | Path) -> Path | None:
        """Write the selected cases as a report in ``folder``, in the chosen format."""
        kind: ReportFormat = "html" if self.report_format.currentText() == "html" else "markdown"
        try:
            path = export_report(self._require(), self._chosen(), folder, kind)
        except FadaError as error:
            self._fail(error)
            return None
        except OSError as error:
            self._fail(FadaError(f"Could not write the report into {folder}: {error}."))
            return None
        self.status.setText(f"Report written to {path}.")
        return path

    def _require(self) -> Inspection:
        if self.inspection is None:
            raise FadaError("Open a dataset with ground truth first.")
        return self.inspection

    # -- folder dialogs ----------------------------------------------------------------------

    def _ask_folder(self, title: str, then: Callable[[str], object]) -> None:
        folder = QFileDialog.getExistingDirectory(self, title)
        if folder:
            then(folder)

    def choose_ground_truth(self) -> None:
        self._ask_folder("Dataset with ground truth", self.load_ground_truth)

    def choose_predictions(self) -> None:
        self._ask_folder("Folder of saved predictions", self.add_predictions_folder)

    def choose_plots_folder(self) -> None:
        self._ask_folder("Folder for the plots", self.save_plots)

    def choose_dataset_folder(self) -> None:
        self._ask_folder("Empty folder for the exported dataset", self.export_selected_dataset)

    def choose_report_folder(self) -> None:
        self._ask_folder("Folder for the report", self.export_selected_report)


#: Time for Qt to draw the docks before a screenshot is taken.
_DRAW_DELAY_MS = 1500


def open_inspection(inspection: Inspection, screenshot: Path | None = None) -> None:
    """Open napari with the inspection dock on ``inspection``'s cases, the worst one shown and
    the plots docked; with ``screenshot``, save the window there and close (for docs)."""
    import napari
    from qtpy.QtCore import QTimer

    viewer = napari.Viewer(title="napari-fada: where the model fails")
    viewer.window.resize(1600, 1000)
    widget = InspectionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="FADA failure inspection", area="right")
    widget.set_inspection(inspection)
    widget.show_plots()
    if screenshot is not None:

        def grab() -> None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            viewer.reset_view()
            viewer.screenshot(str(screenshot), canvas_only=False)
            print(f"screenshot saved to {screenshot}")
            viewer.close()

        QTimer.singleShot(_DRAW_DELAY_MS, grab)
    napari.run()


def _calling(slot: Callable[[], object]) -> Callable[..., None]:
    """A Qt slot for ``clicked(bool)`` that calls ``slot()``."""

    def call(*_: Any) -> None:
        slot()

    return call
