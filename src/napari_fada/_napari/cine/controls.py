"""The Cine section's controls and their layout, without behaviour.

:class:`~napari_fada._napari.cine.panel.CinePanel` connects them to the clip workflow.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)
from superqt import QCollapsible


class CineControls(QCollapsible):
    """Propose all frames / cancel, accept frame / range / all, carry forward, plane smoothing,
    best frames; ``keys_help`` lists the keyboard shortcuts under them. The section is folded
    until it is opened or a clip is shown."""

    def __init__(self, keys_help: str) -> None:
        super().__init__("Cine")
        self.propose_button = QPushButton("Propose all frames")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("Open a clip, then propose all its frames.")
        self.status.setWordWrap(True)
        self.accept_frame_button = QPushButton("Accept frame")
        self.accept_all_button = QPushButton("Accept all frames")
        self.range_from, self.range_to = QSpinBox(), QSpinBox()
        self.range_from.setPrefix("from frame ")
        self.range_to.setPrefix("to ")
        self.accept_range_button = QPushButton("Accept range")
        self.carry_frames = QSpinBox()
        self.carry_frames.setRange(1, 100)
        self.carry_frames.setValue(5)
        self.carry_frames.setPrefix("next ")
        self.carry_frames.setSuffix(" frames")
        self.follow_motion = QCheckBox("follow motion")
        self.follow_motion.setChecked(True)
        self.carry_button = QPushButton("Carry forward")
        self.smooth_frames = QSpinBox()
        self.smooth_frames.setRange(1, 31)
        self.smooth_frames.setSingleStep(2)
        self.smooth_frames.setValue(5)
        self.smooth_frames.setSuffix(" frames")
        self.plane_over_time = QLabel("Plane over time: -")
        self.plane_over_time.setWordWrap(True)
        self.best_plane = QComboBox()
        self.best_list = QListWidget()
        self.best_list.setMaximumHeight(120)
        self.best_button = QPushButton("Go to best")
        keys = QLabel(keys_help)
        keys.setWordWrap(True)
        rows: list[list[Any]] = [
            [self.propose_button, self.cancel_button],
            [self.progress],
            [self.status],
            [self.accept_frame_button, self.accept_all_button],
            [self.range_from, self.range_to, self.accept_range_button],
            [self.carry_frames, self.follow_motion, self.carry_button],
            [QLabel("Smooth plane over frames"), self.smooth_frames],
            [self.plane_over_time],
            [QLabel("Best frames for"), self.best_plane, self.best_button],
            [self.best_list],
            [keys],
        ]
        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, 0, 0)
        for row, widgets in enumerate(rows):
            span = 6 // len(widgets)
            for column, item in enumerate(widgets):
                grid.addWidget(item, row, column * span, 1, span)
        self.addWidget(body)
