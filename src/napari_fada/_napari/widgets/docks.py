"""Two docks in one tabbed stack, so neither squeezes the other to a few rows."""

from __future__ import annotations

from qtpy.QtWidgets import QDockWidget, QMainWindow, QWidget


def _dock_of(widget: QWidget) -> QDockWidget | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def tab_together(first: QWidget, second: QWidget) -> bool:
    """Stack the dock holding ``second`` as a tab on the one holding ``first`` and show it;
    False (and nothing changed) while either is not docked in the same window."""
    docks = _dock_of(first), _dock_of(second)
    if docks[0] is None or docks[1] is None or docks[0] is docks[1]:
        return False
    window = docks[0].parentWidget()
    if not isinstance(window, QMainWindow) or docks[1].parentWidget() is not window:
        return False
    if docks[1] not in window.tabifiedDockWidgets(docks[0]):
        window.tabifyDockWidget(docks[0], docks[1])
    docks[1].show()
    docks[1].raise_()
    return True
