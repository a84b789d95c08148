"""Prompting in a real viewer: the prompt layers, the outline they make in the annotator's
shapes, corrections of a proposal, Ctrl+Z through prompts, and keys that clash with nothing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from napari.utils.key_bindings import coerce_keybinding
from qtpy.QtCore import Qt

from napari_fada._napari.annotator.review_session import ReviewSession
from napari_fada._napari.prompting.controller import SIGN_KEY, UNDO_KEY, PromptController
from napari_fada._napari.prompting.layers import (
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    read_box,
    read_clicks,
)
from napari_fada._napari.widgets.proposal_layers import add_proposal_layers
from napari_fada.core.geometry import mask_box
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.prompting.frame import Pyramid
from tests._napari.annotator.test_review_keys import napari_keybindings

pytestmark = pytest.mark.qt


class DiskPredictor:
    """A stand-in model: the box's inscribed rectangle, plus a disk of radius 6 around each
    positive click, minus one around each negative click; a click alone on a mask adds to it."""

    model_id = "disks"

    def __init__(self) -> None:
        self.calls = 0

    @staticmethod
    def encode(image: np.ndarray) -> Pyramid:
        return Pyramid(np.asarray(image, dtype=np.float32))

    def predict(self, pyramid, box, clicks, previous=None) -> np.ndarray:
        self.calls += 1
        yy, xx = np.mgrid[: pyramid.height, : pyramid.width] + 0.5
        mask = np.zeros((pyramid.height, pyramid.width), dtype=bool)
        if previous is not None and box is None:
            mask |= previous
        if box is not None:
            mask |= (xx >= box[0]) & (xx <= box[2]) & (yy >= box[1]) & (yy <= box[3])
        for click in clicks:
            disk = (xx - click.x) ** 2 + (yy - click.y) ** 2 <= 36
            mask = mask | disk if click.positive else mask & ~disk
        return mask


class Host:
    def __init__(self, viewer, proposal: Proposal) -> None:
        self.viewer = viewer
        pixels = np.zeros((proposal.height, proposal.width), np.uint8)
        layer = viewer.add_image(pixels)
        self.image = SimpleNamespace(layer=layer, pixels=pixels)
        layers = add_proposal_layers(viewer, proposal, layer, "img")
        self.session = ReviewSession(layers, proposal, default_label="head")
        self.errors: list[BaseException] = []

    def report_error(self, error: BaseException) -> None:
        self.errors.append(error)

    def review_without_proposal(self) -> None:
        raise AssertionError("the fixture's image is already under review")


PROPOSED = Annotation(
    "CSP", polygon=[(60.0, 20.0), (80.0, 20.0), (80.0, 40.0), (60.0, 40.0)], score=0.8,
    source="model-x", id="p1",
)  # fmt: skip


@pytest.fixture
def host(make_napari_viewer) -> Host:
    return Host(make_napari_viewer(), Proposal(width=100, height=60, annotations=[PROPOSED]))


@pytest.fixture
def controller(host: Host) -> PromptController:
    label = {"name": "head"}
    controller = PromptController(host, lambda: label["name"], DiskPredictor)
    controller.label_box = label  # type: ignore[attr-defined]
    controller.start()
    return controller


def _rows(host: Host, source_prefix: str = "prompted:") -> list:
    features = host.session.layers.shapes.features
    return [r for _, r in features.iterrows() if str(r["source"]).startswith(source_prefix)]


def _saved(host: Host, annotation_id: str) -> Annotation:
    return next(a for a in host.session.to_proposal("ana").annotations if a.id == annotation_id)


def test_a_box_then_clicks_outline_a_new_object(host, controller):
    layers = controller.layers
    layers.box.add_rectangles(np.array([[9.5, 9.5], [29.5, 39.5]]))  # x 10..40, y 10..30
    (row,) = _rows(host)
    assert row["label"] == "head" and row["status"] == "accepted"
    assert row["source"] == "prompted:disks"
    annotation = _saved(host, row["annotation_id"])
    assert annotation.box == pytest.approx((10.0, 10.0, 40.0, 30.0), abs=0.6)
    layers.points.add(np.array([[20.0, 44.5]]))  # a positive click just right of the box
    annotation = _saved(host, row["annotation_id"])
    assert annotation.box[2] > 45  # the outline grew to take the click in
    assert annotation.prompts["points"] == [{"x": 45.0, "y": 20.5, "positive": True}]
    assert annotation.prompts["box"] == pytest.approx([10.0, 10.0, 40.0, 30.0], abs=0.6)
    assert annotation.source == "prompted:disks" and annotation.status == "accepted"
    assert host.errors == []


def test_negative_points_are_red_and_carve_the_mask(host, controller):
    layers = controller.layers
    layers.box.add_rectangles(np.array([[9.5, 9.5], [29.5, 39.5]]))
    controller.toggle_sign()
    layers.points.add(np.array([[20.0, 25.0]]))
    assert read_clicks(layers.points)[0].positive is False
    assert tuple(layers.points.face_color[0]) == pytest.approx(NEGATIVE_COLOR)
    controller.toggle_sign()
    layers.points.add(np.array([[12.0, 12.0]]))
    assert tuple(layers.points.face_color[1]) == pytest.approx(POSITIVE_COLOR)
    assert controller.session.mask[20, 25] == np.False_


def test_undo_steps_back_through_prompts_to_nothing(host, controller):
    layers = controller.layers
    layers.box.add_rectangles(np.array([[9.5, 9.5], [29.5, 39.5]]))
    layers.points.add(np.array([[20.0, 44.5]]))
    grown = mask_box(controller.session.mask)
    controller.undo()
    assert len(layers.points.data) == 0
    assert mask_box(controller.session.mask)[2] < grown[2]
    controller.undo()
    assert read_box(layers.box) is None
    assert _rows(host) == []  # the new object's outline is gone with its last prompt


def test_a_click_on_a_proposal_corrects_it_and_undo_restores_it(host, controller):
    controller.label_box["name"] = "CSP"
    layers = controller.layers
    layers.points.add(np.array([[30.0, 85.0]]))  # outside the proposal: a new object...
    assert _rows(host)[0]["label"] == "CSP"
    controller.new_object()
    controller.undo()  # nothing left to undo: harmless
    layers.points.add(np.array([[30.0, 70.0]]))  # inside proposal p1 (x 60..80, y 20..40)
    (edited,) = [r for r in _rows(host) if r["parent_id"] == "p1"]
    assert edited["status"] == "edited" and edited["label"] == "CSP"
    saved = _saved(host, edited["annotation_id"])
    assert saved.prompts["from_proposal"] is True and saved.parent_id == "p1"
    controller.undo()
    features = host.session.layers.shapes.features
    assert "p1" in set(features["annotation_id"])
    restored = _saved(host, "p1")
    assert restored.status == "proposed" and restored.source == "model-x"
    assert np.allclose(restored.polygon, PROPOSED.polygon, atol=1e-3)


def test_a_second_box_starts_a_second_object(host, controller):
    layers = controller.layers
    layers.box.add_rectangles(np.array([[9.5, 9.5], [19.5, 19.5]]))
    layers.box.add_rectangles(np.array([[39.5, 9.5], [49.5, 29.5]]))
    assert len(_rows(host)) == 2 and layers.box.nshapes == 1


def test_the_sign_key_clashes_with_nothing_in_napari(make_napari_viewer):
    taken = napari_keybindings(make_napari_viewer())
    assert coerce_keybinding(SIGN_KEY) not in taken
    assert coerce_keybinding(UNDO_KEY) in taken  # napari's own, on Labels only: hence ours is
    # bound on the prompt layers alone (checked on the canvas below)


def test_keys_on_the_canvas_reach_the_prompt_layers_only(host, controller, qtbot):
    canvas = host.viewer.window._qt_viewer.canvas.native
    layers = controller.layers
    layers.box.add_rectangles(np.array([[9.5, 9.5], [29.5, 39.5]]))
    layers.points.add(np.array([[20.0, 44.5]]))
    host.viewer.layers.selection.active = layers.points
    qtbot.keyClick(canvas, Qt.Key.Key_X, Qt.KeyboardModifier.ShiftModifier)
    assert controller.layers.points.feature_defaults["positive"].iloc[0] == np.False_
    host.viewer.layers.selection.active = host.session.layers.labels
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(layers.points.data) == 1  # Ctrl+Z on the masks is napari's undo, not ours
    host.viewer.layers.selection.active = layers.points
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(layers.points.data) == 0


def test_prompts_survive_as_json_in_the_shapes_features(host, controller):
    controller.layers.box.add_rectangles(np.array([[9.5, 9.5], [29.5, 39.5]]))
    (row,) = _rows(host)
    assert json.loads(row["prompts"])["model"] == "disks"
