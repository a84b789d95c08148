"""The annotator's "Cine" section: propose all frames, accept frames, carry forward, best frames.

It works on the stack under review in the
:class:`~napari_fada._napari.annotator.widget.AnnotatorWidget` it is part of: proposals stream into
a per-clip store (:mod:`napari_fada.core.clip_proposals`) and an overview layer; the frame in view
is reviewed in the widget's layers as any image is; accepted frames are saved one image per frame
with their frame index and clip id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Shapes
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QListWidgetItem

from napari_fada._napari.cine.controls import CineControls
from napari_fada._napari.cine.overview import add_overview_layer, show_frame
from napari_fada._napari.cine.worker import CineJob, FrameResult, start_cine
from napari_fada._napari.hooks.image_source import CurrentImage, current_image, is_stack
from napari_fada._napari.hooks.source import source_of
from napari_fada.core.biometry import reviewed_head_biometry
from napari_fada.core.clip_proposals import ClipProposals, accepted
from napari_fada.core.proposal import Proposal
from napari_fada.core.temporal import carry_forward, image_quality, with_carried
from napari_fada.data.dataset import make_record
from napari_fada.errors import Cancelled, FadaError
from napari_fada.models.base import ProposeRequest

if TYPE_CHECKING:
    from napari_fada._napari.annotator.widget import AnnotatorWidget

#: key -> (panel method, what it does); none is bound by napari or the review keys
CINE_KEYS: dict[str, tuple[str, str]] = {
    "Shift+B": ("next_best", "go to the next of the best frames"),
    "Control+Shift+B": ("previous_best", "go to the previous of the best frames"),
}

BEST_SHOWN = 10


def _clicked(slot: Callable[[], Any]) -> Callable[..., None]:
    return lambda *_: slot()


class CinePanel(CineControls):
    """Clip-wide proposing and review for the annotator widget's stack."""

    def __init__(self, widget: AnnotatorWidget) -> None:
        super().__init__(", ".join(f"{key}: {what}" for key, (_, what) in CINE_KEYS.items()))
        self.widget = widget
        self.viewer = widget.viewer
        self.layer: Image | None = None
        self.clip: ClipProposals | None = None
        self.overview: Shapes | None = None
        self.job: CineJob | None = None
        self.best: list[int] = []
        self._best_position = -1
        #: seconds each frame of the last run took to read and propose
        self.frame_seconds: list[float] = []
        self._connect()
        viewer, on_step = self.viewer, self._on_step
        for key, (method, _) in CINE_KEYS.items():
            viewer.bind_key(key, lambda _v, m=method: getattr(self, m)(), overwrite=True)
        viewer.dims.events.current_step.connect(on_step)
        on_inserted = self._on_layer_inserted
        viewer.layers.events.inserted.connect(on_inserted)

        def detach() -> None:
            """The panel is gone: no key or viewer callback may reach it any more."""
            if self.job is not None:
                self.job.cancel()
            for key in CINE_KEYS:
                viewer.bind_key(key, None)
            viewer.dims.events.current_step.disconnect(on_step)
            viewer.layers.events.inserted.disconnect(on_inserted)

        self.destroyed.connect(detach)

    def _connect(self) -> None:
        for button, slot in (
            (self.propose_button, self.propose_all),
            (self.cancel_button, self.cancel),
            (self.accept_frame_button, self.accept_frame),
            (self.accept_all_button, self.accept_all_frames),
            (self.accept_range_button, self.accept_range),
            (self.carry_button, self.carry),
            (self.best_button, self.go_to_best),
        ):
            button.clicked.connect(_clicked(slot))
        self.smooth_frames.valueChanged.connect(self._on_window)
        self.best_plane.currentTextChanged.connect(lambda _: self.refresh_best())
        self.best_list.itemActivated.connect(self._on_best_activated)

    # -- the clip ----------------------------------------------------------------------------

    def _on_layer_inserted(self, event: Any) -> None:
        """A clip opened: the folded Cine section opens for it."""
        if isinstance(event.value, Image) and is_stack(event.value) and not self.isExpanded():
            self.expand(animate=False)

    def _stack_layer(self) -> Image | None:
        layer = self.widget.image_layer()
        if layer is None or not is_stack(layer):
            self.status.setText(
                "Open a cine clip first: a multi-frame DICOM, a video, a TIFF stack or a folder "
                "of same-size frames."
            )
            return None
        return layer

    def _bind(self, layer: Image) -> ClipProposals:
        """The store of ``layer``'s clip, starting a new one (and overview) for a new clip."""
        if self.clip is not None and self.layer == layer:
            return self.clip
        if self.overview is not None and self.overview in self.viewer.layers:
            self.viewer.layers.remove(self.overview)
        n_frames = int(layer.data.shape[0])
        self.layer = layer
        source = source_of(layer)
        clip_id = source.clip_id if source else None
        self.clip = ClipProposals(clip_id, n_frames, self.smooth_frames.value())
        self.overview = add_overview_layer(self.viewer, layer, layer.name)
        self.viewer.layers.selection.active = layer
        for spin in (self.range_from, self.range_to):
            spin.setRange(0, n_frames - 1)
        self.range_to.setValue(n_frames - 1)
        self.best, self._best_position = [], -1
        return self.clip

    def proposal_for(self, image: CurrentImage) -> Proposal | None:
        """The streamed or carried proposal of the frame ``image`` shows, if there is one."""
        if self.clip is None or image.layer != self.layer or image.frame_index is None:
            return None
        return self.clip.proposal(image.frame_index)

    def _frame(self, frame: int) -> CurrentImage:
        assert self.layer is not None
        return current_image(self.viewer, self.layer, frame)

    def _frame_in_view(self) -> int | None:
        image = self.widget.image
        if image is None or self.layer is None or image.layer != self.layer:
            return None
        return image.frame_index

    # -- proposing ---------------------------------------------------------------------------

    def propose_all(self) -> None:
        """Propose every frame still without a proposal (a cancelled run resumes)."""
        if self.job is not None or self.widget.job is not None:
            return
        layer = self._stack_layer()
        if layer is None:
            return
        backend = self.widget.backend
        if backend is None:
            self.widget.load_selected_backend(then=self.propose_all)
            return
        clip = self._bind(layer)
        frames = clip.missing()
        if not frames:
            self.status.setText(f"All {clip.n_frames} frames have proposals.")
            return
        request = ProposeRequest(
            phases=self.widget.model_picker.phases(),
            structures=self.widget.structures.structures(),
            pixel_spacing_mm=self.widget.biometry.pixel_spacing_mm(),
        )
        self.frame_seconds = []
        self.progress.setRange(0, clip.n_frames)
        self.progress.setValue(len(clip))
        self._set_running(True)
        self.status.setText(f"Proposing {len(frames)} frames with {backend.model_id}...")
        self.job = start_cine(
            backend, layer.data, frames, request, self._on_frame, self._on_finished, self._on_error
        )

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling: no further frame starts...")

    def _set_running(self, running: bool) -> None:
        self.propose_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.widget.propose_button.setEnabled(not running)

    def _on_frame(self, result: FrameResult) -> None:
        if self.clip is None or self.overview is None:
            return
        self.clip.put(result.frame, result.proposal, result.quality)
        self.frame_seconds.append(result.seconds)
        show_frame(self.overview, result.frame, result.proposal)
        self.progress.setValue(len(self.clip))
        if result.frame == self._frame_in_view() and self.widget.session is None:
            self.widget.show_proposal(self.clip.proposal(result.frame) or result.proposal)
        self.refresh_best()
        self._show_plane_over_time()

    def _on_finished(self) -> None:
        self.job = None
        self._set_running(False)
        if self.clip is None:
            return
        done, total = len(self.clip), self.clip.n_frames
        rate = f", {np.mean(self.frame_seconds):.2f} s per frame" if self.frame_seconds else ""
        ended = "All frames proposed" if done == total else "Stopped"
        self.status.setText(f"{ended}: {done} of {total} frames have proposals{rate}.")

    def _on_error(self, error: BaseException) -> None:
        if not isinstance(error, Cancelled):
            self.widget.report_error(error)

    # -- decisions ---------------------------------------------------------------------------

    def accept_frame(self) -> None:
        frame = self._frame_in_view()
        if frame is not None:
            self.accept_frames([frame])

    def accept_range(self) -> None:
        low, high = sorted((self.range_from.value(), self.range_to.value()))
        self.accept_frames(range(low, high + 1))

    def accept_all_frames(self) -> None:
        if self.clip is not None:
            self.accept_frames(range(self.clip.n_frames))

    def accept_frames(self, frames: Iterable[int]) -> list[int]:
        """Accept what is still proposed on ``frames`` and save each as one image of the clip.

        A frame's saved labels are its starting point when it has some, else its streamed or
        carried proposal; frames with neither are left alone. Returns the frames saved.
        """
        dataset = self.widget.dataset
        if self.clip is None or self.layer is None:
            return []
        if dataset is None:
            self.status.setText("Choose a dataset folder first: accepted frames are saved there.")
            return []
        in_view, saved = self._frame_in_view(), []
        for frame in frames:
            if frame == in_view and self.widget.session is not None:
                self.widget.accept_all()
                if self.widget.save():
                    saved.append(frame)
            elif self._guarded(partial(self._accept_elsewhere, frame)):
                saved.append(frame)
        self.status.setText(f"Accepted and saved {len(saved)} frame(s) of {self.layer.name}.")
        return saved

    def _accept_elsewhere(self, frame: int) -> bool:
        """Accept and save a frame not under review; False when it has nothing to accept."""
        assert self.clip is not None and self.layer is not None and self.widget.dataset
        dataset, image = self.widget.dataset, self._frame(frame)
        record = make_record(
            image.pixels,
            image.source_path,
            pixel_spacing_mm=image.pixel_spacing_mm,
            clip_id=image.clip_id,
            frame_index=frame,
            name=self.layer.name,
        )
        found = dataset.find_by_sha256(record.sha256)
        loaded = dataset.load(found.image_id) if found is not None else None
        if loaded is not None:
            record, proposal = loaded
        else:
            streamed = self.clip.proposal(frame)
            if streamed is None:
                return False
            proposal = streamed
        proposal = accepted(proposal, self.widget.annotator)
        # measurements saved are those of the confirmed head, as when saving a reviewed image
        proposal.biometry = reviewed_head_biometry(
            proposal.annotations, proposal.width, proposal.height, record.pixel_spacing_mm
        )
        dataset.save(record, image.pixels, proposal)
        if self.overview is not None:
            show_frame(self.overview, frame, proposal)
        return True

    def _guarded(self, action: Callable[[], bool]) -> bool:
        try:
            return action()
        except FadaError as error:
            self.widget.report_error(error)
            return False

    # -- temporal help -----------------------------------------------------------------------

    def carry(self) -> list[int]:
        """Carry the frame's accepted or edited outlines to the next frames as proposals."""
        session, frame = self.widget.session, self._frame_in_view()
        if session is None or frame is None or self.layer is None or self.clip is None:
            self.status.setText("Review a frame of the clip first.")
            return []
        kept = [
            a
            for a in session.to_proposal(self.widget.annotator).kept()
            if a.box is not None or a.polygon
        ]
        if not kept:
            self.status.setText("Accept or edit an outline on this frame first, then carry it.")
            return []
        last = min(frame + self.carry_frames.value(), self.clip.n_frames - 1)
        targets = list(range(frame + 1, last + 1))
        pixels = [self._frame(f).pixels for f in [frame, *targets]]
        carried = carry_forward(kept, frame, pixels, track=self.follow_motion.isChecked())
        height, width = pixels[0].shape[:2]
        for target, moved, frame_pixels in zip(targets, carried, pixels[1:], strict=True):
            proposal = with_carried(self.clip.raw(target), moved, width, height)
            self.clip.put(target, proposal, image_quality(frame_pixels))
            if self.overview is not None:
                show_frame(self.overview, target, proposal)
        self.status.setText(
            f"Carried {len(kept)} outline(s) to frames {targets[0]}-{targets[-1]} as proposals."
            if targets
            else "This is the last frame: nothing to carry to."
        )
        self.refresh_best()
        return targets

    def _on_window(self, window: int) -> None:
        if self.clip is not None:
            self.clip.set_window(window)
            self.refresh_best()
            self._show_plane_over_time()

    def _on_step(self, _event: Any = None) -> None:
        self._show_plane_over_time()

    def _show_plane_over_time(self) -> None:
        """The plane calls of the frame the slider is on (numbered as napari's slider numbers
        it), even when the annotator has not caught up with the step yet."""
        if self.clip is None or self.layer is None or not is_stack(self.layer):
            return
        frame = int(self.viewer.dims.current_step[0])
        if not 0 <= frame < self.clip.n_frames:
            return
        call, own = self.clip.plane_calls()[frame], self.clip.raw(frame)
        if call is None or own is None or own.plane is None:
            self.plane_over_time.setText(f"Plane over time at frame {frame}: -")
            return
        self.plane_over_time.setText(
            f"Plane over time at frame {frame}: {call.label} {call.score or 0:.2f} "
            f"(this frame alone: {own.plane.label} {own.plane.score or 0:.2f})"
        )

    # -- best frames -------------------------------------------------------------------------

    def refresh_best(self) -> None:
        """Rank the proposed frames for the chosen plane (the most often called one by default)."""
        if self.clip is None:
            return
        labels = self.clip.plane_labels()
        chosen = self.best_plane.currentText()
        known = {self.best_plane.itemText(i) for i in range(self.best_plane.count())}
        if set(labels) != known:
            self.best_plane.blockSignals(True)
            self.best_plane.clear()
            self.best_plane.addItems(labels)
            self.best_plane.setCurrentText(chosen if chosen in labels else labels[0])
            self.best_plane.blockSignals(False)
        plane = self.best_plane.currentText()
        if not plane:
            return
        ranking = self.clip.ranking(plane, self._wanted(plane))
        self.best = [r.frame for r in ranking]
        self.best_list.clear()
        for r in ranking[:BEST_SHOWN]:
            e = r.evidence
            item = QListWidgetItem(
                f"frame {r.frame}: {r.score:.2f} (plane {e.plane:.2f}, "
                f"structures {e.structures:.2f}, quality {e.quality:.2f})"
            )
            item.setData(Qt.ItemDataRole.UserRole, r.frame)
            self.best_list.addItem(item)

    def _wanted(self, plane: str) -> tuple[str, ...] | None:
        """The structures a best frame of ``plane`` should show, in the model's names: those
        picked by hand, else those the model routes to (FADA's when no model is loaded)."""
        picked = self.widget.structures.structures()
        backend = self.widget.backend
        if picked is not None or backend is None:
            return picked
        return backend.route(plane).detect

    def _on_best_activated(self, item: QListWidgetItem) -> None:
        self.jump_to(int(item.data(Qt.ItemDataRole.UserRole)))

    def jump_to(self, frame: int) -> None:
        """Show ``frame`` of the clip (the widget reviews it as it does any frame change)."""
        step = list(self.viewer.dims.current_step)
        step[0] = frame
        self.viewer.dims.current_step = tuple(step)
        if frame in self.best:
            self._best_position = self.best.index(frame)

    def go_to_best(self) -> None:
        if self.best:
            self.jump_to(self.best[0])

    def next_best(self) -> None:
        self._step_best(1)

    def previous_best(self) -> None:
        self._step_best(-1)

    def _step_best(self, delta: int) -> None:
        if not self.best:
            self.status.setText("No ranked frames yet: propose all frames first.")
            return
        position = max(0, min(len(self.best) - 1, self._best_position + delta))
        self.jump_to(self.best[position])
