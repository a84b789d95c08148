"""In every dock, a wheel turn over a drop-down, spin box or slider without focus edits nothing."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractSpinBox, QComboBox, QSlider, QWidget

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.inspection.widget import InspectionWidget
from napari_fada._napari.prelabel.widget import PrelabelWidget
from napari_fada._napari.review.widget import ReviewQueueWidget
from napari_fada._napari.training.widget import TrainingWidget
from napari_fada._napari.widgets.wheel_guard import GUARDED
from tests._napari.annotator.test_dock_layout import wheel


def value(field: QWidget) -> object:
    if isinstance(field, QComboBox):
        return field.currentIndex()
    if isinstance(field, QAbstractSpinBox):
        return field.text()
    assert isinstance(field, QSlider)
    return field.value()


@pytest.mark.parametrize(
    "dock", [AnnotatorWidget, ReviewQueueWidget, TrainingWidget, InspectionWidget, PrelabelWidget]
)
def test_unfocused_fields_ignore_the_wheel(make_napari_viewer, dock) -> None:
    widget = dock(make_napari_viewer())
    fields = [f for f in widget.findChildren(GUARDED) if f.isEnabled()]
    assert fields
    for field in fields:
        if isinstance(field, QComboBox) and field.count() > 1:
            field.setCurrentIndex(1)  # room to move either way
        before = value(field)
        assert field.focusPolicy() == Qt.FocusPolicy.StrongFocus
        for steps in (-1, 1):
            wheel(field, steps)
            assert value(field) == before, field.objectName() or type(field).__name__
