"""The controls of the keyboard loop over a folder: one small group of the annotator dock."""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QPushButton


class LoopControls(QGroupBox):
    """Open a folder (or a saved dataset) as a sequence, propose on each image as it is shown,
    and mark an image "nothing to label"."""

    def __init__(self) -> None:
        super().__init__("Sequence")
        self.open_button = QPushButton("Open folder...")
        self.open_button.setToolTip(
            "Open a folder of images, or a saved dataset to review, one image at a time"
        )
        self.auto_propose = QCheckBox("Propose on each image")
        self.auto_propose.setToolTip(
            "Run the model on each image as it is shown (in the background, cached)"
        )
        self.nothing_button = QPushButton("Nothing to label")
        self.nothing_button.setToolTip("Looked at, nothing to label: saved as a true negative")
        layout = QGridLayout(self)
        layout.addWidget(self.open_button, 0, 0)
        layout.addWidget(self.auto_propose, 0, 1)
        layout.addWidget(self.nothing_button, 1, 0)
