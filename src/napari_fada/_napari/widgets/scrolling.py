"""Docks taller than a laptop screen scroll up and down instead of pushing napari's window off
the screen; they never scroll sideways: the dock is as wide as its narrowest layout needs."""

from __future__ import annotations

from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import QScrollArea, QStyle, QVBoxLayout, QWidget


class _VerticalScrollArea(QScrollArea):
    """A scroll area whose minimum width is its content's, plus room for the scroll bar."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        content = self.widget()
        if content is None:
            return hint
        style = self.style()
        bar = style.pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) if style else 16
        width = content.minimumSizeHint().width() + bar + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())


def scrolling_content(dock: QWidget) -> QVBoxLayout:
    """Fill ``dock`` with a scroll area; returns the layout to put the dock's sections in."""
    content = QWidget()
    scroll = _VerticalScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(content)
    outer = QVBoxLayout(dock)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return QVBoxLayout(content)
