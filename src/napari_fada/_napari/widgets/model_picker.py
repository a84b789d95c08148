"""The model picker: backend, the files it needs, threads, context size, phases, Load.

Only the fields of the chosen backend are shown (embedded: optional weights; llama: model and
mmproj .gguf; transformers: a checkpoint folder; openai: server URL, model name and API key), as
the registry describes them. Values are read
from and written to :class:`~napari_fada.settings.Settings`; loading is the widget's job.
"""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_fada.models.base import PHASES
from napari_fada.models.registry import (
    ModelFile,
    backend_files,
    backend_options,
    describe_backend,
)
from napari_fada.settings import Settings

#: Spin box value meaning "let the backend choose".
_AUTO = 0


_PLACEHOLDERS = {"url": "http://host:8080/v1", "text": "the only one served", "secret": "none"}


class _PathRow(QWidget):
    """Label, field and (for files and folders) Browse button for one :class:`ModelFile`;
    an API key is typed hidden."""

    def __init__(self, file: ModelFile) -> None:
        super().__init__()
        self.file = file
        self.edit = QLineEdit()
        optional = "" if file.required else " (optional)"
        self.edit.setPlaceholderText(f"{_PLACEHOLDERS.get(file.kind, file.kind)}{optional}")
        if file.kind == "secret":
            self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.setVisible(file.is_path)
        self.browse_button.clicked.connect(lambda *_: self.browse())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(file.label))
        layout.addWidget(self.edit, stretch=1)
        layout.addWidget(self.browse_button)

    def browse(self) -> None:
        start = self.edit.text()
        if self.file.kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, self.file.label, start)
        else:
            pattern = f"{self.file.label} (*{self.file.suffix});;All files (*)"
            chosen, _ = QFileDialog.getOpenFileName(self, self.file.label, start, pattern)
        if chosen:
            self.edit.setText(chosen)
            self.edit.editingFinished.emit()


def _spin_box(maximum: int, step: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(_AUTO, maximum)
    box.setSingleStep(step)
    box.setSpecialValueText("auto")
    return box


class ModelPicker(QWidget):
    """Choose a backend and its files, threads, context size and phases; then Load model.

    ``model_changed`` fires when anything that needs a new load changes, ``phases_changed`` when
    the phase selection does.
    """

    model_changed = Signal()
    phases_changed = Signal()

    def __init__(self, backends: list[str]) -> None:
        super().__init__()
        self.backend_combo = QComboBox()
        self.backend_combo.addItems(backends)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self._backends = frozenset(backends)
        self.rows: dict[str, _PathRow] = {}
        self._rows_of: dict[str, list[_PathRow]] = {}
        for backend in backends:
            for file in backend_files(backend):
                row = self.rows.setdefault(file.setting, _PathRow(file))
                self._rows_of.setdefault(backend, []).append(row)
        self.threads = _spin_box(256, 1)
        self.n_ctx = _spin_box(262_144, 1024)
        self.threads_row = self._labelled("Threads", self.threads)
        self.n_ctx_row = self._labelled("Context (tokens)", self.n_ctx)
        self.phase_boxes = {phase: QCheckBox(phase) for phase in PHASES}
        for box in self.phase_boxes.values():
            box.setChecked(True)
        self.load_button = QPushButton("Load model")
        self._layout()
        self._show_backend(self.backend())
        self.backend_combo.currentTextChanged.connect(self._on_backend)
        for row in self.rows.values():
            row.edit.editingFinished.connect(self.model_changed.emit)
        for spin in (self.threads, self.n_ctx):
            spin.valueChanged.connect(lambda *_: self.model_changed.emit())
        for box in self.phase_boxes.values():
            box.toggled.connect(lambda *_: self.phases_changed.emit())

    @staticmethod
    def _labelled(label: str, field: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(label))
        layout.addWidget(field, stretch=1)
        return row

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._labelled("Model", self.backend_combo))
        layout.addWidget(self.description)
        for row in self.rows.values():
            layout.addWidget(row)
        layout.addWidget(self.threads_row)
        layout.addWidget(self.n_ctx_row)
        phases = QGridLayout()  # three a row: five in one would widen the dock
        phases.addWidget(QLabel("Phases"), 0, 0)
        for index, box in enumerate(self.phase_boxes.values()):
            phases.addWidget(box, index // 3, 1 + index % 3)
        layout.addLayout(phases)
        layout.addWidget(self.load_button)

    def backend(self) -> str:
        return self.backend_combo.currentText()

    def _on_backend(self, name: str) -> None:
        self._show_backend(name)
        self.model_changed.emit()

    def _show_backend(self, name: str) -> None:
        shown = self._rows_of.get(name, [])
        for row in self.rows.values():
            row.setVisible(row in shown)
        known = name in self._backends
        self.description.setText(describe_backend(name) if known else "")
        self.threads_row.setVisible(known and "threads" in backend_options(name))
        self.n_ctx_row.setVisible(known and "n_ctx" in backend_options(name))

    def phases(self) -> tuple[str, ...]:
        """The checked phases, in the pipeline's order."""
        return tuple(p for p, box in self.phase_boxes.items() if box.isChecked())

    def set_from(self, settings: Settings) -> None:
        """Show ``settings`` without emitting change signals."""
        self.blockSignals(True)
        try:
            if self.backend_combo.findText(settings.backend) >= 0:
                self.backend_combo.setCurrentText(settings.backend)
            self._show_backend(self.backend())
            for name, row in self.rows.items():
                row.edit.setText(getattr(settings, name) or "")
            self.threads.setValue(settings.threads or _AUTO)
            self.n_ctx.setValue(settings.n_ctx or _AUTO)
            chosen = set(settings.phases) if settings.phases else set(PHASES)
            for phase, box in self.phase_boxes.items():
                box.setChecked(phase in chosen)
        finally:
            self.blockSignals(False)

    def write_to(self, settings: Settings) -> None:
        """Put the picker's values into ``settings`` (all backends' files are kept)."""
        settings.backend = self.backend()
        for name, row in self.rows.items():
            setattr(settings, name, row.edit.text().strip() or None)
        settings.threads = self.threads.value() or None
        settings.n_ctx = self.n_ctx.value() or None
        phases = self.phases()
        settings.phases = None if phases == PHASES else list(phases)
