"""The demo (``napari-fada demo``): a sample image, the annotator docked, the default model's
proposals on it, ready for review; and a screenshot of the window once they are shown (the
README's screenshots are made this way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada.models.registry import DEFAULT_BACKEND, load_backend

PLUGIN = "napari-fada"
WIDGET = "FADA annotator"
SAMPLES = ("head", "pelvimetry", "brain", "cine")
#: Time for napari to draw the new layers before the window is grabbed.
_DRAW_DELAY_MS = 800


def open_demo(viewer: Any, sample: str = "head") -> AnnotatorWidget:
    """Open ``sample`` in ``viewer``, dock the annotator and start the default model on it.

    The proposal runs in a worker thread; the widget's ``job`` is None again when it is done.
    """
    viewer.open_sample(PLUGIN, sample)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    viewer.reset_view()  # the dock took width from the canvas
    widget.set_backend(load_backend(DEFAULT_BACKEND))
    widget.propose()
    return widget


def screenshot_when_done(viewer: Any, widget: AnnotatorWidget, path: Path) -> None:
    """Save the window to ``path`` once the widget's proposals are shown, then close it."""
    from qtpy.QtCore import QTimer

    def grab() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        viewer.reset_view()
        viewer.screenshot(str(path), canvas_only=False)
        print(f"screenshot saved to {path}")
        viewer.close()

    if widget.job is None:  # proposing failed at once; the widget shows why
        QTimer.singleShot(_DRAW_DELAY_MS, grab)
    else:
        widget.job.worker.finished.connect(lambda: QTimer.singleShot(_DRAW_DELAY_MS, grab))
