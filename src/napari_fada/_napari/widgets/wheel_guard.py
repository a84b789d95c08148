"""The mouse wheel over a dock scrolls the dock; it never edits a field the person did not click.

Without this, a drop-down or spin box under the pointer takes the wheel turn meant for the dock's
scroll bar and silently changes (the default label "head" became "abdomen").
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QSlider,
    QWidget,
)

GUARDED = (QComboBox, QAbstractSpinBox, QSlider)


class _WheelGuard(QObject):
    """Passes a wheel turn over an unfocused field on to the scroll area around it."""

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None or event.type() != QEvent.Type.Wheel:
            return False
        if not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = _scroll_area_around(watched)
        if area is not None and area.viewport() is not None:
            QApplication.sendEvent(area.viewport(), event)
        return True


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def guard_wheel(root: QWidget) -> None:
    """Make every drop-down, spin box and slider under ``root`` take the wheel only once it has
    focus (a click or Tab gives it; the wheel alone does not)."""
    guard = root.findChild(_WheelGuard) or _WheelGuard(root)
    for field in root.findChildren(GUARDED):
        field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        field.installEventFilter(guard)
