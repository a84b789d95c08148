"""The summary plots in a dock: one tab per figure, drawn by matplotlib's Qt canvas."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QTabWidget, QVBoxLayout, QWidget


class PlotsWidget(QWidget):
    """Shows the figures it is given; :meth:`show_figures` replaces them."""

    def __init__(self) -> None:
        super().__init__()
        self.tabs = QTabWidget()
        self.canvases: dict[str, FigureCanvasQTAgg] = {}
        QVBoxLayout(self).addWidget(self.tabs)

    def show_figures(self, figures: dict[str, Figure]) -> None:
        self.tabs.clear()
        for canvas in self.canvases.values():
            canvas.deleteLater()
        self.canvases = {name: FigureCanvasQTAgg(figure) for name, figure in figures.items()}
        for name, canvas in self.canvases.items():
            canvas.setMinimumSize(320, 220)
            self.tabs.addTab(canvas, name.replace("_", " "))
            canvas.draw_idle()
