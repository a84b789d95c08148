"""The annotator's loop over images: a folder (or a saved dataset) shown one image at a time,
stepping along it or along a stack's frames, and the viewer's layer and frame changes that bring
an image under review or take it away.

It follows the viewer for the :class:`~napari_fada._napari.annotator.widget.AnnotatorWidget` it
belongs to, whose ``show_image`` makes an image the one under review.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Image
from napari.utils.notifications import show_info
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog

from napari_fada._napari.hooks.image_source import is_stack, open_sequence, step_image
from napari_fada._napari.hooks.source import source_of
from napari_fada.data.dataset import is_saved_dataset

if TYPE_CHECKING:
    from napari_fada._napari.annotator.widget import AnnotatorWidget


def remove_from(viewer: Any, layers: list[Any]) -> None:
    """Remove those of ``layers`` still in ``viewer`` (another removal may have taken some)."""
    for layer in layers:
        if layer in viewer.layers:
            viewer.layers.remove(layer)


def _remove_together(viewer: Any, layers: list[Any]) -> None:
    """:func:`remove_from` as one batch: napari cleans its scene graph once, not per layer."""
    with viewer.layers.batched_update():
        remove_from(viewer, layers)


def _opened_from_file(layer: Any) -> bool:
    """An image opened to be annotated (by a reader, a sample or the queue), not one a dock
    adds beside it."""
    return source_of(layer) is not None or layer.source.path is not None


class ImageLoop:
    """Steps the widget through images and follows the viewer's layers and frames."""

    def __init__(self, widget: AnnotatorWidget) -> None:
        self.widget = widget

    def follow_viewer(self) -> None:
        """Follow the viewer's layers and frames while the widget lives."""
        widget, viewer = self.widget, self.widget.viewer
        connections = (
            (viewer.layers.events.inserted, self._on_layer_inserted),
            (viewer.layers.events.removed, self._on_layer_removed),
            (viewer.dims.events.current_step, self._on_step),
        )
        for event, slot in connections:
            event.connect(slot)

        def detach() -> None:
            """The widget is gone: its viewer callbacks must not outlive it."""
            for event, slot in connections:
                event.disconnect(slot)

        widget.destroyed.connect(detach)

    def choose_sequence(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.widget, "Folder of images, or a dataset")
        if folder:
            self.open_sequence(folder)

    def open_sequence(self, folder: str | Path) -> None:
        """Show the images of ``folder`` one at a time, proposing on each as it is shown. A
        saved dataset's images are shown with their labels, and decisions are saved into it."""
        widget = self.widget
        folder = Path(folder)
        if is_saved_dataset(folder):
            widget.open_dataset(folder)
            folder = folder / "images"
        if widget.guarded(lambda: open_sequence(widget.viewer, folder)) is not None:
            widget.loop.auto_propose.setChecked(True)
        widget.focus_canvas()

    def step(self, delta: int) -> None:
        """Step along the stack (the frame change shows the frame) or the folder collection
        (the new layer's insertion shows it)."""
        widget = self.widget
        layer = widget.image.layer if widget.image else widget.image_layer()
        if layer is None:
            return
        if widget.guarded(lambda: step_image(widget.viewer, layer, delta)) is None:
            show_info("No further image in that direction.")

    def _on_layer_inserted(self, event: Any) -> None:
        """A new image is shown for review; one opened from a file replaces the one before,
        with its layers, and the view fits the new image."""
        widget, viewer = self.widget, self.widget.viewer
        layer = event.value
        if not isinstance(layer, Image):
            return
        previous = widget.image.layer if widget.image is not None else None
        replaces = previous is not None and previous != layer and _opened_from_file(layer)
        # napari cleans its scene graph (a full garbage collection, 0.5 s with a model loaded)
        # after each removal, or once after a batch of them
        with viewer.layers.batched_update():
            widget.guarded(lambda: widget.show_image(layer))
            if replaces and _opened_from_file(previous):
                remove_from(viewer, [previous])
        if replaces:
            viewer.reset_view()

    def _on_layer_removed(self, event: Any) -> None:
        """Closing the image under review saves its decisions and takes their layers away:
        after the removal in progress, which may be taking some of them too."""
        widget = self.widget
        if widget.image is not None and event.value == widget.image.layer:
            widget.guarded(widget.saver.save_if_decided)
            if widget.job is not None:
                widget.job.cancel()
            QTimer.singleShot(0, partial(_remove_together, widget.viewer, widget.end_session()))
            widget.image = None
            widget.record = None

    def _on_step(self, event: Any) -> None:
        widget = self.widget
        if widget.image is None or not is_stack(widget.image.layer):
            return
        layer = widget.image.layer
        if widget.image.frame_index != int(widget.viewer.dims.current_step[0]):
            widget.guarded(lambda: widget.show_image(layer))
