"""The "FADA pre-label a folder" dock: the model's proposals for a whole folder or clip, saved
into a dataset for review, with progress, time left and cancel.

It runs :func:`napari_fada.batch.prelabel.prelabel` in a worker thread (which starts the model
processes) with the model chosen in the annotator (the saved settings). The batch size (images
each worker proposes together, as ``prelabel --batch-size``) is offered only for the backends
that batch, and follows the model chosen in the annotator. A rerun skips what is already saved,
so a cancelled run is finished by pressing the button again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_fada._napari.widgets.field_row import field_row
from napari_fada._napari.widgets.job_worker import Emit, Job, start_job
from napari_fada._napari.widgets.wheel_guard import guard_wheel
from napari_fada.batch.prelabel import (
    Progress,
    default_workers,
    prelabel,
    settings_request,
    worker_spec,
)
from napari_fada.batch.report import RunReport
from napari_fada.errors import FadaError
from napari_fada.models.base import CancelToken
from napari_fada.models.registry import available_backends, backend_batches
from napari_fada.settings import Settings

#: The largest batch size offered (the command line takes any).
MAX_BATCH_SIZE = 64


def describe_progress(progress: Progress) -> str:
    """``"12 / 40 images, 1.3 images/s, about 21 s left, 1 failed"``."""
    text = f"{progress.handled} / {progress.total} images, {progress.images_per_s:.2f} images/s"
    if progress.seconds_left is not None:
        text += f", about {progress.seconds_left:.0f} s left"
    return text + (f", {progress.failed} failed" if progress.failed else "")


class PrelabelWidget(QWidget):
    """Dock widget: input folder or clip, dataset folder, workers, batch size; Pre-label /
    Cancel."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.job: Job | None = None
        self.report: RunReport | None = None
        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("folder of images, or a clip (DICOM, TIFF, video)")
        self.folder_button = QPushButton("Folder...")
        self.file_button = QPushButton("File...")
        self.dataset_edit = QLineEdit(Settings.load().dataset_dir or "")
        self.dataset_edit.setPlaceholderText("dataset folder to save the proposals into")
        self.dataset_button = QPushButton("Browse...")
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 4 * default_workers())
        self.workers_spin.setValue(default_workers())
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, MAX_BATCH_SIZE)
        self.batch_spin.setSpecialValueText("1 (off)")
        self.run_button = QPushButton("Pre-label")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("Choose images and a dataset folder, then Pre-label.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Images", field_row(self.input_edit, self.folder_button, self.file_button))
        form.addRow("Dataset", field_row(self.dataset_edit, self.dataset_button))
        form.addRow("Workers", self.workers_spin)
        form.addRow("Batch size", self.batch_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch()
        guard_wheel(self)

        self.folder_button.clicked.connect(self._choose_folder)
        self.file_button.clicked.connect(self._choose_file)
        self.dataset_button.clicked.connect(self._choose_dataset)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.follow_backend()

    def follow_backend(self) -> None:
        """Offer the batch size only when the model chosen in the annotator batches."""
        backend = Settings.load().backend
        batches = backend_batches(backend)
        self.batch_spin.setEnabled(batches)
        if batches:
            tip = (
                f"Images each worker proposes together: the {backend} backend decodes their "
                "independent phases at once, with the answers of one image at a time."
            )
        else:
            batching = ", ".join(n for n in available_backends() if backend_batches(n))
            tip = (
                f"The {backend} backend proposes one image at a time; the batch size is for the "
                f"{batching} backends (choose one in the annotator)."
            )
        self.batch_spin.setToolTip(tip)

    def showEvent(self, event: Any) -> None:
        self.follow_backend()
        super().showEvent(event)

    def enterEvent(self, event: Any) -> None:
        """The model may have been changed in the annotator while this dock was open."""
        self.follow_backend()
        super().enterEvent(event)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to pre-label")
        if folder:
            self.input_edit.setText(folder)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Clip or image to pre-label")
        if path:
            self.input_edit.setText(path)

    def _choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder to save into")
        if folder:
            self.dataset_edit.setText(folder)

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self) -> None:
        """Start a run in a worker thread, or say what is missing."""
        source, dataset = self.input_edit.text().strip(), self.dataset_edit.text().strip()
        if not source or not dataset:
            self.status.setText("Choose the images and the dataset folder first.")
            return
        settings = Settings.load()
        workers = self.workers_spin.value()
        batch_size = self.batch_spin.value() if backend_batches(settings.backend) else 1
        spec = worker_spec(settings, workers)
        request = settings_request(settings, None)

        def task(emit: Emit, token: CancelToken) -> RunReport:
            return prelabel(
                [source], Path(dataset), spec, workers, request=request,
                annotator=settings.annotator, on_progress=emit, cancel=token,
                batch_size=batch_size,
            )  # fmt: skip

        self.report = None
        self.progress.setRange(0, 0)  # busy until the first frames are done
        together = f", {batch_size} images at a time" if batch_size > 1 else ""
        self.status.setText(f"Starting {workers} worker(s) with the {spec.name} model{together}...")
        self._set_running(True)
        self.job = start_job(task, self._on_progress, self._on_done, self._on_error)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling after the images being proposed...")

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_progress(self, progress: Progress) -> None:
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(progress.handled)
        self.status.setText(describe_progress(progress))

    def _on_done(self, report: RunReport) -> None:
        self.job, self.report = None, report
        self._set_running(False)
        self.progress.setRange(0, max(report.total, 1))
        self.progress.setValue(report.total if not report.interrupted else self.progress.value())
        dataset = Path(self.dataset_edit.text().strip())
        self.status.setText(report.summary(dataset))
        settings = Settings.load()
        settings.dataset_dir = str(dataset)
        settings.save()
        show_info(f"Pre-labelled {report.done} image(s) into {dataset}; review them there.")

    def _on_error(self, error: BaseException) -> None:
        self.job = None
        self._set_running(False)
        self.progress.setRange(0, 1)
        message = str(error) if isinstance(error, FadaError) else f"unexpected error: {error!r}"
        self.status.setText(message)
        show_error(message)
