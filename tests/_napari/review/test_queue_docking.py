"""Where the review queue docks: a tab beside the annotator, not a strip under it."""

from __future__ import annotations

from pathlib import Path

import pytest
from qtpy.QtWidgets import QDockWidget, QWidget

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.review.widget import ANNOTATOR, PLUGIN

QUEUE = "FADA review queue"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Widget settings go to a temporary folder, never the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def dock_of(widget: QWidget) -> QDockWidget:
    parent = widget.parentWidget()
    while not isinstance(parent, QDockWidget):
        assert parent is not None
        parent = parent.parentWidget()
    return parent


@pytest.mark.parametrize("annotator_first", [True, False])
def test_the_queue_is_a_tab_beside_the_annotator(make_napari_viewer, qtbot, annotator_first):
    """Opened from the Plugins menu, before or after the annotator, the queue shares the
    annotator's place as a tab instead of squeezing it from below."""
    viewer = make_napari_viewer(show=True)
    if annotator_first:
        viewer.window.add_plugin_dock_widget(PLUGIN, ANNOTATOR)
    _, queue = viewer.window.add_plugin_dock_widget(PLUGIN, QUEUE)
    qtbot.waitUntil(queue.isVisible)
    window = viewer.window._qt_window
    annotators = window.findChildren(AnnotatorWidget)
    assert len(annotators) == 1
    assert dock_of(queue) in window.tabifiedDockWidgets(dock_of(annotators[0]))
    assert queue.annotator is annotators[0]
    assert queue.table.height() >= queue.table.minimumHeight()  # not squeezed to two rows
