"""The "FADA train & evaluate" dock's controls and their layout, without behaviour.

:class:`~napari_fada._napari.training.widget.TrainingWidget` connects them.
"""

from __future__ import annotations

from qtpy.QtGui import QFontDatabase
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_fada._napari.widgets.field_row import field_row
from napari_fada._napari.widgets.scrolling import scrolling_content
from napari_fada._napari.widgets.wheel_guard import guard_wheel
from napari_fada.training.options import NEW_MODEL_SIZE, TrainOptions

#: Split choice meaning "every row of the manifest".
ALL_SPLITS = "all"
#: Where training starts: the shipped model, a weights file (both fine-tune), or a new model.
START_SHIPPED = "shipped model (fine-tune)"
START_FILE = "weights file (fine-tune)"
START_NEW = "new model (from scratch)"
#: Peak learning rate offered for fine-tuning: the CLI's default (for a new model) undoes much of
#: the shipped model in a few steps on a handful of corrections; this one improves it.
FINE_TUNE_LR = 3e-4


def _report_box(height: int) -> QPlainTextEdit:
    """A read-only box in a fixed-width font, for tables, ``height`` pixels high."""
    box = QPlainTextEdit()
    box.setFixedHeight(height)
    box.setReadOnly(True)
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return box


def _status_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class EvaluatePanel(QGroupBox):
    """Dataset, split, limit and weights; Evaluate / Cancel, progress, the report, Save JSON."""

    def __init__(self) -> None:
        super().__init__("Evaluate")
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("dataset folder with ground truth")
        self.data_button = QPushButton("Browse...")
        self.split_combo = QComboBox()
        self.split_combo.setEditable(True)
        self.split_combo.addItems([ALL_SPLITS, "val", "train", "test"])
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText("all images")
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("shipped embedded model")
        self.weights_button = QPushButton("Browse...")
        self.run_button = QPushButton("Evaluate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = _status_label("Choose a dataset with ground truth, then Evaluate.")
        self.report_box = _report_box(220)
        self.save_button = QPushButton("Save JSON...")
        self.save_button.setEnabled(False)

        form = QFormLayout()
        form.addRow("Dataset", field_row(self.data_edit, self.data_button))
        form.addRow("Split", self.split_combo)
        form.addRow("Limit", self.limit_spin)
        form.addRow("Weights", field_row(self.weights_edit, self.weights_button))
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        for widget in (self.progress, self.status, self.report_box, self.save_button):
            layout.addWidget(widget)


class TrainPanel(QGroupBox):
    """Dataset folders, starting weights, output, budget; Train / Cancel, progress, the log,
    before/after figures and "Use these weights"."""

    def __init__(self) -> None:
        super().__init__("Train / fine-tune")
        self.data_list = QListWidget()
        self.data_list.setMaximumHeight(90)
        self.add_data_button = QPushButton("Add folder...")
        self.remove_data_button = QPushButton("Remove")
        self.start_combo = QComboBox()
        self.start_combo.addItems([START_SHIPPED, START_FILE, START_NEW])
        self.init_edit = QLineEdit()
        self.init_edit.setPlaceholderText("weights file (.pt) to fine-tune")
        self.init_button = QPushButton("Browse...")
        self.init_row = field_row(self.init_edit, self.init_button)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(16, 1024)
        self.size_spin.setSingleStep(16)
        self.size_spin.setValue(NEW_MODEL_SIZE)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("weights file to write (.pt)")
        self.out_button = QPushButton("Save as...")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100_000)
        self.epochs_spin.setValue(TrainOptions.default("epochs"))
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0.0, 10_000.0)
        self.minutes_spin.setSpecialValueText("no limit")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1024)
        self.batch_spin.setValue(TrainOptions.default("batch_size"))
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(1e-5, 1.0)
        self.lr_spin.setSingleStep(5e-4)
        self.resume_box = QCheckBox("Resume the interrupted run")
        self.resume_box.setToolTip("Continue from the checkpoint <output>.ckpt of a cancelled run")
        self.run_button = QPushButton("Train")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = _status_label("Add dataset folders, then Train.")
        self.validation = _status_label("")
        self.log = _report_box(140)
        self.result_box = _report_box(160)
        self.use_button = QPushButton("Use these weights in the annotator")
        self.use_button.setEnabled(False)

        data_buttons = QHBoxLayout()
        data_buttons.addWidget(self.add_data_button)
        data_buttons.addWidget(self.remove_data_button)
        form = QFormLayout()
        form.addRow("Start from", self.start_combo)
        form.addRow("Init weights", self.init_row)
        form.addRow("Input size", self.size_spin)
        form.addRow("Output", field_row(self.out_edit, self.out_button))
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Minutes", self.minutes_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Dataset folders"))
        layout.addWidget(self.data_list)
        layout.addLayout(data_buttons)
        layout.addLayout(form)
        layout.addWidget(self.resume_box)
        layout.addLayout(buttons)
        for widget in (
            self.progress,
            self.status,
            self.validation,
            self.log,
            QLabel("Validation before and after"),
            self.result_box,
            self.use_button,
        ):
            layout.addWidget(widget)
        self.show_start(self.start_combo.currentText())
        self.start_combo.currentTextChanged.connect(self.show_start)

    def show_start(self, start: str) -> None:
        """Only the fields the chosen start needs (a file to fine-tune, or a new model's size),
        and the learning rate that suits it."""
        self.init_row.setEnabled(start == START_FILE)
        self.size_spin.setEnabled(start == START_NEW)
        self.lr_spin.setValue(TrainOptions.default("lr") if start == START_NEW else FINE_TUNE_LR)


class TrainingPanel(QWidget):
    """Evaluate above, train below, in a scroll area: a short dock scrolls, never squeezes."""

    def __init__(self) -> None:
        super().__init__()
        self.evaluate_panel = EvaluatePanel()
        self.train_panel = TrainPanel()
        layout = scrolling_content(self)
        layout.addWidget(self.evaluate_panel)
        layout.addWidget(self.train_panel)
        layout.addStretch(1)
        guard_wheel(self)
