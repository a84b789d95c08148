"""The annotator's model and its proposals: loading the chosen model, proposing for the image in
view in a worker thread (on every image as it is shown, when asked to), the cache of proposals
computed before, and a fresh proposal merged with what a person already decided.

It works on the state of the :class:`~napari_fada._napari.annotator.widget.AnnotatorWidget` it
belongs to (its ``backend``, ``loader``, ``job`` and ``proposals``), as the cine panel does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from napari.layers import Image

from napari_fada._napari.annotator.memory import CacheKey, cache_key
from napari_fada._napari.widgets.propose_worker import start_load, start_propose
from napari_fada.core.geometry import box_iou
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.errors import Cancelled
from napari_fada.models.base import Backend, ProposeRequest

if TYPE_CHECKING:
    from napari_fada._napari.annotator.widget import AnnotatorWidget

#: A new proposal overlapping a decided annotation of its label this much repeats it.
_REPEAT_IOU = 0.9


def keep_decisions(previous: Proposal, fresh: Proposal) -> Proposal:
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


class Proposer:
    """Loads the widget's model and proposes with it."""

    def __init__(self, widget: AnnotatorWidget) -> None:
        self.widget = widget

    # -- model -------------------------------------------------------------------------------

    def set_backend(self, backend: Backend) -> None:
        widget = self.widget
        widget.backend = backend
        # A model with planes of its own (the embedded one) can only learn those: offer them first.
        for index, plane in enumerate(getattr(backend, "planes", ())):
            if widget.plane_combo.findText(plane) < 0:
                widget.plane_combo.insertItem(index, plane)
        widget.status.setText(f"Model ready: {backend.describe()}")

    def load_selected_backend(self, then: Callable[[], Any] | None = None) -> None:
        """Load the chosen model in a thread, then run ``then`` (e.g. the pending Propose)."""
        widget = self.widget
        if widget.loader is not None:
            return
        name = widget.model_picker.backend()
        widget.model_picker.write_to(widget.settings)
        arguments = widget.guarded(lambda: widget.settings.backend_arguments(name))
        if arguments is None:
            return
        widget.status.setText(f"Loading model {name}...")

        def loaded(backend: Backend) -> None:
            widget.loader = None
            self.set_backend(backend)
            widget.remember_settings()
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            widget.loader = None
            widget.report_error(error)

        widget.loader = start_load(name, arguments, loaded, failed)

    def on_model_changed(self) -> None:
        """Another backend, file or thread count: the next Load or Propose loads it."""
        self.widget.backend = None
        self.widget.remember_settings()

    # -- proposing ---------------------------------------------------------------------------

    def propose(self, layer: Image | None = None) -> None:
        """Propose for ``layer`` (default: the active image) in a worker thread."""
        widget = self.widget
        if widget.job is not None:
            return
        target = layer if layer is not None else widget.image_layer()
        if target is None:
            widget.status.setText("Open an image first.")
            return
        if widget.backend is None:
            # once loaded: the active image (Propose pressed), else the image in view by then
            # (proposing on each image, the person may have moved on meanwhile)
            self.load_selected_backend(then=self.propose if layer is None else self.auto_propose)
            return
        # napari may hand plugins proxies of its objects: compare layers with ==, not `is`
        if widget.image is None or widget.image.layer != target:
            widget.guarded(lambda: widget.show_image(target))
        if widget.image is None or widget.job is not None:  # showing it may have proposed
            return
        request = self._request()
        widget.progress.setValue(0)
        widget.propose_button.setEnabled(False)
        widget.cancel_button.setEnabled(True)
        widget.status.setText(f"Proposing with {widget.backend.model_id}...")
        widget.job = start_propose(
            widget.backend,
            widget.image.pixels,
            request,
            self._on_progress,
            partial(self._on_proposed, self._cache_key(request)),
            self._on_propose_failed,
        )

    def _request(self) -> ProposeRequest:
        widget = self.widget
        return ProposeRequest(
            phases=widget.model_picker.phases(),
            structures=widget.structures.structures(),
            pixel_spacing_mm=widget.biometry.pixel_spacing_mm(),
        )

    def _cache_key(self, request: ProposeRequest) -> CacheKey | None:
        """The key of the image in view's proposal for ``request`` by the loaded model."""
        widget = self.widget
        if widget.record is None or widget.backend is None:
            return None
        return cache_key(widget.record.sha256, widget.backend.model_id, request)

    def cached(self) -> Proposal | None:
        """The loaded model's proposal for the image in view, if it was computed before."""
        key = self._cache_key(self._request())
        return self.widget.proposals.get(key) if key is not None else None

    def auto_propose(self) -> None:
        """Propose for the image in view when asked to for every image and it has nothing."""
        widget = self.widget
        # the image under review, not the active layer: napari makes a new layer active only
        # after telling its insertion
        image = widget.image
        if not widget.loop.auto_propose.isChecked() or image is None:
            return
        if widget.session is not None or widget.job is not None:
            return
        cached = self.cached()
        if cached is not None:
            widget.show_proposal(cached)
        else:
            self.propose(image.layer)

    def cancel(self) -> None:
        if self.widget.job is not None:
            self.widget.job.cancel()
            self.widget.status.setText("Cancelling...")

    def _finish_job(self) -> None:
        widget = self.widget
        widget.job = None
        widget.propose_button.setEnabled(True)
        widget.cancel_button.setEnabled(False)

    def _on_progress(self, message: str, fraction: float) -> None:
        self.widget.progress.setValue(round(100 * fraction))
        self.widget.status.setText(message)

    def _on_proposed(self, key: CacheKey | None, proposal: Proposal) -> None:
        widget = self.widget
        cancelled = widget.job is not None and widget.job.token.cancelled
        self._finish_job()
        if key is not None:
            widget.proposals.put(key, proposal)
        record = widget.record
        if cancelled or record is None or (key is not None and key[0] != record.sha256):
            # finished although cancelled, or the person moved on: what is in view counts
            if cancelled and widget.session is None:
                widget.status.setText("Cancelled: nothing was added.")
            self.auto_propose()
            return
        widget.progress.setValue(100)
        if widget.session is not None:
            proposal = keep_decisions(widget.session.to_proposal(widget.annotator), proposal)
        widget.show_proposal(proposal)
        count = len(proposal.annotations)
        widget.status.setText(
            f"{count} proposal{'' if count == 1 else 's'} from {proposal.model.model_id}"
        )

    def _on_propose_failed(self, error: BaseException) -> None:
        self._finish_job()
        self.widget.progress.setValue(0)
        if isinstance(error, Cancelled):
            self.widget.status.setText("Cancelled: nothing was added.")
            self.auto_propose()  # cancelled because the person moved on
        else:
            self.widget.report_error(error)
