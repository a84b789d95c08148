"""The FADA annotator dock widget: propose, review, save and step through images.

The widget owns the workflow; the layers (:mod:`~napari_fada._napari.widgets.proposal_layers`) and
the review state (:mod:`.review_session`) hold the annotations. Every user-facing failure is a
FadaError shown in the widget and as a napari notification; napari itself never sees a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from napari.layers import Image
from napari.qt.threading import FunctionWorker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog

from napari_fada._napari.annotator.biometry_panel import BiometryPanel
from napari_fada._napari.annotator.loop_panel import LoopControls
from napari_fada._napari.annotator.memory import CacheKey, ProposalCache, Unsaved, cache_key
from napari_fada._napari.annotator.panel import AnnotatorPanel
from napari_fada._napari.annotator.review_keys import bind_review_keys, unbind_review_keys
from napari_fada._napari.annotator.review_session import ReviewSession
from napari_fada._napari.cine.panel import CinePanel
from napari_fada._napari.hooks.image_source import (
    CurrentImage,
    current_image,
    is_stack,
    open_sequence,
    step_image,
)
from napari_fada._napari.hooks.source import source_of
from napari_fada._napari.prompting.section import PromptSection
from napari_fada._napari.widgets.proposal_layers import add_proposal_layers
from napari_fada._napari.widgets.propose_worker import ProposeJob, start_load, start_propose
from napari_fada._napari.widgets.wheel_guard import guard_wheel
from napari_fada.core.biometry import KEPT, reviewed_head_biometry
from napari_fada.core.geometry import box_iou
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.core.vocabulary import route
from napari_fada.data.dataset import Dataset, is_saved_dataset, make_record
from napari_fada.errors import Cancelled, FadaError
from napari_fada.models.base import Backend, ProposeRequest
from napari_fada.models.registry import available_backends
from napari_fada.settings import Settings


def _ignoring_args(slot: Callable[[], Any]) -> Callable[..., None]:
    """A Qt slot for ``clicked(bool)`` that calls ``slot()``."""

    def call(*_: Any) -> None:
        slot()

    return call


def _remove_from(viewer: Any, layers: list[Any]) -> None:
    """Remove those of ``layers`` still in ``viewer`` (another removal may have taken some)."""
    for layer in layers:
        if layer in viewer.layers:
            viewer.layers.remove(layer)


def _remove_together(viewer: Any, layers: list[Any]) -> None:
    """:func:`_remove_from` as one batch: napari cleans its scene graph once, not per layer."""
    with viewer.layers.batched_update():
        _remove_from(viewer, layers)


def _opened_from_file(layer: Any) -> bool:
    """An image opened to be annotated (by a reader, a sample or the queue), not one a dock
    adds beside it."""
    return source_of(layer) is not None or layer.source.path is not None


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
        self.proposals = ProposalCache()
        #: Decided images waiting for a dataset folder, by pixels' sha256.
        self.unsaved: dict[str, Unsaved] = {}
        self.settings = Settings.load()
        self.biometry = BiometryPanel()
        self.loop = LoopControls()
        layout = self.content_layout
        layout.insertWidget(layout.indexOf(self.plane_label) + 1, self.biometry)
        layout.insertWidget(layout.indexOf(self.propose_button), self.loop)
        self.model_picker.set_from(self.settings)
        self.annotator_edit.setText(self.settings.annotator or "")
        self._connect()
        bind_review_keys(napari_viewer, self)
        self.cine = CinePanel(self)
        layout.addWidget(self.cine)
        self.prompting = PromptSection(self, self.label_combo.currentText)
        layout.addWidget(self.prompting)
        guard_wheel(self)
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
            (self.loop.open_button, self.choose_sequence),
            (self.loop.nothing_button, self.nothing_to_label),
        ):
            button.clicked.connect(_ignoring_args(slot))
            # the keys work right after a click: they reach the canvas, not the button
            button.clicked.connect(_ignoring_args(self.focus_canvas))
        self.loop.auto_propose.toggled.connect(lambda _: self._auto_propose())
        self.label_combo.currentTextChanged.connect(self._on_default_label)
        self.biometry.spacing_changed.connect(lambda _: self._guarded(self._on_spacing_changed))
        self.dataset_edit.editingFinished.connect(self._on_dataset_edited)
        self.annotator_edit.editingFinished.connect(self._remember_settings)
        self.model_picker.model_changed.connect(self._on_model_changed)
        self.model_picker.phases_changed.connect(self._remember_settings)

    # -- feedback ----------------------------------------------------------------------------

    def focus_canvas(self) -> None:
        """Give the keyboard to napari's window, which hands keys to the canvas's keymaps (a
        focused button or scroll area in the dock would take Shift+arrows for itself)."""
        window = self.window()
        if window is not None:
            window.setFocus()

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
        self.status.setText(f"Model ready: {backend.describe()}")

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

    def propose(self, layer: Image | None = None) -> None:
        """Propose for ``layer`` (default: the active image) in a worker thread."""
        if self.job is not None:
            return
        target = layer if layer is not None else self.image_layer()
        if target is None:
            self.status.setText("Open an image first.")
            return
        if self.backend is None:
            # once loaded: the active image (Propose pressed), else the image in view by then
            # (proposing on each image, the person may have moved on meanwhile)
            self.load_selected_backend(then=self.propose if layer is None else self._auto_propose)
            return
        # napari may hand plugins proxies of its objects: compare layers with ==, not `is`
        if self.image is None or self.image.layer != target:
            self._guarded(lambda: self.show_image(target))
        if self.image is None or self.job is not None:  # showing it may have proposed
            return
        request = self._request()
        self.progress.setValue(0)
        self.propose_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Proposing with {self.backend.model_id}...")
        self.job = start_propose(
            self.backend,
            self.image.pixels,
            request,
            self._on_progress,
            partial(self._on_proposed, self._cache_key(request)),
            self._on_propose_failed,
        )

    def _request(self) -> ProposeRequest:
        return ProposeRequest(
            phases=self.model_picker.phases(),
            structures=self.structures.structures(),
            pixel_spacing_mm=self.biometry.pixel_spacing_mm(),
        )

    def _cache_key(self, request: ProposeRequest) -> CacheKey | None:
        """The key of the image in view's proposal for ``request`` by the loaded model."""
        if self.record is None or self.backend is None:
            return None
        return cache_key(self.record.sha256, self.backend.model_id, request)

    def _auto_propose(self) -> None:
        """Propose for the image in view when asked to for every image and it has nothing."""
        # the image under review, not the active layer: napari makes a new layer active only
        # after telling its insertion
        image = self.image
        if not self.loop.auto_propose.isChecked() or image is None:
            return
        if self.session is not None or self.job is not None:
            return
        key = self._cache_key(self._request())
        cached = self.proposals.get(key) if key is not None else None
        if cached is not None:
            self._show_proposal(cached)
        else:
            self.propose(image.layer)

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

    def _on_proposed(self, key: CacheKey | None, proposal: Proposal) -> None:
        cancelled = self.job is not None and self.job.token.cancelled
        self._finish_job()
        if key is not None:
            self.proposals.put(key, proposal)
        if cancelled or self.record is None or (key is not None and key[0] != self.record.sha256):
            # finished although cancelled, or the person moved on: what is in view counts
            if cancelled and self.session is None:
                self.status.setText("Cancelled: nothing was added.")
            self._auto_propose()
            return
        self.progress.setValue(100)
        if self.session is not None:
            proposal = _keep_decisions(self.session.to_proposal(self.annotator), proposal)
        self._show_proposal(proposal)
        count = len(proposal.annotations)
        self.status.setText(
            f"{count} proposal{'' if count == 1 else 's'} from {proposal.model.model_id}"
        )

    def _on_propose_failed(self, error: BaseException) -> None:
        self._finish_job()
        self.progress.setValue(0)
        if isinstance(error, Cancelled):
            self.status.setText("Cancelled: nothing was added.")
            self._auto_propose()  # cancelled because the person moved on
        else:
            self.report_error(error)

    # -- showing -----------------------------------------------------------------------------

    @property
    def annotator(self) -> str | None:
        return self.annotator_edit.text().strip() or None

    def show_image(self, layer: Image) -> None:
        """Make ``layer`` (its current frame) the image under review, with its saved labels,
        else the decisions kept for it, else the model's proposal computed before (or now,
        when proposing on each image)."""
        self._clear_session()
        if self.job is not None:
            self.job.cancel()  # its answer is cached for the image it was asked for
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
        self.plane_combo.setCurrentIndex(-1)
        self.structures.clear_route()
        self.interpretation.clear()
        self.issues.clear()
        self.raw_answers.clear()
        self.biometry.set_pixel_spacing(self.image.pixel_spacing_mm)
        self.biometry.show_biometry({}, "")
        saved = self._saved(self.record)
        kept = self.unsaved.get(self.record.sha256)
        cached = self.proposals.get(key) if (key := self._cache_key(self._request())) else None
        if saved is not None:
            self.record, proposal = saved
            self._show_proposal(proposal)
            self.status.setText(f"Loaded saved labels of {self.record.image_id}")
        elif kept is not None:
            self.record = kept.record
            self._show_proposal(kept.proposal)
            self.status.setText(f"Decisions on {self.record.image_id}, not saved yet")
        elif cached is not None:
            self._show_proposal(cached)
            self.status.setText(f"Proposals from {cached.model.model_id} (computed before)")
        elif (streamed := self.cine.proposal_for(self.image)) is not None:
            self._show_proposal(streamed)
        else:
            self._auto_propose()

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
            routing = self.backend.route if self.backend is not None else route
            self.structures.show_route(
                routing(plane.label if plane else None, proposal.interpretation)
            )
        else:
            self.structures.clear_route()
        interpretation = proposal.interpretation
        self.interpretation.setPlainText(
            json.dumps(interpretation, indent=1) if interpretation else ""
        )
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

    def _end_session(self) -> list[Any]:
        """Stop reviewing the shown layers; returns them (still in the viewer)."""
        if self.session is None:
            return []
        self.session.disconnect()
        layers = list(self.session.layers.all())
        self.session = None
        return layers

    def _remove_layers(self) -> None:
        _remove_from(self.viewer, self._end_session())

    def _save_if_decided(self) -> None:
        """Save the image under review if a person decided anything on it (whatever the
        autosave setting, so that moving on never loses work); an image only looked at leaves
        nothing behind."""
        if self.session is not None and self.session.to_proposal().is_decided():
            self.save()

    def _clear_session(self) -> None:
        """Leave the image under review: save what was decided, take its layers away."""
        self._save_if_decided()
        self.prompting.controller.new_object()
        self._remove_layers()

    def _on_layer_inserted(self, event: Any) -> None:
        """A new image is shown for review; one opened from a file replaces the one before,
        with its layers, and the view fits the new image."""
        layer = event.value
        if not isinstance(layer, Image):
            return
        previous = self.image.layer if self.image is not None else None
        replaces = previous is not None and previous != layer and _opened_from_file(layer)
        # napari cleans its scene graph (a full garbage collection, 0.5 s with a model loaded)
        # after each removal, or once after a batch of them
        with self.viewer.layers.batched_update():
            self._guarded(lambda: self.show_image(layer))
            if replaces and _opened_from_file(previous):
                _remove_from(self.viewer, [previous])
        if replaces:
            self.viewer.reset_view()

    def _on_layer_removed(self, event: Any) -> None:
        """Closing the image under review saves its decisions and takes their layers away:
        after the removal in progress, which may be taking some of them too."""
        if self.image is not None and event.value == self.image.layer:
            self._guarded(self._save_if_decided)
            if self.job is not None:
                self.job.cancel()
            QTimer.singleShot(0, partial(_remove_together, self.viewer, self._end_session()))
            self.image = None
            self.record = None

    def _on_step(self, event: Any) -> None:
        if self.image is None or not is_stack(self.image.layer):
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
        before = (self.session.plane, self.session.decision)
        changed = decision(self.session)
        moved = before != (self.session.plane, self.session.decision)
        if moved:
            self._show_plane()
        if (changed or moved) and self.autosave.isChecked():
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

    def nothing_to_label(self) -> None:
        """Mark the image "looked at, nothing to label": saved as a true negative. An image
        without proposals yet needs none (a proposal still running is cancelled)."""
        if self.image is None or self.record is None:
            self.status.setText("Open an image first.")
            return
        if self.session is None:
            if self.job is not None:
                self.job.cancel()
            self._show_proposal(Proposal(width=self.record.width, height=self.record.height))
        assert self.session is not None
        if not self.session.nothing_to_label():
            self.status.setText("Some annotations are kept: reject them to mark nothing to label.")
            return
        self._show_plane()
        self._show_biometry()
        if self.autosave.isChecked():
            self.save()

    def apply_label(self) -> list[str]:
        return self._decide(lambda s: s.set_label(self.label_combo.currentText()))

    def set_plane(self) -> None:
        """Confirm or correct the plane class with the one chosen in the combo box."""
        if self.session is None:
            return
        if not self.plane_combo.currentText():
            self.status.setText("Choose the plane class first.")
            return
        self.session.set_plane(self.plane_combo.currentText())
        self._show_plane()
        if self.autosave.isChecked():
            self.save()

    def _show_plane(self) -> None:
        """The reviewed plane call with its status, and the image's decision if one was taken."""
        if self.session is None:
            return
        plane, decision = self.session.plane, self.session.decision
        text = f"Plane: {plane.label} ({plane.status})" if plane else "Plane: -"
        if decision == "nothing_to_label":
            text += "; nothing to label"
        self.plane_label.setText(text)

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
        self._guarded(self._save_unsaved)
        layer = self.image_layer()
        if layer is not None and self.session is None:
            self._guarded(lambda: self.show_image(layer))

    def save(self) -> bool:
        """Write the current image's decisions to the dataset (without one, keep them until one
        is chosen); False when nothing was written. An image with no decision is not saved."""
        if self.session is None or self.image is None or self.record is None:
            return False
        proposal = self.session.to_proposal(self.annotator)
        if not proposal.is_decided():
            self.status.setText("Nothing to save: accept, reject or mark it nothing to label.")
            return False
        # Only what a person confirmed is saved as measurements.
        proposal.biometry = reviewed_head_biometry(
            proposal.annotations, proposal.width, proposal.height, self.record.pixel_spacing_mm
        )
        if self.dataset is None:
            self.unsaved[self.record.sha256] = Unsaved(self.record, self.image.pixels, proposal)
            self.status.setText(
                f"{len(self.unsaved)} decided image(s) kept: choose a dataset folder to save them."
            )
            return False
        try:
            self.record = self.dataset.save(self.record, self.image.pixels, proposal)
        except FadaError as error:
            self.report_error(error)
            return False
        self.unsaved.pop(self.record.sha256, None)
        self.status.setText(f"Saved {self.record.image_id}")
        return True

    def _save_unsaved(self) -> None:
        """Write the decisions taken before a dataset folder was chosen into it."""
        assert self.dataset is not None
        for sha256, kept in list(self.unsaved.items()):
            saved = self.dataset.save(kept.record, kept.pixels, kept.proposal)
            del self.unsaved[sha256]
            if self.record is not None and self.record.sha256 == sha256:
                self.record = saved

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

    def choose_sequence(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images, or a dataset")
        if folder:
            self.open_sequence(folder)

    def open_sequence(self, folder: str | Path) -> None:
        """Show the images of ``folder`` one at a time, proposing on each as it is shown. A
        saved dataset's images are shown with their labels, and decisions are saved into it."""
        folder = Path(folder)
        if is_saved_dataset(folder):
            self.open_dataset(folder)
            folder = folder / "images"
        if self._guarded(lambda: open_sequence(self.viewer, folder)) is not None:
            self.loop.auto_propose.setChecked(True)
        self.focus_canvas()

    def _step(self, delta: int) -> None:
        """Step along the stack (the frame change shows the frame) or the folder collection
        (the new layer's insertion shows it)."""
        layer = self.image.layer if self.image else self.image_layer()
        if layer is None:
            return
        if self._guarded(lambda: step_image(self.viewer, layer, delta)) is None:
            show_info("No further image in that direction.")
