"""Sections of a dock that fold, and texts that keep their place whatever their length.

A dock beside napari's canvas on a 1280 px screen has about 400 px of width and a laptop's
height: what is seldom needed folds away, and a status line that grows never pushes the buttons
under it down the dock.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QSize
from qtpy.QtWidgets import QLabel, QWidget
from superqt import QCollapsible, QElidingLabel


def section(title: str, *widgets: QWidget, expanded: bool = False) -> QCollapsible:
    """A titled section holding ``widgets`` that opens and folds with a click on its title."""
    folding = QCollapsible(title)
    for widget in widgets:
        folding.addWidget(widget)
    if expanded:
        folding.expand(animate=False)
    return folding


class FixedLines(QElidingLabel):
    """A label always ``lines`` lines high: longer text wraps, then ends in "…" (the tooltip
    holds all of it)."""

    def __init__(self, text: str = "", lines: int = 2) -> None:
        super().__init__()
        self._lines = lines
        self.setWordWrap(True)
        self._fit()
        self.setText(text)

    def _fit(self) -> None:
        """The height of its lines in the font it has now (napari's style sheet changes it);
        a little more, so that the last line's descenders and underscores show."""
        self.setFixedHeight(self._lines * self.fontMetrics().lineSpacing() + 2)

    def changeEvent(self, event: QEvent | None) -> None:
        super().changeEvent(event)
        if event is not None and event.type() in (
            QEvent.Type.FontChange,
            QEvent.Type.StyleChange,
        ):
            self._fit()

    def setText(self, txt: str | None) -> None:
        super().setText(txt or "")
        self.setToolTip(txt or "")

    def sizeHint(self) -> QSize:
        """As narrow as its layout makes it (the eliding label asks for its current width)."""
        return QSize(self.minimumSizeHint().width(), self.height())


class WrappingText(QLabel):
    """A label whose text wraps to the dock's width: it asks for no more width than its longest
    word (a wrapped QLabel otherwise asks for hundreds of pixels), its height follows the width."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:
        width = self.minimumSizeHint().width()
        return QSize(width, self.heightForWidth(width))
