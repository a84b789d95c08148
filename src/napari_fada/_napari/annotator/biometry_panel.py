"""Pixel size and head biometry in the annotator widget.

The pixel size comes from the image (DICOM pixel spacing or ultrasound region calibration; for
a plain PNG, the pixel_size_mm of its folder's manifest.csv) or from the person, who can type
it in; zero means unknown, and then no
millimetres are shown or saved.
"""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QWidget

from napari_fada.core.biometry import format_biometry


class BiometryPanel(QWidget):
    """A pixel-size field and the head measurements (HC, BPD, OFD, GA)."""

    #: The person changed the pixel size (mm per pixel; 0 for unknown).
    spacing_changed = Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self.spacing = QDoubleSpinBox()
        self.spacing.setRange(0.0, 10.0)
        self.spacing.setDecimals(5)
        self.spacing.setSingleStep(0.01)
        self.spacing.setSuffix(" mm")
        self.spacing.setSpecialValueText("unknown")
        self.spacing.setToolTip(
            "Size of one pixel in mm: from DICOM or the folder's manifest.csv, or typed in"
        )
        self.readout = QLabel("Biometry: -")
        self.readout.setWordWrap(True)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addRow("Pixel size", self.spacing)
        layout.addRow(self.readout)
        #: The exact (row, col) spacing; the field shows it rounded.
        self._spacing: tuple[float, float] | None = None
        self.spacing.editingFinished.connect(self._on_edited)

    def value(self) -> float:
        return float(self.spacing.value())

    def pixel_spacing_mm(self) -> tuple[float, float] | None:
        """(row, col) spacing in mm, None when unknown."""
        return self._spacing

    def set_pixel_spacing(self, spacing: tuple[float, float] | None) -> None:
        """Show an image's spacing (its row spacing; ultrasound pixels are nearly always square)."""
        self._spacing = (float(spacing[0]), float(spacing[1])) if spacing else None
        self.spacing.blockSignals(True)
        self.spacing.setValue(self._spacing[0] if self._spacing else 0.0)
        self.spacing.blockSignals(False)

    def _on_edited(self) -> None:
        shown = self._spacing[0] if self._spacing else 0.0
        if round(shown, self.spacing.decimals()) == self.value():
            return  # the field lost focus unchanged: keep the exact spacing
        value = self.value()
        self._spacing = (value, value) if value > 0 else None
        self.spacing_changed.emit(value)

    def show_biometry(self, biometry: dict[str, float], origin: str) -> None:
        """``origin`` says whose outline was measured (the model's, or the reviewed one)."""
        if biometry:
            self.readout.setText(f"{format_biometry(biometry)} ({origin})")
        elif self.value() <= 0:
            self.readout.setText("Biometry: set the pixel size to measure the head")
        else:
            self.readout.setText("Biometry: no head outline to measure")
