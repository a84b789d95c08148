"""The inspection dock's controls and their layout, without behaviour.

:class:`~napari_fada._napari.inspection.widget.InspectionWidget` connects them.
"""

from __future__ import annotations

from typing import cast

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from napari_fada._napari.widgets.wheel_guard import guard_wheel

#: Table columns; "#" is the rank, 1 for the worst case, so sorting by it restores worst first.
COLUMNS = (
    "#", "image", "model", "source", "mean Dice", "worst", "box AP", "plane", "plane score",
)  # fmt: skip
ALL_STRUCTURES = "all structures"


class SortItem(QTableWidgetItem):
    """A cell shown as text but sorted by a value (numbers as numbers, missing values last)."""

    def __init__(self, text: str, value: float | str) -> None:
        super().__init__(text)
        self.setData(Qt.ItemDataRole.UserRole, value)
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine = self.data(Qt.ItemDataRole.UserRole)
        theirs = other.data(Qt.ItemDataRole.UserRole)
        if isinstance(mine, str) or isinstance(theirs, str):
            return str(mine) < str(theirs)
        return bool(mine < theirs)


class InspectionPanel(QWidget):
    """Load buttons, progress, the case table, the structure filter, the case details, plots
    and export buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.truth_button = QPushButton("Open ground truth...")
        self.predictions_button = QPushButton("Add predictions...")
        self.run_button = QPushButton("Run embedded model")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("Open a dataset with ground truth (manifest.csv, masks/).")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setMinimumHeight(160)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        cast(QHeaderView, self.table.verticalHeader()).setVisible(False)
        header = cast(QHeaderView, self.table.horizontalHeader())
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.structure_combo = QComboBox()
        self.structure_combo.addItem(ALL_STRUCTURES)
        self.details = QTextEdit()
        self.details.setReadOnly(True)
        self.plots_button = QPushButton("Show plots")
        self.save_plots_button = QPushButton("Save plots...")
        self.export_dataset_button = QPushButton("Export selected as dataset...")
        self.report_format = QComboBox()
        self.report_format.addItems(["markdown", "html"])
        self.export_report_button = QPushButton("Export selected as report...")

        loading = QGridLayout()
        loading.addWidget(self.truth_button, 0, 0)
        loading.addWidget(self.predictions_button, 0, 1)
        loading.addWidget(self.run_button, 1, 0)
        loading.addWidget(self.cancel_button, 1, 1)
        exporting = QGridLayout()
        exporting.addWidget(self.plots_button, 0, 0)
        exporting.addWidget(self.save_plots_button, 0, 1)
        exporting.addWidget(self.export_dataset_button, 1, 0, 1, 2)
        exporting.addWidget(self.report_format, 2, 0)
        exporting.addWidget(self.export_report_button, 2, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(loading)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        case_view = QWidget()
        case_layout = QVBoxLayout(case_view)
        case_layout.setContentsMargins(0, 0, 0, 0)
        case_layout.addWidget(QLabel("Errors of (red: false positive, cyan: false negative):"))
        case_layout.addWidget(self.structure_combo)
        case_layout.addWidget(self.details)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(case_view)
        splitter.setSizes([300, 250])
        layout.addWidget(splitter, stretch=1)
        layout.addLayout(exporting)
        guard_wheel(self)
