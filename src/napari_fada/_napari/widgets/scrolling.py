"""Docks taller than a laptop screen scroll instead of pushing napari's window off the screen."""

from __future__ import annotations

from qtpy.QtWidgets import QScrollArea, QVBoxLayout, QWidget


def scrolling_content(dock: QWidget) -> QVBoxLayout:
    """Fill ``dock`` with a scroll area; returns the layout to put the dock's sections in."""
    content = QWidget()
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(content)
    outer = QVBoxLayout(dock)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return QVBoxLayout(content)
