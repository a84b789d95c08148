"""The FADA annotator dock widget: propose, review, save and step through images.

The widget holds the workflow's state and shows the image under review; the model and its
proposals (:mod:`.proposing`), saving decisions (:mod:`.saving`) and the loop over images
(:mod:`.image_loop`) are parts of their own working on it. The layers
(:mod:`~napari_fada._napari.widgets.proposal_layers`) and the review state
(:mod:`.review_session`) hold the annotations. Every user-facing failure is a FadaError shown in
the widget and as a napari notification; napari itself never sees a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from napari.layers import Image
from napari.qt.threading import FunctionWorker
from napari.utils.notifications import show_error

from napari_fada._napari.annotator.biometry_panel import BiometryPanel
from napari_fada._napari.annotator.image_loop import ImageLoop, remove_from
from napari_fada._napari.annotator.loop_panel import LoopControls
from napari_fada._napari.annotator.memory import ProposalCache, Unsaved
from napari_fada._napari.annotator.panel import AnnotatorPanel
from napari_fada._napari.annotator.proposing import Proposer
from napari_fada._napari.annotator.review_keys import bind_review_keys, unbind_review_keys
from napari_fada._napari.annotator.review_session import ReviewSession
from napari_fada._napari.annotator.saving import DecisionSaver
from napari_fada._napari.cine.panel import CinePanel
from napari_fada._napari.hooks.image_source import CurrentImage, current_image
from napari_fada._napari.prompting.section import PromptSection
from napari_fada._napari.widgets.proposal_layers import add_proposal_layers
from napari_fada._napari.widgets.propose_worker import ProposeJob
from napari_fada._napari.widgets.wheel_guard import guard_wheel
from napari_fada.core.biometry import KEPT, reviewed_head_biometry
from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.core.vocabulary import route
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.errors import FadaError
from napari_fada.models.base import Backend
from napari_fada.models.registry import available_backends
from napari_fada.settings import Settings


def _ignoring_args(slot: Callable[[], Any]) -> Callable[..., None]:
    """A Qt slot for ``clicked(bool)`` that calls ``slot()``."""

    def call(*_: Any) -> None:
        slot()

    return call


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
        self.proposer = Proposer(self)
        self.saver = DecisionSaver(self)
        self.image_loop = ImageLoop(self)
        self._connect()
        bind_review_keys(napari_viewer, self)
        self.cine = CinePanel(self)
        layout.addWidget(self.cine)
        self.prompting = PromptSection(self, self.label_combo.currentText)
        layout.addWidget(self.prompting)
        guard_wheel(self)
        if self.settings.dataset_dir and Path(self.settings.dataset_dir).is_dir():
            self.open_dataset(self.settings.dataset_dir)
        self.image_loop.follow_viewer()
        # the widget is gone: its keys must not outlive it
        self.destroyed.connect(lambda *_: unbind_review_keys(napari_viewer))

    def _connect(self) -> None:
        for button, slot in (
            (self.load_button, self.load_selected_backend),
            (self.set_plane_button, self.set_plane),
            (self.choose_button, self.saver.choose_dataset),
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
            (self.loop.open_button, self.image_loop.choose_sequence),
            (self.loop.nothing_button, self.nothing_to_label),
        ):
            button.clicked.connect(_ignoring_args(slot))
            # the keys work right after a click: they reach the canvas, not the button
            button.clicked.connect(_ignoring_args(self.focus_canvas))
        self.loop.auto_propose.toggled.connect(lambda _: self.proposer.auto_propose())
        self.label_combo.currentTextChanged.connect(self._on_default_label)
        self.biometry.spacing_changed.connect(lambda _: self.guarded(self._on_spacing_changed))
        self.dataset_edit.editingFinished.connect(self.saver.on_dataset_edited)
        self.annotator_edit.editingFinished.connect(self.remember_settings)
        self.model_picker.model_changed.connect(self.proposer.on_model_changed)
        self.model_picker.phases_changed.connect(self.remember_settings)

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

    def guarded(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except FadaError as error:
            self.report_error(error)
            return None

    # -- model and proposing (:mod:`.proposing`) ---------------------------------------------

    def set_backend(self, backend: Backend) -> None:
        self.proposer.set_backend(backend)

    def load_selected_backend(self, then: Callable[[], Any] | None = None) -> None:
        """Load the chosen model in a thread, then run ``then`` (e.g. the pending Propose)."""
        self.proposer.load_selected_backend(then)

    def propose(self, layer: Image | None = None) -> None:
        """Propose for ``layer`` (default: the active image) in a worker thread."""
        self.proposer.propose(layer)

    def cancel(self) -> None:
        self.proposer.cancel()

    def image_layer(self) -> Image | None:
        """The active Image layer, else the most recently added one."""
        active = self.viewer.layers.selection.active
        if isinstance(active, Image):
            return active
        images = [layer for layer in self.viewer.layers if isinstance(layer, Image)]
        return images[-1] if images else None

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
        saved = self.saver.saved(self.record)
        kept = self.unsaved.get(self.record.sha256)
        cached = self.proposer.cached()
        if saved is not None:
            self.record, proposal = saved
            self.show_proposal(proposal)
            self.status.setText(f"Loaded saved labels of {self.record.image_id}")
        elif kept is not None:
            self.record = kept.record
            self.show_proposal(kept.proposal)
            self.status.setText(f"Decisions on {self.record.image_id}, not saved yet")
        elif cached is not None:
            self.show_proposal(cached)
            self.status.setText(f"Proposals from {cached.model.model_id} (computed before)")
        elif (streamed := self.cine.proposal_for(self.image)) is not None:
            self.show_proposal(streamed)
        else:
            self.proposer.auto_propose()

    def show_proposal(self, proposal: Proposal) -> None:
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
            self.show_proposal(Proposal(width=width, height=height))

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

    def end_session(self) -> list[Any]:
        """Stop reviewing the shown layers; returns them (still in the viewer)."""
        if self.session is None:
            return []
        self.session.disconnect()
        layers = list(self.session.layers.all())
        self.session = None
        return layers

    def _remove_layers(self) -> None:
        remove_from(self.viewer, self.end_session())

    def _clear_session(self) -> None:
        """Leave the image under review: save what was decided, take its layers away."""
        self.saver.save_if_decided()
        self.prompting.controller.new_object()
        self._remove_layers()

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
            self.show_proposal(Proposal(width=self.record.width, height=self.record.height))
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

    # -- dataset (:mod:`.saving`) ------------------------------------------------------------

    def open_dataset(self, folder: str | Path) -> None:
        self.saver.open_dataset(folder)

    def save(self) -> bool:
        """Save the decisions on the image under review (:meth:`.DecisionSaver.save`)."""
        return self.saver.save()

    def remember_settings(self) -> None:
        """Keep the model, dataset folder and annotator for the next napari session."""
        self.model_picker.write_to(self.settings)
        self.settings.dataset_dir = str(self.dataset.root) if self.dataset else None
        self.settings.annotator = self.annotator
        self.settings.save()

    # -- navigation (:mod:`.image_loop`) -----------------------------------------------------

    def next_image(self) -> None:
        self.image_loop.step(1)

    def previous_image(self) -> None:
        self.image_loop.step(-1)

    def open_sequence(self, folder: str | Path) -> None:
        """Show the images of ``folder`` one at a time (:meth:`.ImageLoop.open_sequence`)."""
        self.image_loop.open_sequence(folder)
