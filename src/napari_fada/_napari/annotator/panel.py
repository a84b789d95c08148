"""The annotator widget's controls and their layout, without behaviour.

:class:`~napari_fada._napari.annotator.widget.AnnotatorWidget` connects them to the workflow.
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)
from superqt import QCollapsible

from napari_fada._napari.widgets.model_picker import ModelPicker
from napari_fada._napari.widgets.scrolling import scrolling_content
from napari_fada._napari.widgets.structure_picker import StructurePicker
from napari_fada.core.vocabulary import PLANE_LABELS, STRUCTURES


class AnnotatorPanel(QWidget):
    """Model, plane, label, dataset and annotator fields; propose, progress, review, issues,
    and the model's raw answers (collapsed)."""

    def __init__(self, backends: list[str]) -> None:
        super().__init__()
        self.model_picker = ModelPicker(backends)
        self.model_combo = self.model_picker.backend_combo
        self.load_button = self.model_picker.load_button
        self.plane_combo = QComboBox()
        self.plane_combo.addItems(PLANE_LABELS)
        self.set_plane_button = QPushButton("Set plane")
        self.label_combo = QComboBox()
        self.label_combo.addItems(STRUCTURES)
        self.label_combo.setCurrentText("head")
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("dataset folder")
        self.choose_button = QPushButton("Choose folder...")
        self.annotator_edit = QLineEdit()
        self.annotator_edit.setPlaceholderText("your name")
        self.structures = StructurePicker()
        self.propose_button = QPushButton("Propose")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("Open an image, then press Propose.")
        self.status.setWordWrap(True)
        self.plane_label = QLabel("Plane: -")
        self.interpretation = QPlainTextEdit()
        self.interpretation.setMaximumHeight(120)
        self.issues = QPlainTextEdit()
        self.issues.setMaximumHeight(70)
        self.raw_answers = QPlainTextEdit()
        self.raw_answers.setMinimumHeight(160)
        for box in (self.interpretation, self.issues, self.raw_answers):
            box.setReadOnly(True)
        self.raw_answers_section = QCollapsible("Raw answers")
        self.raw_answers_section.addWidget(self.raw_answers)
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
        review = QGridLayout()
        for index, button in enumerate(
            (
                self.accept_button,
                self.reject_button,
                self.accept_all_button,
                self.reject_all_button,
                self.apply_label_button,
                self.save_button,
                self.previous_button,
                self.next_button,
            )
        ):
            review.addWidget(button, index // 2, index % 2)

        form = QFormLayout()
        for label, field in (
            ("Plane class", self.plane_combo),
            ("", self.set_plane_button),
            ("Label", self.label_combo),
            ("Dataset", self.dataset_edit),
            ("", self.choose_button),
            ("Annotator", self.annotator_edit),
        ):
            form.addRow(label, field)
        # The sections are taller than a laptop screen: they scroll inside the dock.
        layout = self.content_layout = scrolling_content(self)
        layout.addWidget(self.model_picker)
        layout.addLayout(form)
        for widget in (
            self.structures,
            self.propose_button,
            self.cancel_button,
            self.progress,
            self.status,
            self.plane_label,
            self.interpretation,
        ):
            layout.addWidget(widget)
        layout.addLayout(review)
        layout.addWidget(self.autosave)
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
