"""The review queue dock's controls and their layout, without behaviour.

:class:`~napari_fada._napari.review.widget.ReviewQueueWidget` connects them.
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from napari_fada._napari.widgets.wheel_guard import guard_wheel
from napari_fada.review.queue import IMAGE_STATUSES, SORT_ORDERS

ALL_STATUSES = "all"
#: Room for about eight rows, however crowded the dock area is.
TABLE_MIN_HEIGHT = 240
COLUMNS = ("Image", "Status", "Confidence", "Disagreement", "Time (s)", "Edits")


class ReviewQueuePanel(QWidget):
    """Folder and comparison choosers, order and filter, counts, the image table, stepping."""

    def __init__(self) -> None:
        super().__init__()
        self.folder_edit = QLineEdit()
        self.folder_edit.setReadOnly(True)
        self.folder_edit.setPlaceholderText("dataset, COCO, YOLO or label-PNG folder")
        self.open_button = QPushButton("Open folder...")
        self.compare_edit = QLineEdit()
        self.compare_edit.setReadOnly(True)
        self.compare_edit.setPlaceholderText("another model's dataset, or existing labels")
        self.compare_button = QPushButton("Compare with...")
        self.order_combo = QComboBox()
        for order, text in SORT_ORDERS.items():
            self.order_combo.addItem(text, order)
        self.filter_combo = QComboBox()
        self.filter_combo.addItems([ALL_STATUSES, *IMAGE_STATUSES])
        self.counts_label = QLabel("No folder open.")
        self.summary_label = QLabel("")
        for label in (self.counts_label, self.summary_label):
            label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(TABLE_MIN_HEIGHT)
        rows, columns = self.table.verticalHeader(), self.table.horizontalHeader()
        if rows is not None and columns is not None:
            rows.setVisible(False)
            columns.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.previous_button = QPushButton("Previous unreviewed")
        self.next_button = QPushButton("Next unreviewed")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Open a folder to review.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        for name, field in (
            ("Folder", self.folder_edit),
            ("", self.open_button),
            ("Compare", self.compare_edit),
            ("", self.compare_button),
            ("Order", self.order_combo),
            ("Show", self.filter_combo),
        ):
            form.addRow(name, field)
        stepping = QHBoxLayout()
        stepping.addWidget(self.previous_button)
        stepping.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.counts_label, self.summary_label, self.table):
            layout.addWidget(widget)
        layout.addLayout(stepping)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        guard_wheel(self)
