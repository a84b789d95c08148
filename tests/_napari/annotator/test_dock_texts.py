"""The dock's texts are true for the image on screen: counts, interpretation, plane, routing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_fada._napari.annotator.widget import AnnotatorWidget
from napari_fada._napari.widgets.structure_picker import NO_ROUTE
from napari_fada.core.proposal import Proposal
from napari_fada.core.vocabulary import Route
from tests._napari.annotator.test_annotator_widget import HEAD, open_sample, propose
from tests.scripted_backend import DEFAULT_ITEMS, ScriptedBackend


class OwnRouting(ScriptedBackend):
    """Names its planes and routes by its own table, as the embedded model does: "head" on a
    trans-thalamic plane, where FADA's routing would ask for Brain, CSP and LV."""

    def __init__(self, items=DEFAULT_ITEMS[:1], interpretation: bool = True) -> None:
        super().__init__(items=items, plane="trans-thalamic")
        self.interpretation = interpretation

    def propose(self, image, request=None, progress=None, cancel=None) -> Proposal:
        proposal = super().propose(image, request, progress, cancel)
        if not self.interpretation:
            proposal.interpretation = None
        return proposal

    def route(self, plane_label, interpretation=None) -> Route:
        wanted = ("head",) if plane_label == "trans-thalamic" else ()
        return Route("embedded", f"the model's routing for plane {plane_label!r}", wanted, wanted)


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def widget(make_napari_viewer, tmp_path: Path) -> AnnotatorWidget:
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.set_backend(OwnRouting(interpretation=False))
    widget.open_dataset(tmp_path / "dataset")
    return widget


def test_one_proposal_and_no_interpretation_read_right(widget, qtbot, samples_dir) -> None:
    open_sample(widget.viewer, samples_dir, HEAD)
    propose(widget, qtbot)
    assert widget.status.text() == "1 proposal from scripted-1"
    assert widget.interpretation.toPlainText() == ""  # not "{}"
    assert widget.interpretation.placeholderText() == "no interpretation"


def test_no_plane_is_offered_before_a_proposal(widget, qtbot, samples_dir) -> None:
    open_sample(widget.viewer, samples_dir, HEAD)
    assert widget.plane_combo.currentText() == ""  # not the first class, "huvf"
    widget.set_plane()
    assert widget.session is None or widget.session.plane is None
    propose(widget, qtbot)
    assert widget.plane_combo.currentText() == "trans-thalamic"
    widget.viewer.add_image(np.zeros((40, 60), np.uint8), name="next")
    assert widget.plane_combo.currentText() == ""  # the last image's plane is not this one's


def test_routing_names_the_models_structures_and_leaves_with_its_image(
    widget, qtbot, samples_dir
) -> None:
    open_sample(widget.viewer, samples_dir, HEAD)
    assert widget.structures.route_label.text() == NO_ROUTE
    propose(widget, qtbot)
    text = widget.structures.route_label.text()
    assert "detect head;" in text and "Brain" not in text
    assert [a.label for a in widget.session.base.annotations] == ["head"]
    widget.viewer.add_image(np.zeros((40, 60), np.uint8), name="next")
    assert widget.structures.route_label.text() == NO_ROUTE
    assert widget.plane_label.text() == "Plane: -"
