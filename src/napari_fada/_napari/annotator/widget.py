"""The FADA annotator dock widget: propose, review, save and step through images.

The widget owns the workflow; the layers (:mod:`~napari_fada._napari.widgets.proposal_layers`) and
the review state (:mod:`.review_session`) hold the annotations. Every user-facing failure is a
FadaError shown in the widget and as a napari notification; napari itself never sees a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from napari.layers import Image
from napari.qt.threading import FunctionWorker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QFileDialog

from napari_fada._napari.annotator.biometry_panel import BiometryPanel
from napari_fada._napari.annotator.panel import AnnotatorPanel
from napari_fada._napari.annotator.review_keys import bind_review_keys, unbind_review_keys
from napari_fada._napari.annotator.review_session import ReviewSession
from napari_fada._napari.cine.panel import CinePanel
from napari_fada._napari.hooks.image_source import CurrentImage, current_image, is_stack, step_image
from napari_fada._napari.prompting.section import PromptSection
from napari_fada._napari.widgets.proposal_layers import add_proposal_layers
from napari_fada._napari.widgets.propose_worker import ProposeJob, start_load, start_propose
from napari_fada.core.biometry import KEPT, reviewed_head_biometry
from napari_fada.core.geometry import box_iou
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.core.vocabulary import route
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.errors import Cancelled, FadaError
from napari_fada.models.base import Backend, ProposeRequest
from napari_fada.models.registry import available_backends
from napari_fada.settings import Settings


def _ignoring_args(slot: Callable[[], Any]) -> Callable[..., None]:
    """A Qt slot for ``clicked(bool)`` that calls ``slot()``."""

    def call(*_: Any) -> None:
        slot()

    return call


#: A new proposal overlapping a decided annotation of its label this much repeats it.
_REPEAT_IOU = 0.9


def _keep_decisions(previous: Proposal, fresh: Proposal) -> Proposal:
    """``fresh`` plus what a person already decided in ``previous``, without repeats."""
    decided = [a for a in previous.annotations if a.status != "proposed"]

    def repeats(new: Annotation) -> bool:
        return any(
            old.label == new.label
            and old.box is not None
            and new.box is not None
            and box_iou(old.box, new.box) >= _REPEAT_IOU
            for old in decided
        )

    kept = [a for a in fresh.annotations if not repeats(a)]
    return replace(fresh, annotations=decided + kept)


class AnnotatorWidget(AnnotatorPanel):
    """Dock widget: model, structures, propose/cancel, review, dataset and navigation."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(available_backends())
        self.viewer = napari_viewer
        self.backend: Backend | None = None
        self.dataset: Dataset | None = None
        self.session: ReviewSession | None = None
        self.image: CurrentImage | None = None
        self.record: ImageRecord | None = None
        self.job: ProposeJob | None = None
        self.loader: FunctionWorker | None = None
        self.settings = Settings.load()
        self.biometry = BiometryPanel()
        layout = self.content_layout
        layout.insertWidget(layout.indexOf(self.plane_label) + 1, self.biometry)
        self.model_picker.set_from(self.settings)
        self.annotator_edit.setText(self.settings.annotator or "")
        self._connect()
        bind_review_keys(napari_viewer, self)
        self.cine = CinePanel(self)
        layout.addWidget(self.cine)
        self.prompting = PromptSection(self, self.label_combo.currentText)
        layout.addWidget(self.prompting)
        if self.settings.dataset_dir and Path(self.settings.dataset_dir).is_dir():
            self.open_dataset(self.settings.dataset_dir)
        connections = (
            (napari_viewer.layers.events.inserted, self._on_layer_inserted),
            (napari_viewer.layers.events.removed, self._on_layer_removed),
            (napari_viewer.dims.events.current_step, self._on_step),
        )
        for event, slot in connections:
            event.connect(slot)

        def detach() -> None:
            """The widget is gone: its keys and viewer callbacks must not outlive it."""
            unbind_review_keys(napari_viewer)
            for event, slot in connections:
                event.disconnect(slot)

        self.destroyed.connect(detach)

    def _connect(self) -> None:
        for button, slot in (
            (self.load_button, self.load_selected_backend),
            (self.set_plane_button, self.set_plane),
            (self.choose_button, self.choose_dataset),
            (self.propose_button, self.propose),
            (self.cancel_button, self.cancel),
            (self.accept_button, self.accept),
            (self.reject_button, self.reject),
            (self.accept_all_button, self.accept_all),
            (self.reject_all_button, self.reject_all),
            (self.apply_label_button, self.apply_label),
            (self.save_button, self.save),
            (self.previous_button, self.previous_image),
            (self.next_button, self.next_image),
        ):
            button.clicked.connect(_ignoring_args(slot))
        self.label_combo.currentTextChanged.connect(self._on_default_label)
        self.biometry.spacing_changed.connect(lambda _: self._guarded(self._on_spacing_changed))
        self.dataset_edit.editingFinished.connect(self._on_dataset_edited)
        self.annotator_edit.editingFinished.connect(self._remember_settings)
        self.model_picker.model_changed.connect(self._on_model_changed)
        self.model_picker.phases_changed.connect(self._remember_settings)

    # -- feedback ----------------------------------------------------------------------------

    def report_error(self, error: BaseException) -> None:
        message = str(error) if isinstance(error, FadaError) else f"unexpected error: {error!r}"
        self.status.setText(message)
        show_error(message)

    def _guarded(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except FadaError as error:
            self.report_error(error)
            return None

    # -- model -------------------------------------------------------------------------------

    def set_backend(self, backend: Backend) -> None:
        self.backend = backend
        # A model with planes of its own (the embedded one) can only learn those: offer them first.
        for index, plane in enumerate(getattr(backend, "planes", ())):
            if self.plane_combo.findText(plane) < 0:
                self.plane_combo.insertItem(index, plane)
        self.status.setText(f"Model ready: {backend.model_id}")

    def load_selected_backend(self, then: Callable[[], Any] | None = None) -> None:
        """Load the chosen model in a thread, then run ``then`` (e.g. the pending Propose)."""
        if self.loader is not None:
            return
        name = self.model_picker.backend()
        self.model_picker.write_to(self.settings)
        arguments = self._guarded(lambda: self.settings.backend_arguments(name))
        if arguments is None:
            return
        self.status.setText(f"Loading model {name}...")

        def loaded(backend: Backend) -> None:
            self.loader = None
            self.set_backend(backend)
            self._remember_settings()
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            self.loader = None
            self.report_error(error)

        self.loader = start_load(name, arguments, loaded, failed)

    def _on_model_changed(self) -> None:
        """Another backend, file or thread count: the next Load or Propose loads it."""
        self.backend = None
        self._remember_settings()

    # -- proposing ---------------------------------------------------------------------------

    def image_layer(self) -> Image | None:
        """The active Image layer, else the most recently added one."""
        active = self.viewer.layers.selection.active
        if isinstance(active, Image):
            return active
        images = [layer for layer in self.viewer.layers if isinstance(layer, Image)]
        return images[-1] if images else None

    def propose(self) -> None:
        if self.job is not None:
            return
        layer = self.image_layer()
        if layer is None:
            self.status.setText("Open an image first.")
            return
        if self.backend is None:
            self.load_selected_backend(then=self.propose)
            return
        # napari may hand plugins proxies of its objects: compare layers with ==, not `is`
        if self.image is None or self.image.layer != layer:
            self._guarded(lambda: self.show_image(layer))
        if self.image is None:
            return
        request = ProposeRequest(
            phases=self.model_picker.phases(),
            structures=self.structures.structures(),
            pixel_spacing_mm=self.biometry.pixel_spacing_mm(),
        )
        self.progress.setValue(0)
        self.propose_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Proposing with {self.backend.model_id}...")
        self.job = start_propose(
            self.backend,
            self.image.pixels,
            request,
            self._on_progress,
            self._on_proposed,
            self._on_propose_failed,
        )

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling...")

    def _finish_job(self) -> None:
        self.job = None
        self.propose_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_progress(self, message: str, fraction: float) -> None:
        self.progress.setValue(round(100 * fraction))
        self.status.setText(message)

    def _on_proposed(self, proposal: Proposal) -> None:
        self._finish_job()
        self.progress.setValue(100)
        if self.session is not None:
            proposal = _keep_decisions(self.session.to_proposal(self.annotator), proposal)
        self._show_proposal(proposal)
        self.status.setText(f"{len(proposal.annotations)} proposals from {proposal.model.model_id}")

    def _on_propose_failed(self, error: BaseException) -> None:
        self._finish_job()
        self.progress.setValue(0)
        if isinstance(error, Cancelled):
            self.status.setText("Cancelled: nothing was added.")
        else:
            self.report_error(error)

    # -- showing -----------------------------------------------------------------------------

    @property
    def annotator(self) -> str | None:
        return self.annotator_edit.text().strip() or None

    def show_image(self, layer: Image) -> None:
        """Make ``layer`` (its current frame) the image under review; load saved labels."""
        self._clear_session()
        self.image = current_image(self.viewer, layer)
        self.record = make_record(
            self.image.pixels,
            self.image.source_path,
            pixel_spacing_mm=self.image.pixel_spacing_mm,
            clip_id=self.image.clip_id,
            frame_index=self.image.frame_index,
            name=layer.name,
        )
        self.plane_label.setText("Plane: -")
        self.interpretation.clear()
        self.issues.clear()
        self.raw_answers.clear()
        self.biometry.set_pixel_spacing(self.image.pixel_spacing_mm)
        self.biometry.show_biometry({}, "")
        saved = self._saved(self.record)
        if saved is not None:
            self.record, proposal = saved
            self._show_proposal(proposal)
            self.status.setText(f"Loaded saved labels of {self.record.image_id}")
        elif (streamed := self.cine.proposal_for(self.image)) is not None:
            self._show_proposal(streamed)

    def _saved(self, record: ImageRecord) -> tuple[ImageRecord, Proposal] | None:
        if self.dataset is None:
            return None
        # Only the same pixels carry saved labels: an image id alone may name another image.
        found = self.dataset.find_by_sha256(record.sha256)
        return self.dataset.load(found.image_id) if found is not None else None

    def _show_proposal(self, proposal: Proposal) -> None:
        assert self.image is not None
        self._remove_layers()
        name = self.record.image_id if self.record else self.image.layer.name
        layers = add_proposal_layers(self.viewer, proposal, self.image.layer, name)
        self.session = ReviewSession(layers, proposal, self.label_combo.currentText())
        self.viewer.layers.selection.active = layers.shapes
        plane = proposal.plane
        self.plane_label.setText(f"Plane: {plane.describe()}" if plane else "Plane: -")
        if plane is not None:
            if self.plane_combo.findText(plane.label) < 0:
                self.plane_combo.addItem(plane.label)
            self.plane_combo.setCurrentText(plane.label)
        if plane or proposal.interpretation:
            self.structures.show_route(
                route(plane.label if plane else None, proposal.interpretation)
            )
        self.interpretation.setPlainText(json.dumps(proposal.interpretation or {}, indent=1))
        self.issues.setPlainText("\n".join(proposal.issues))
        self.show_raw_answers(proposal.raw_answers, proposal.timings_s)
        self._show_biometry()

    def review_without_proposal(self) -> None:
        """Review the image in view with nothing proposed yet (to outline it by prompts)."""
        if self.image is not None and self.session is None:
            height, width = self.image.pixels.shape[:2]
            self._show_proposal(Proposal(width=width, height=height))

    def _measured(self, proposal: Proposal) -> tuple[dict[str, float], str]:
        """The reviewed head's biometry, else that of the model's head outline."""
        size = (proposal.width, proposal.height, self.biometry.pixel_spacing_mm())
        reviewed = reviewed_head_biometry(proposal.annotations, *size)
        if reviewed:
            return reviewed, "reviewed head"
        return reviewed_head_biometry(proposal.annotations, *size, (*KEPT, "proposed")), "model"

    def _show_biometry(self) -> None:
        if self.session is not None:
            self.biometry.show_biometry(*self._measured(self.session.to_proposal(self.annotator)))

    def _on_spacing_changed(self) -> None:
        """A typed-in pixel size becomes the image's: proposals and saves measure with it."""
        if self.record is not None:
            self.record = replace(self.record, pixel_spacing_mm=self.biometry.pixel_spacing_mm())
        self._show_biometry()

    def _remove_layers(self) -> None:
        if self.session is None:
            return
        self.session.disconnect()
        for layer in self.session.layers.all():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.session = None

    def _clear_session(self) -> None:
        """Leave the image under review, saving it first (whatever the autosave setting) so
        that moving on never loses work."""
        if self.session is not None and self.dataset is not None:
            self.save()
        self.prompting.controller.new_object()
        self._remove_layers()

    def _on_layer_inserted(self, event: Any) -> None:
        if isinstance(event.value, Image) and self.job is None:
            self._guarded(lambda: self.show_image(event.value))

    def _on_layer_removed(self, event: Any) -> None:
        """Closing the image under review saves its labels and takes their layers away."""
        if self.image is not None and event.value == self.image.layer:
            self._guarded(self._clear_session)
            self.image = None

    def _on_step(self, event: Any) -> None:
        if self.image is None or not is_stack(self.image.layer) or self.job is not None:
            return
        layer = self.image.layer
        if self.image.frame_index != int(self.viewer.dims.current_step[0]):
            self._guarded(lambda: self.show_image(layer))

    def _on_default_label(self, label: str) -> None:
        if self.session is not None:
            self.session.default_label = label

    # -- review ------------------------------------------------------------------------------

    def _decide(self, decision: Callable[[ReviewSession], list[str]]) -> list[str]:
        if self.session is None:
            return []
        changed = decision(self.session)
        if changed and self.autosave.isChecked():
            self.save()
        self._show_biometry()
        return changed

    def accept(self) -> list[str]:
        return self._decide(lambda s: s.accept())

    def reject(self) -> list[str]:
        return self._decide(lambda s: s.reject())

    def accept_all(self) -> list[str]:
        return self._decide(ReviewSession.accept_all)

    def reject_all(self) -> list[str]:
        return self._decide(ReviewSession.reject_all)

    def apply_label(self) -> list[str]:
        return self._decide(lambda s: s.set_label(self.label_combo.currentText()))

    def set_plane(self) -> None:
        """Confirm or correct the plane class with the one chosen in the combo box."""
        if self.session is None:
            return
        self.session.set_plane(self.plane_combo.currentText())
        plane = self.session.plane
        assert plane is not None
        self.plane_label.setText(f"Plane: {plane.label} ({plane.status})")
        if self.autosave.isChecked():
            self.save()

    # -- dataset -----------------------------------------------------------------------------

    def _on_dataset_edited(self) -> None:
        self.open_dataset(self.dataset_edit.text())

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder")
        if folder:
            self.open_dataset(folder)

    def open_dataset(self, folder: str | Path) -> None:
        if not str(folder).strip():
            return
        dataset = self._guarded(lambda: Dataset.open(Path(folder), annotator=self.annotator))
        if dataset is None:
            return
        self.dataset = dataset
        self.dataset_edit.setText(str(folder))
        self._remember_settings()
        if dataset.problems:
            self.issues.setPlainText("\n".join(dataset.problems))
            show_warning(f"{len(dataset.problems)} saved image(s) could not be read; see Issues")
        layer = self.image_layer()
        if layer is not None and self.session is None:
            self._guarded(lambda: self.show_image(layer))

    def save(self) -> bool:
        """Write the current image's annotations to the dataset; False when nothing was saved."""
        if self.session is None or self.image is None or self.record is None:
            return False
        if self.dataset is None:
            self.status.setText("Choose a dataset folder to save into.")
            return False
        proposal = self.session.to_proposal(self.annotator)
        # Only what a person confirmed is saved as measurements.
        proposal.biometry = reviewed_head_biometry(
            proposal.annotations, proposal.width, proposal.height, self.record.pixel_spacing_mm
        )
        try:
            self.record = self.dataset.save(self.record, self.image.pixels, proposal)
        except FadaError as error:
            self.report_error(error)
            return False
        self.status.setText(f"Saved {self.record.image_id}")
        return True

    def _remember_settings(self) -> None:
        """Keep the model, dataset folder and annotator for the next napari session."""
        self.model_picker.write_to(self.settings)
        self.settings.dataset_dir = str(self.dataset.root) if self.dataset else None
        self.settings.annotator = self.annotator
        self.settings.save()

    # -- navigation --------------------------------------------------------------------------

    def next_image(self) -> None:
        self._step(1)

    def previous_image(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        """Step along the stack (the frame change shows the frame) or the folder collection
        (the new layer's insertion shows it)."""
        layer = self.image.layer if self.image else self.image_layer()
        if layer is None or self.job is not None:
            return
        if self._guarded(lambda: step_image(self.viewer, layer, delta)) is None:
            show_info("No further image in that direction.")
