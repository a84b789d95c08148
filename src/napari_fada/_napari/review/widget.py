"""The review queue dock: a dataset's images by status, ordered by what needs a person most.

Selecting an image (in the table, with Shift+Down / Shift+Up for the next / previous unreviewed
one, or with the annotator's Shift+Right / Shift+Left along the table) shows it through the
FADA annotator dock, which loads its saved labels, saves them when the person moves on, and
autosaves each decision. The queue re-reads an image when its annotation file changes, and keeps
its position in the dataset folder (:mod:`napari_fada.review.state`), so reopening the dock
continues where the person stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari.layers import Image
from napari.qt.threading import FunctionWorker, GeneratorWorker
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer
from qtpy.QtGui import QHideEvent, QShowEvent
from qtpy.QtWidgets import QFileDialog, QTableWidgetItem

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.hooks.source import SOURCE_KEY, ImageSource, source_of
from napari_fada._napari.review.panel import ALL_STATUSES, ReviewQueuePanel
from napari_fada._napari.widgets.docks import tab_together
from napari_fada.data.dataset import is_saved_dataset
from napari_fada.data.importers.to_dataset import import_steps
from napari_fada.errors import DatasetError, FadaError
from napari_fada.review.compare import Comparison, load_comparison
from napari_fada.review.queue import IMAGE_STATUSES, QueueItem, ReviewQueue
from napari_fada.review.state import STATE_FILE, ReviewState
from napari_fada.settings import Settings

PLUGIN = "napari-fada"
ANNOTATOR = "FADA annotator"
#: key -> (widget method, what it does); none is bound by napari or the annotator dock.
QUEUE_KEYS: dict[str, tuple[str, str]] = {
    "Shift+Down": ("next_unreviewed", "show the next unreviewed image of the queue"),
    "Shift+Up": ("previous_unreviewed", "show the previous unreviewed image of the queue"),
}
#: How often the queue looks for a new save of the image in view, in milliseconds.
POLL_MS = 500


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cells(item: QueueItem) -> tuple[str, ...]:
    return (
        item.image_id,
        item.status,
        _number(item.confidence, 2),
        _number(item.disagreement, 2),
        _number(item.stats.time_s, 0),
        str(item.stats.edits),
    )


class ReviewQueueWidget(ReviewQueuePanel):
    """Dock widget: open a folder as a review session and step through it."""

    def __init__(self, napari_viewer: Any, annotator: AnnotatorWidget | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self._annotator = annotator
        self.queue: ReviewQueue | None = None
        self.state = ReviewState()
        self.shown: list[QueueItem] = []
        self.importer: GeneratorWorker | None = None
        self.comparer: FunctionWorker | None = None
        self._saved_at: float | None = None
        self._tabbed = False
        self._connect()
        for key, (method, _) in QUEUE_KEYS.items():
            napari_viewer.bind_key(key, self._key_handler(method), overwrite=True)
        napari_viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.poll)
        self.timer.start(POLL_MS)
        last = Settings.load().dataset_dir
        if last and (Path(last) / STATE_FILE).is_file():
            self.open_folder(last)

    def _connect(self) -> None:
        self.open_button.clicked.connect(lambda *_: self.choose_folder())
        self.compare_button.clicked.connect(lambda *_: self.choose_comparison())
        self.previous_button.clicked.connect(lambda *_: self.previous_unreviewed())
        self.next_button.clicked.connect(lambda *_: self.next_unreviewed())
        self.order_combo.currentIndexChanged.connect(lambda *_: self._on_view_changed())
        self.filter_combo.currentIndexChanged.connect(lambda *_: self._on_view_changed())
        self.table.cellClicked.connect(lambda row, _column: self.show_row(row))

    def _key_handler(self, method: str) -> Callable[[Any], None]:
        def handler(_viewer: Any) -> None:
            getattr(self, method)()

        return handler

    def report_error(self, error: BaseException) -> None:
        message = str(error) if isinstance(error, FadaError) else f"unexpected error: {error!r}"
        self.status.setText(message)
        show_error(message)

    # -- the annotator -----------------------------------------------------------------------

    @property
    def annotator(self) -> AnnotatorWidget:
        """The FADA annotator dock of this viewer, opened (as a tab beside the queue) when it
        is not yet."""
        if self._annotator is None:
            _, widget = self.viewer.window.add_plugin_dock_widget(PLUGIN, ANNOTATOR)
            self._annotator = widget
            tab_together(self, widget)
        return self._annotator

    def showEvent(self, event: QShowEvent | None) -> None:
        """Docked and shown: the queue becomes a tab beside the annotator (stacked, each would
        have half the height), opening it if needed."""
        super().showEvent(event)
        if not self._tabbed:
            self._tabbed = tab_together(self.annotator, self)

    # -- opening -----------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to review")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path, import_into: str | Path | None = None) -> None:
        """Review a napari-fada dataset, or import a COCO / YOLO / label-PNG folder into
        ``import_into`` (asked for when None) and review that."""
        folder = Path(folder)
        if is_saved_dataset(folder):
            self._open_dataset(folder)
            return
        if import_into is None:
            chosen = QFileDialog.getExistingDirectory(self, "Empty folder for the review dataset")
            if not chosen:
                return
            import_into = chosen
        self._start_import(folder, Path(import_into))

    def _start_import(self, source: Path, target: Path) -> None:
        if self.importer is not None:
            return
        self.status.setText(f"Importing {source}...")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        worker = GeneratorWorker(import_steps, source, target, self.annotator.annotator)
        worker.yielded.connect(self._on_import_progress)
        worker.finished.connect(self._on_import_finished)
        worker.returned.connect(lambda _: self._open_dataset(target))
        worker.errored.connect(self.report_error)
        self.importer = worker
        worker.start()

    def _on_import_progress(self, progress: tuple[int, int]) -> None:
        done, total = progress
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"Imported {done} of {total} images")

    def _on_import_finished(self) -> None:
        self.importer = None
        self.progress.setVisible(False)

    def _leave_dataset(self) -> None:
        """Save where the person stands and take the queue's images away (the annotator saves
        their labels as they go, into the dataset they came from)."""
        self.save_progress()
        for layer in [layer for layer in self.viewer.layers if self._shows_dataset_image(layer)]:
            self.viewer.layers.remove(layer)
        self.queue = None

    def _open_dataset(self, root: Path) -> None:
        if self.queue is not None:
            self._leave_dataset()
        annotator = self.annotator
        annotator.open_dataset(root)
        dataset = annotator.dataset
        if dataset is None or dataset.root.resolve() != root.resolve():
            return  # the annotator reported why
        self.queue = ReviewQueue(dataset)
        self.state = ReviewState.load(root)
        self.folder_edit.setText(str(root))
        self.compare_edit.setText(self.state.compare_to or "")
        self._show_view_state()
        self.refresh_view()
        current = self.state.current
        if current in self.queue.items:
            self.show_item(current)
        else:
            self.next_unreviewed()
        if self.state.compare_to:
            self.compare_with(self.state.compare_to, order_by_it=False)

    def choose_comparison(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labels to compare with")
        if folder:
            self.compare_with(folder)

    def compare_with(self, folder: str | Path, order_by_it: bool = True) -> None:
        """Compare with ``folder``'s labels (another model's, or existing ones) in a worker
        thread, then order by disagreement unless ``order_by_it`` is False."""
        if self.queue is None:
            self.status.setText("Open a folder to review first.")
            return
        if self.comparer is not None:
            return
        queue, folder = self.queue, Path(folder)

        def work() -> tuple[Comparison, dict[str, QueueItem]]:
            comparison = load_comparison(folder)
            return comparison, queue.compared(comparison)

        def done(result: tuple[Comparison, dict[str, QueueItem]]) -> None:
            if queue is self.queue:  # else another folder was opened meanwhile
                self._on_compared(folder, *result, order_by_it=order_by_it)

        self.status.setText(f"Comparing with {folder}...")
        worker = FunctionWorker(work)
        worker.returned.connect(done)
        worker.errored.connect(self.report_error)
        worker.finished.connect(self._on_compare_finished)
        self.comparer = worker
        worker.start()

    def _on_compare_finished(self) -> None:
        self.comparer = None

    def _on_compared(
        self,
        folder: Path,
        comparison: Comparison,
        compared: dict[str, QueueItem],
        order_by_it: bool,
    ) -> None:
        assert self.queue is not None
        self.queue.compare_with(comparison, compared)
        self._refresh_current()  # it may have been saved meanwhile
        self.state.compare_to = str(folder)
        self.compare_edit.setText(str(folder))
        if order_by_it:
            self.state.order = "disagreement"
            self._show_view_state()
        self._save_state()
        self.refresh_view()
        self.status.setText(f"Compared with {len(comparison)} labelled images of {folder}")

    def _show_view_state(self) -> None:
        """Set the order and filter boxes to the state's, without treating that as a choice."""
        for combo in (self.order_combo, self.filter_combo):
            combo.blockSignals(True)
        self.order_combo.setCurrentIndex(max(self.order_combo.findData(self.state.order), 0))
        self.filter_combo.setCurrentText(self.state.status_filter or ALL_STATUSES)
        for combo in (self.order_combo, self.filter_combo):
            combo.blockSignals(False)

    # -- the table ---------------------------------------------------------------------------

    def _on_view_changed(self) -> None:
        if self.queue is None:
            return
        self.state.order = self.order_combo.currentData()
        status = self.filter_combo.currentText()
        self.state.status_filter = next((s for s in IMAGE_STATUSES if s == status), None)
        self._save_state()
        self.refresh_view()

    def refresh_view(self) -> None:
        """Redraw the table, counts and summary from the queue."""
        if self.queue is None:
            return
        self.shown = self.queue.view(self.state.order, self.state.status_filter)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.shown))
        for row, item in enumerate(self.shown):
            for column, text in enumerate(_cells(item)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self._select_current()
        self.table.blockSignals(False)
        counts = self.queue.counts()
        total = sum(counts.values())
        self.counts_label.setText(
            f"{total} images: " + ", ".join(f"{n} {status}" for status, n in counts.items())
        )
        self.summary_label.setText(self.queue.summary().text())

    def _select_current(self) -> None:
        ids = [i.image_id for i in self.shown]
        if self.state.current in ids:
            self.table.selectRow(ids.index(self.state.current))
        else:
            self.table.clearSelection()

    def show_row(self, row: int) -> None:
        if 0 <= row < len(self.shown):
            self.show_item(self.shown[row].image_id)

    # -- stepping ----------------------------------------------------------------------------

    def next_unreviewed(self) -> None:
        self._step(1)

    def previous_unreviewed(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        if self.queue is None:
            return
        self._refresh_current()
        target = self.queue.next_unreviewed(self.state.current, self.state.order, delta)
        if target is None:
            self.status.setText("No other image is unreviewed.")
            return
        self.show_item(target)

    def show_item(self, image_id: str) -> None:
        """Show ``image_id`` in the viewer for editing; the image shown before is saved."""
        if self.queue is None:
            return
        dataset = self.queue.dataset
        try:
            loaded = dataset.load(image_id)
            pixels = dataset.image(image_id)
        except DatasetError as error:
            self.report_error(error)
            return
        if loaded is None:
            return
        record, _ = loaded
        previous = [layer for layer in self.viewer.layers if self._shows_dataset_image(layer)]
        spacing = record.pixel_spacing_mm
        self.state.current = image_id
        self.viewer.add_image(
            pixels,
            name=image_id,
            scale=spacing or (1.0, 1.0),
            rgb=pixels.ndim == 3,
            metadata=ImageSource(
                path=dataset.root / "images" / f"{image_id}.png",
                pixel_spacing_mm=spacing,
                **self._collection(image_id),
            ).metadata(),
        )
        for layer in previous:
            self.viewer.layers.remove(layer)
        self.viewer.reset_view()  # images differ in size: show the whole of each
        self._after_move()

    def _collection(self, image_id: str) -> dict[str, Any]:
        """The source fields that let the annotator's Shift+Right / Shift+Left walk the table's
        images."""
        assert self.queue is not None
        ids = [i.image_id for i in self.shown]
        if image_id not in ids:
            return {}
        images = self.queue.dataset.root / "images"
        return {
            "collection": tuple(images / f"{i}.png" for i in ids),
            "index": ids.index(image_id),
        }

    def _shows_dataset_image(self, layer: Any) -> bool:
        if self.queue is None or not isinstance(layer, Image):
            return False
        source = source_of(layer)
        path = source.path if source else None
        return path is not None and path.parent == self.queue.dataset.root / "images"

    def _on_layer_inserted(self, event: Any) -> None:
        """Follow the annotator's own stepping through the table's images."""
        layer = event.value
        if self._shows_dataset_image(layer) and self.queue is not None:
            image_id = Path(layer.metadata[SOURCE_KEY].path).stem
            if image_id != self.state.current and image_id in self.queue.items:
                self._refresh_current()
                self.state.current = image_id
                self._after_move()

    def _after_move(self) -> None:
        self._saved_at = self._annotation_mtime()
        self._save_state()
        self.refresh_view()
        self.status.setText(f"Reviewing {self.state.current}")

    # -- keeping up with saves ---------------------------------------------------------------

    def _annotation_mtime(self) -> float | None:
        if self.queue is None or self.state.current is None:
            return None
        path = self.queue.dataset.root / "annotations" / f"{self.state.current}.json"
        return path.stat().st_mtime if path.is_file() else None

    def _refresh_current(self) -> None:
        if self.queue is not None and self.state.current is not None:
            try:
                self.queue.refresh(self.state.current)
            except DatasetError as error:
                self.report_error(error)

    def poll(self) -> None:
        """Re-read the image in view when the annotator has saved it since the last look."""
        mtime = self._annotation_mtime()
        if mtime is None or mtime == self._saved_at:
            return
        self._saved_at = mtime
        assert self.queue is not None
        self._refresh_current()
        self.queue.sync()
        self.refresh_view()

    def _save_state(self) -> None:
        if self.queue is None:
            return
        try:
            self.state.save(self.queue.dataset.root)
        except DatasetError as error:
            self.report_error(error)

    def save_progress(self) -> None:
        """Save the image in view and the position (the dock or the viewer is closing)."""
        if self.queue is None:
            return
        if self._annotator is not None and self._annotator.session is not None:
            self._annotator.save()
        self._refresh_current()
        self._save_state()

    def hideEvent(self, event: QHideEvent | None) -> None:
        self.save_progress()
        super().hideEvent(event)
