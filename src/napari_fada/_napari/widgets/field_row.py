"""A text field with its buttons on one line, the field taking the spare width."""

from __future__ import annotations

from qtpy.QtWidgets import QHBoxLayout, QWidget


def field_row(field: QWidget, *buttons: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(field, stretch=1)
    for button in buttons:
        layout.addWidget(button)
    return row
