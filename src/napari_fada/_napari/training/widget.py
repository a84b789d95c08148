"""The "FADA train & evaluate" dock: score a model on a dataset, fine-tune it on the saved
corrections, and switch the annotator to the new weights.

Training and evaluation run in worker threads (:mod:`~napari_fada._napari.widgets.job_worker`) with
progress and cancel; torch is imported there, on the first run, never when the dock opens. Every
failure is shown in the dock and as a napari notification; napari itself never sees a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from napari.qt.threading import FunctionWorker
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QLabel

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.training.panel import (
    ALL_SPLITS,
    START_FILE,
    START_SHIPPED,
    TrainingPanel,
)
from napari_fada._napari.widgets.job_worker import Emit, Job, start_job
from napari_fada._napari.widgets.propose_worker import start_load
from napari_fada.core.scoring import EvaluationReport
from napari_fada.errors import Cancelled, DatasetError, FadaError, ModelLoadError
from napari_fada.inspection.evaluate import dataset_items, score_items
from napari_fada.models.base import Backend, CancelToken
from napari_fada.models.registry import load_backend
from napari_fada.settings import Settings
from napari_fada.training.options import TrainOptions, TrainProgress, TrainResult

#: The annotator dock, opened through napari when it is not docked yet.
ANNOTATOR_DOCK = ("napari-fada", "FADA annotator")
EMBEDDED = "embedded"


def default_output() -> Path:
    """A new, dated weights file in the user's napari-fada data folder."""
    from platformdirs import user_data_dir

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(user_data_dir("napari-fada", appauthor=False)) / f"fada-embedded-{stamp}.pt"


def _message(error: BaseException) -> str:
    return str(error) if isinstance(error, FadaError) else f"unexpected error: {error!r}"


def _run_training(
    options: TrainOptions, from_shipped: bool, emit: Emit, token: CancelToken
) -> TrainResult:
    """The worker's task: torch is imported here, in the worker thread, on the first run.
    ``from_shipped`` fine-tunes the model shipped with the plugin."""
    from napari_fada.training.loop import train_model

    if from_shipped:
        from napari_fada.models.embedded_weights import SHIPPED_WEIGHTS

        options = replace(options, init=SHIPPED_WEIGHTS)
    return train_model(options, emit, token)


class TrainingWidget(TrainingPanel):
    """Dock widget: evaluate a model on a dataset; train or fine-tune; use the new weights."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.evaluation: Job | None = None
        self.training: Job | None = None
        self.loader: FunctionWorker | None = None
        self.report: EvaluationReport | None = None
        self.result: TrainResult | None = None
        last = Settings.load().dataset_dir
        if last and Path(last).is_dir():
            self.evaluate_panel.data_edit.setText(last)
            self.add_dataset(last)
        self.train_panel.out_edit.setText(str(default_output()))
        self._connect()

    def _connect(self) -> None:
        ev, tr = self.evaluate_panel, self.train_panel
        for button, slot in (
            (ev.data_button, lambda: self._choose_folder(ev.data_edit.setText)),
            (ev.weights_button, lambda: self._choose_file(ev.weights_edit.setText)),
            (ev.run_button, self.evaluate),
            (ev.cancel_button, self.cancel_evaluation),
            (ev.save_button, self.save_report),
            (tr.add_data_button, lambda: self._choose_folder(self.add_dataset)),
            (tr.remove_data_button, self.remove_dataset),
            (tr.init_button, lambda: self._choose_file(tr.init_edit.setText)),
            (tr.out_button, self._choose_output),
            (tr.run_button, self.train),
            (tr.cancel_button, self.cancel_training),
            (tr.use_button, self.use_trained_weights),
        ):
            button.clicked.connect(lambda *_, slot=slot: slot())

    # -- feedback and choosers ---------------------------------------------------------------

    @staticmethod
    def _report_error(status: QLabel, error: BaseException) -> None:
        status.setText(_message(error))
        show_error(_message(error))

    def _choose_folder(self, chosen: Callable[[str], object]) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder")
        if folder:
            chosen(folder)

    def _choose_file(self, chosen: Callable[[str], object]) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Embedded model weights", "", "Weights (*.pt);;All files (*)"
        )
        if path:
            chosen(path)

    def _choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Write the trained weights to", self.train_panel.out_edit.text(), "*.pt"
        )
        if path:
            self.train_panel.out_edit.setText(path)

    # -- evaluate ----------------------------------------------------------------------------

    def evaluate(self) -> None:
        """Score the chosen model on the chosen dataset, in a worker thread."""
        panel = self.evaluate_panel
        if self.evaluation is not None:
            return
        folder = panel.data_edit.text().strip()
        if not folder:
            panel.status.setText("Choose a dataset folder with ground truth first.")
            return
        split = panel.split_combo.currentText().strip()
        limit = panel.limit_spin.value() or None
        weights = Path(panel.weights_edit.text().strip()) if panel.weights_edit.text() else None

        def task(emit: Emit, token: CancelToken) -> EvaluationReport:
            items = dataset_items(folder, None if split in ("", ALL_SPLITS) else split, limit)
            backend = load_backend(EMBEDDED, **({"model": weights} if weights else {}))
            try:
                return score_items(backend, items, lambda m, f: emit((m, f)), token)
            finally:
                backend.close()

        panel.progress.setValue(0)
        panel.run_button.setEnabled(False)
        panel.cancel_button.setEnabled(True)
        panel.status.setText("Loading the model and the dataset...")
        self.evaluation = start_job(
            task, self._on_evaluation_progress, self._on_evaluated, self._on_evaluation_failed
        )

    def cancel_evaluation(self) -> None:
        if self.evaluation is not None:
            self.evaluation.cancel()
            self.evaluate_panel.status.setText("Cancelling...")

    def _end_evaluation(self) -> None:
        self.evaluation = None
        self.evaluate_panel.run_button.setEnabled(True)
        self.evaluate_panel.cancel_button.setEnabled(False)

    def _on_evaluation_progress(self, event: tuple[str, float]) -> None:
        message, fraction = event
        self.evaluate_panel.progress.setValue(round(100 * fraction))
        self.evaluate_panel.status.setText(message)

    def _on_evaluated(self, report: EvaluationReport) -> None:
        self._end_evaluation()
        self.report = report
        panel = self.evaluate_panel
        panel.report_box.setPlainText(report.format_table())
        panel.save_button.setEnabled(True)
        panel.status.setText(f"Scored {report.n_images} images with {report.model_id}.")

    def _on_evaluation_failed(self, error: BaseException) -> None:
        self._end_evaluation()
        panel = self.evaluate_panel
        if isinstance(error, Cancelled):
            panel.status.setText("Evaluation cancelled: no report.")
        else:
            self._report_error(panel.status, error)

    def save_report(self, path: str | Path | None = None) -> Path | None:
        """Write the report as JSON to ``path`` (asked for when None); the path written."""
        if self.report is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the report", "", "JSON (*.json)")
            if not path:
                return None
        from napari_fada.core.atomic import write_text_atomic

        try:
            write_text_atomic(Path(path), self.report.to_json())
        except OSError as error:
            problem = FadaError(f"Could not write {path} ({error}): choose another file.")
            self._report_error(self.evaluate_panel.status, problem)
            return None
        self.evaluate_panel.status.setText(f"Report written to {path}")
        return Path(path)

    # -- train -------------------------------------------------------------------------------

    def datasets(self) -> list[Path]:
        items = (
            self.train_panel.data_list.item(i) for i in range(self.train_panel.data_list.count())
        )
        return [Path(item.text()) for item in items if item is not None]

    def add_dataset(self, folder: str | Path) -> None:
        if Path(folder) not in self.datasets():
            self.train_panel.data_list.addItem(str(folder))

    def remove_dataset(self) -> None:
        data_list = self.train_panel.data_list
        for item in data_list.selectedItems():
            data_list.takeItem(data_list.row(item))

    def training_options(self) -> TrainOptions:
        """The run the fields describe; ``init`` is None also when fine-tuning the shipped
        model, whose path the worker fills in (finding it imports torch)."""
        panel = self.train_panel
        data = tuple(self.datasets())
        if not data:
            raise DatasetError("Add at least one dataset folder to train on.")
        out = panel.out_edit.text().strip()
        if not out:
            raise DatasetError("Choose the weights file to write (Output).")
        start = panel.start_combo.currentText()
        init = panel.init_edit.text().strip()
        if start == START_FILE and not init:
            raise ModelLoadError("Choose the weights file to fine-tune (Init weights).")
        return TrainOptions(
            data=data,
            out=Path(out),
            init=Path(init) if start == START_FILE else None,
            resume=panel.resume_box.isChecked(),
            epochs=panel.epochs_spin.value(),
            minutes=panel.minutes_spin.value() or None,
            batch_size=panel.batch_spin.value(),
            lr=panel.lr_spin.value(),
            size=panel.size_spin.value(),
        )

    def train(self) -> None:
        """Train as the fields say, in a worker thread."""
        panel = self.train_panel
        if self.training is not None:
            return
        try:
            options = self.training_options()
        except FadaError as error:
            self._report_error(panel.status, error)
            return
        self.result = None
        panel.use_button.setEnabled(False)
        panel.result_box.clear()
        panel.log.clear()
        panel.validation.clear()
        panel.progress.setValue(0)
        panel.run_button.setEnabled(False)
        panel.cancel_button.setEnabled(True)
        start = panel.start_combo.currentText()
        panel.status.setText(f"Reading the datasets ({start})...")
        from_shipped = start == START_SHIPPED
        self.training = start_job(
            lambda emit, token: _run_training(options, from_shipped, emit, token),
            self._on_training_progress,
            self._on_trained,
            self._on_training_failed,
        )

    def cancel_training(self) -> None:
        if self.training is not None:
            self.training.cancel()
            self.train_panel.status.setText("Cancelling after the current step...")

    def _end_training(self) -> None:
        self.training = None
        self.train_panel.run_button.setEnabled(True)
        self.train_panel.cancel_button.setEnabled(False)

    def _on_training_progress(self, event: TrainProgress) -> None:
        panel = self.train_panel
        if event.stage == "step":
            panel.progress.setValue(round(100 * event.fraction))
            panel.status.setText(f"epoch {event.epoch}, step {event.step}: loss {event.loss:.4f}")
            return
        panel.log.appendPlainText(event.message)
        if event.stage == "epoch":
            panel.progress.setValue(round(100 * event.fraction))
            figures = ", ".join(f"{k} {v:.3f}" for k, v in event.metrics.items())
            panel.validation.setText(f"Validation after epoch {event.epoch}: {figures}")

    def _on_trained(self, result: TrainResult) -> None:
        self._end_training()
        self.result = result
        panel = self.train_panel
        panel.progress.setValue(100)
        panel.result_box.setPlainText(result.comparison())
        panel.use_button.setEnabled(True)
        panel.status.setText(
            f"Wrote {result.out} after {result.epochs} epochs: validation score "
            f"{result.before['score']:.3f} -> {result.after['score']:.3f}"
        )
        show_info(f"Training done; the weights are in {result.out}")

    def _on_training_failed(self, error: BaseException) -> None:
        self._end_training()
        if isinstance(error, Cancelled):
            self.train_panel.status.setText(f"Cancelled: {error}")
        else:
            self._report_error(self.train_panel.status, error)

    # -- switching the annotator -------------------------------------------------------------

    def annotator(self) -> AnnotatorWidget:
        """The FADA annotator dock of this viewer, opened when it is not docked yet."""
        for widget in self.viewer.window.dock_widgets.values():
            if isinstance(widget, AnnotatorWidget):
                return widget
        _, widget = self.viewer.window.add_plugin_dock_widget(*ANNOTATOR_DOCK)
        return widget

    def use_trained_weights(self) -> None:
        """Load the trained file as the annotator's model and remember it in the settings."""
        if self.result is None or self.loader is not None:
            return
        panel = self.train_panel
        annotator = self.annotator()
        chosen = replace(annotator.settings, backend=EMBEDDED, weights=str(self.result.out))
        panel.status.setText(f"Loading {self.result.out} for the annotator...")

        def loaded(backend: Backend) -> None:
            self.loader = None
            annotator.settings.backend, annotator.settings.weights = EMBEDDED, chosen.weights
            annotator.model_picker.set_from(annotator.settings)
            annotator.set_backend(backend)
            annotator.settings.save()
            panel.status.setText(f"The annotator now proposes with {chosen.weights}")

        def failed(error: BaseException) -> None:
            self.loader = None
            self._report_error(panel.status, error)

        self.loader = start_load(EMBEDDED, chosen.backend_arguments(), loaded, failed)
