"""Review shortcuts: none clashes with napari's bindings, and each reaches the reviewer."""

from __future__ import annotations

import napari.layers
import numpy as np
import pytest
from app_model.types import KeyBinding
from napari._app_model import get_app_model
from napari.components import ViewerModel
from napari.utils.key_bindings import coerce_keybinding
from napari.utils.shortcuts import default_shortcuts
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.review_keys import REVIEW_KEYS, bind_review_keys

LAYER_CLASSES = (
    napari.layers.Image,
    napari.layers.Labels,
    napari.layers.Points,
    napari.layers.Shapes,
    napari.layers.Surface,
    napari.layers.Tracks,
    napari.layers.Vectors,
)


def napari_keybindings(viewer: napari.Viewer) -> set[KeyBinding]:
    """Every key napari binds: viewer and layer keymaps, actions, and app-model menus.

    The viewer's own bindings are on ``ViewerModel.class_keymap`` (``napari.Viewer``'s is
    empty)."""
    keys = set(viewer.keymap) | set(ViewerModel.class_keymap) | set(type(viewer).class_keymap)
    for layer_class in LAYER_CLASSES:
        keys |= set(layer_class.class_keymap)
    keys |= {coerce_keybinding(k) for ks in default_shortcuts.values() for k in ks}
    keys |= {coerce_keybinding(str(kb.keybinding)) for kb in get_app_model().keybindings}
    return {k for k in keys if isinstance(k, KeyBinding)}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        return lambda: self.calls.append(name)


def test_no_review_key_clashes_with_napari(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    taken = napari_keybindings(viewer)
    assert len(taken) > 50  # the enumeration really found napari's bindings
    assert coerce_keybinding("Ctrl+Z") in taken
    # napari's "extend the layer selection", on ViewerModel.class_keymap
    assert {coerce_keybinding("Shift+Up"), coerce_keybinding("Shift+Down")} <= taken
    clashes = [key for key in REVIEW_KEYS if coerce_keybinding(key) in taken]
    assert clashes == []


QT_KEYS = {
    "Shift+R": (Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier),
    "Shift+E": (Qt.Key.Key_E, Qt.KeyboardModifier.ShiftModifier),
    "Shift+Y": (Qt.Key.Key_Y, Qt.KeyboardModifier.ShiftModifier),
    "Shift+N": (Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier),
    "Control+Shift+Y": (
        Qt.Key.Key_Y,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    ),
    "Control+Shift+N": (
        Qt.Key.Key_N,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    ),
    "Shift+Right": (Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier),
    "Shift+Left": (Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier),
}


@pytest.mark.parametrize("key", list(REVIEW_KEYS))
def test_key_press_on_the_canvas_reaches_the_reviewer(make_napari_viewer, qtbot, key) -> None:
    viewer = make_napari_viewer()
    viewer.add_shapes(name="boxes")  # an active Shapes layer: its keymap is consulted first
    recorder = Recorder()
    bind_review_keys(viewer, recorder)
    qt_key, modifiers = QT_KEYS[key]
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, qt_key, modifiers)
    assert recorder.calls == [REVIEW_KEYS[key][0]]


def test_deleting_the_annotator_widget_unbinds_its_keys(make_napari_viewer, qtbot) -> None:
    from napari_fada._napari.annotator.widget import AnnotatorWidget

    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    dock = viewer.window.add_dock_widget(widget)
    assert all(coerce_keybinding(key) in viewer.keymap for key in REVIEW_KEYS)
    viewer.window.remove_dock_widget(dock)  # napari only unparents the widget
    with qtbot.waitSignal(widget.destroyed, timeout=5_000):
        widget.deleteLater()
    assert not any(coerce_keybinding(key) in viewer.keymap for key in REVIEW_KEYS)
    viewer.add_image(np.zeros((8, 8)))  # no callback into the deleted widget
