"""The annotator widget's controls and their layout, without behaviour.

:class:`~napari_fada._napari.annotator.widget.AnnotatorWidget` connects them to the workflow.
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

from napari_fada._napari.widgets.field_row import field_row
from napari_fada._napari.widgets.model_picker import ModelPicker
from napari_fada._napari.widgets.scrolling import scrolling_content
from napari_fada._napari.widgets.sections import FixedLines, section
from napari_fada._napari.widgets.structure_picker import StructurePicker
from napari_fada.core.vocabulary import PLANE_LABELS, STRUCTURES


class AnnotatorPanel(QWidget):
    """Model, dataset and annotator fields (they fold); propose, progress, review, label and
    plane; structures, interpretation and the model's raw answers (folded); issues."""

    def __init__(self, backends: list[str]) -> None:
        super().__init__()
        self.model_picker = ModelPicker(backends)
        self.model_combo = self.model_picker.backend_combo
        self.load_button = self.model_picker.load_button
        self.plane_combo = QComboBox()
        self.plane_combo.addItems(PLANE_LABELS)
        self.plane_combo.setPlaceholderText("plane class")
        self.plane_combo.setCurrentIndex(-1)  # none until the model or the person names one
        self.set_plane_button = QPushButton("Set plane")
        self.label_combo = QComboBox()
        self.label_combo.addItems(STRUCTURES)
        self.label_combo.setCurrentText("head")
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("dataset folder")
        self.choose_button = QPushButton("Choose...")
        self.annotator_edit = QLineEdit()
        self.annotator_edit.setPlaceholderText("your name")
        self.structures = StructurePicker()
        self.propose_button = QPushButton("Propose")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = FixedLines("Open an image, then press Propose.", lines=2)
        self.plane_label = FixedLines("Plane: -", lines=1)
        self.interpretation = QPlainTextEdit()
        self.interpretation.setMaximumHeight(120)
        self.interpretation.setPlaceholderText("no interpretation")
        self.issues = QPlainTextEdit()
        self.issues.setMaximumHeight(70)
        self.raw_answers = QPlainTextEdit()
        self.raw_answers.setMinimumHeight(160)
        for box in (self.interpretation, self.issues, self.raw_answers):
            box.setReadOnly(True)
        self.autosave = QCheckBox("Save after each decision")
        self.autosave.setChecked(True)
        self.accept_button = QPushButton("Accept")
        self.reject_button = QPushButton("Reject")
        self.accept_all_button = QPushButton("Accept all")
        self.reject_all_button = QPushButton("Reject all")
        self.apply_label_button = QPushButton("Apply label")
        self.save_button = QPushButton("Save")
        self.previous_button = QPushButton("Previous")
        self.next_button = QPushButton("Next")
        self.raw_answers_section = section("Raw answers", self.raw_answers)
        self._lay_out()

    def _lay_out(self) -> None:
        """Model and dataset first (they fold), then what every image needs, in places that do
        not move: Propose, the status, the decisions, label and plane; then the plane call,
        and sections that fold: structures, interpretation, raw answers."""
        dataset = QFormLayout()
        dataset.addRow("Dataset", field_row(self.dataset_edit, self.choose_button))
        dataset.addRow("Annotator", self.annotator_edit)
        dataset.addRow(self.autosave)
        dataset_fields = QWidget()
        dataset_fields.setLayout(dataset)
        propose = QHBoxLayout()
        propose.addWidget(self.propose_button)
        propose.addWidget(self.cancel_button)
        decisions = QGridLayout()
        for index, button in enumerate(
            (
                self.accept_button,
                self.reject_button,
                self.accept_all_button,
                self.reject_all_button,
                self.previous_button,
                self.next_button,
            )
        ):
            decisions.addWidget(button, index // 2, index % 2)
        fields = QFormLayout()
        fields.addRow("Label", field_row(self.label_combo, self.apply_label_button))
        fields.addRow("Plane", field_row(self.plane_combo, self.set_plane_button))
        fields.addRow(self.save_button)
        # The sections are taller than a laptop screen: they scroll inside the dock.
        layout = self.content_layout = scrolling_content(self)
        layout.addWidget(section("Model", self.model_picker, expanded=True))
        layout.addWidget(section("Dataset", dataset_fields, expanded=True))
        layout.addLayout(propose)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(decisions)
        layout.addLayout(fields)
        layout.addWidget(self.plane_label)
        layout.addWidget(section("Structures", self.structures))
        layout.addWidget(section("Interpretation", self.interpretation))
        layout.addWidget(QLabel("Issues"))
        layout.addWidget(self.issues)
        layout.addWidget(self.raw_answers_section)

    def show_raw_answers(self, answers: dict[str, str], timings_s: dict[str, float]) -> None:
        """Each phase's answer as the model wrote it, under a header with its time."""
        parts = []
        for phase, text in answers.items():
            seconds = f" ({timings_s[phase]:.1f} s)" if phase in timings_s else ""
            parts.append(f"== {phase}{seconds} ==\n{text}")
        self.raw_answers.setPlainText("\n\n".join(parts))
