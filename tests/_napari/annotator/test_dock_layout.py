"""The annotator dock beside napari's canvas on a 1280 px screen: narrow, no sideways scroll,
the decisions in view, buttons that stay put, and a wheel that scrolls instead of editing."""

from __future__ import annotations

import pytest
from qtpy.QtCore import QPoint, QPointF, QRect, Qt
from qtpy.QtGui import QWheelEvent
from qtpy.QtWidgets import QApplication, QScrollArea, QWidget

from napari_fada._napari.annotator.widget import AnnotatorWidget

#: napari's layer controls and list take ~300 px of a 1280 px screen; the canvas needs ~550.
MAX_DOCK_WIDTH = 420


@pytest.fixture
def docked(make_napari_viewer, qtbot) -> AnnotatorWidget:
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1280, 800)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="FADA annotator")
    qtbot.waitUntil(widget.isVisible)
    return widget


def scroll_area(widget: QWidget) -> QScrollArea:
    found = widget.findChild(QScrollArea)
    assert found is not None
    return found


def in_view(button: QWidget, area: QScrollArea) -> bool:
    viewport = area.viewport()
    assert viewport is not None
    place = QRect(button.mapTo(viewport, QPoint(0, 0)), button.size())
    return button.isVisible() and viewport.rect().contains(place)


def test_the_dock_fits_beside_the_canvas_at_1280_px(docked: AnnotatorWidget) -> None:
    dock = docked.parentWidget()
    assert dock is not None
    assert dock.minimumSizeHint().width() <= MAX_DOCK_WIDTH
    assert docked.sizeHint().width() <= MAX_DOCK_WIDTH
    assert docked.width() <= MAX_DOCK_WIDTH + 20  # napari docks it at its size hint
    area = scroll_area(docked)
    QApplication.processEvents()
    bar = area.horizontalScrollBar()
    assert bar is not None and not bar.isVisible()
    content = area.widget()
    assert content is not None and content.width() <= area.viewport().width()
    for button in (docked.propose_button, docked.accept_button, docked.reject_button):
        assert in_view(button, area), button.text()


def test_the_cine_section_opens_for_a_clip(docked: AnnotatorWidget) -> None:
    import numpy as np

    assert not docked.cine.isExpanded()
    docked.viewer.add_image(np.zeros((3, 16, 16), dtype=np.uint8), name="clip")
    assert docked.cine.isExpanded()


def test_propose_and_accept_stay_put_when_texts_grow(docked: AnnotatorWidget) -> None:
    content = scroll_area(docked).widget()

    def places() -> list[QPoint]:
        QApplication.processEvents()
        return [
            b.mapTo(content, QPoint(0, 0)) for b in (docked.propose_button, docked.accept_button)
        ]

    before = places()
    long = "a routing text that goes on " * 20
    docked.structures.route_label.setText(long)
    docked.status.setText(long)
    docked.plane_label.setText(long)
    assert places() == before
    assert docked.status.toolTip() == long  # the elided rest can still be read
    for label, lines in ((docked.status, 2), (docked.plane_label, 1)):  # in napari's font
        assert label.height() >= lines * label.fontMetrics().lineSpacing()


def wheel(widget: QWidget, steps: int = -1) -> None:
    """One notch of the mouse wheel (down for negative ``steps``) over ``widget``."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_dock_and_leaves_unfocused_fields_alone(
    docked: AnnotatorWidget, qtbot
) -> None:
    docked.viewer.window._qt_window.resize(1280, 500)  # short enough to scroll
    area = scroll_area(docked)
    bar = area.verticalScrollBar()
    assert bar is not None
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    combo = docked.label_combo
    assert combo.focusPolicy() == Qt.FocusPolicy.StrongFocus
    assert not combo.hasFocus()
    wheel(combo)
    wheel(docked.biometry.spacing)
    wheel(docked.cine.smooth_frames)
    assert combo.currentText() == "head"
    assert docked.biometry.value() == 0.0 and docked.cine.smooth_frames.value() == 5
    assert bar.value() > 0  # the turn scrolled the dock instead


def test_a_focused_field_still_takes_the_wheel(docked: AnnotatorWidget, qtbot) -> None:
    combo = docked.label_combo
    docked.viewer.window._qt_window.activateWindow()
    combo.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(combo.hasFocus)
    wheel(combo)
    assert combo.currentText() != "head"
