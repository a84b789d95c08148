"""Where the annotator's decisions go: the dataset folder it opens, each decided image saved
(kept in memory until a folder is chosen, then written into it), an image's saved labels found
again by its pixels. An image only looked at is never saved.

It works on the state of the :class:`~napari_fada._napari.annotator.widget.AnnotatorWidget` it
belongs to (its ``dataset``, ``unsaved``, ``record`` and image under review).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from napari.utils.notifications import show_warning
from qtpy.QtWidgets import QFileDialog

from napari_fada._napari.annotator.memory import Unsaved
from napari_fada.core.biometry import reviewed_head_biometry
from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.errors import FadaError

if TYPE_CHECKING:
    from napari_fada._napari.annotator.widget import AnnotatorWidget


class DecisionSaver:
    """Opens the widget's dataset folder and saves the decisions taken in the widget."""

    def __init__(self, widget: AnnotatorWidget) -> None:
        self.widget = widget

    def on_dataset_edited(self) -> None:
        self.open_dataset(self.widget.dataset_edit.text())

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.widget, "Dataset folder")
        if folder:
            self.open_dataset(folder)

    def open_dataset(self, folder: str | Path) -> None:
        widget = self.widget
        if not str(folder).strip():
            return
        dataset = widget.guarded(lambda: Dataset.open(Path(folder), annotator=widget.annotator))
        if dataset is None:
            return
        widget.dataset = dataset
        widget.dataset_edit.setText(str(folder))
        widget.remember_settings()
        if dataset.problems:
            widget.issues.setPlainText("\n".join(dataset.problems))
            show_warning(f"{len(dataset.problems)} saved image(s) could not be read; see Issues")
        widget.guarded(self._save_unsaved)
        layer = widget.image_layer()
        if layer is not None and widget.session is None:
            widget.guarded(lambda: widget.show_image(layer))

    def save(self) -> bool:
        """Write the current image's decisions to the dataset (without one, keep them until one
        is chosen); False when nothing was written. An image with no decision is not saved."""
        widget = self.widget
        if widget.session is None or widget.image is None or widget.record is None:
            return False
        proposal = widget.session.to_proposal(widget.annotator)
        if not proposal.is_decided():
            widget.status.setText("Nothing to save: accept, reject or mark it nothing to label.")
            return False
        # Only what a person confirmed is saved as measurements.
        proposal.biometry = reviewed_head_biometry(
            proposal.annotations, proposal.width, proposal.height, widget.record.pixel_spacing_mm
        )
        if widget.dataset is None:
            widget.unsaved[widget.record.sha256] = Unsaved(
                widget.record, widget.image.pixels, proposal
            )
            widget.status.setText(
                f"{len(widget.unsaved)} decided image(s) kept: choose a dataset folder to save "
                "them."
            )
            return False
        try:
            widget.record = widget.dataset.save(widget.record, widget.image.pixels, proposal)
        except FadaError as error:
            widget.report_error(error)
            return False
        widget.unsaved.pop(widget.record.sha256, None)
        widget.status.setText(f"Saved {widget.record.image_id}")
        return True

    def save_if_decided(self) -> None:
        """Save the image under review if a person decided anything on it (whatever the
        autosave setting, so that moving on never loses work); an image only looked at leaves
        nothing behind."""
        session = self.widget.session
        if session is not None and session.to_proposal().is_decided():
            self.save()

    def _save_unsaved(self) -> None:
        """Write the decisions taken before a dataset folder was chosen into it."""
        widget = self.widget
        assert widget.dataset is not None
        for sha256, kept in list(widget.unsaved.items()):
            saved = widget.dataset.save(kept.record, kept.pixels, kept.proposal)
            del widget.unsaved[sha256]
            if widget.record is not None and widget.record.sha256 == sha256:
                widget.record = saved

    def saved(self, record: ImageRecord) -> tuple[ImageRecord, Proposal] | None:
        """The saved labels of ``record``'s pixels, if the dataset holds them."""
        dataset = self.widget.dataset
        if dataset is None:
            return None
        # Only the same pixels carry saved labels: an image id alone may name another image.
        found = dataset.find_by_sha256(record.sha256)
        return dataset.load(found.image_id) if found is not None else None
