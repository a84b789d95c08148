"""The annotator's "Prompt" section: show the prompt layers, flip the click sign, next object."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget
from superqt import QCollapsible

from napari_fada._napari.prompting.controller import (
    SIGN_KEY,
    UNDO_KEY,
    PromptController,
    PromptHost,
)
from napari_fada._napari.prompting.layers import next_sign, set_sign
from napari_fada._napari.widgets.sections import WrappingText
from napari_fada.errors import FadaError

HELP = (
    "Draw a box in 'prompt box' or click in 'prompt points' on the structure of the chosen "
    f"label; each click refines the outline. {SIGN_KEY} flips the click sign (green inside, red "
    f"outside), {UNDO_KEY.replace('Control', 'Ctrl')} on a prompt layer takes the last prompt "
    "back. A click on an outline of the label corrects it. Accept as usual."
)


class PromptSection(QCollapsible):
    """Collapsed by default; drives a :class:`PromptController` for the annotator ``host``."""

    def __init__(self, host: PromptHost, label_of: Callable[[], str]) -> None:
        super().__init__("Prompt (box and clicks)")
        self.controller = PromptController(host, label_of, on_change=self._show)
        self.host = host
        self.start_button = QPushButton("Prompt on this image")
        self.negative = QCheckBox(f"Next click outside ({SIGN_KEY})")
        self.new_button = QPushButton("Next object")
        self.status = WrappingText(HELP)
        body = QWidget()
        layout = QVBoxLayout(body)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.new_button)
        layout.addLayout(row)
        layout.addWidget(self.negative)
        layout.addWidget(self.status)
        self.addWidget(body)
        self.start_button.clicked.connect(lambda *_: self.start())
        self.new_button.clicked.connect(lambda *_: self.controller.new_object())
        self.negative.toggled.connect(self._on_negative)

    def start(self) -> None:
        try:
            self.controller.start()
        except FadaError as error:
            self.host.report_error(error)
            return
        self._on_negative(self.negative.isChecked())

    def _on_negative(self, negative: bool) -> None:
        layers = self.controller.layers
        if layers is not None:
            set_sign(layers.points, not negative)

    def _show(self, message: str) -> None:
        layers = self.controller.layers
        if layers is not None:
            self.negative.blockSignals(True)
            self.negative.setChecked(not next_sign(layers.points))
            self.negative.blockSignals(False)
        self.status.setText(message)
