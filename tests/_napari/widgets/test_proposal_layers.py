"""Proposal <-> napari layers on a real HC18 head image with the scripted backend's answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from napari_fada._napari.widgets.proposal_layers import (
    ProposalLayers,
    add_proposal_layers,
    layers_to_proposal,
    render_mask,
)
from napari_fada.core.geometry import polygon_to_mask
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.core.vocabulary import structure_color, structure_id
from tests.scripted_backend import ScriptedBackend

HEAD_ID = "hc18_010_HC"
SPACING = 0.0799351646787


@pytest.fixture
def shown(make_napari_viewer, samples_dir: Path) -> tuple[ProposalLayers, Proposal]:
    viewer = make_napari_viewer()
    pixels = np.asarray(PILImage.open(samples_dir / "images" / f"{HEAD_ID}.png"))
    image = viewer.add_image(pixels, scale=(SPACING, SPACING), translate=(2.0, 3.0))
    proposal = ScriptedBackend().propose(pixels)
    return add_proposal_layers(viewer, proposal, image, HEAD_ID), proposal


def test_boxes_and_polygons_share_one_shapes_layer_with_features(shown) -> None:
    layers, proposal = shown
    shapes = layers.shapes
    assert shapes.shape_type == ["rectangle", "polygon", "rectangle", "rectangle", "polygon"]
    features = shapes.features
    head, csp, lv = proposal.annotations
    assert list(features["annotation_id"]) == [head.id, head.id, csp.id, lv.id, lv.id]
    assert list(features["kind"]) == ["box", "polygon", "box", "box", "polygon"]
    assert list(features["label"]) == ["head", "head", "CSP", "LV", "LV"]
    assert list(features["source"]) == ["scripted-1"] * 5
    assert list(features["status"]) == ["proposed"] * 5
    assert np.allclose(features["score"], [0.93, 0.93, 0.61, 0.42, 0.42])
    # one caption per annotation, on its box: a polygon's would lie on top of it
    assert list(shapes.text.values) == ["head 0.93", "", "CSP 0.61", "LV 0.42", ""]
    assert np.allclose(shapes.edge_color[2, :3], structure_color("CSP"))
    assert shapes.edge_color[0, 3] < 1.0  # proposals are see-through until accepted


def test_layers_sit_on_the_image_with_pixel_edges_half_a_pixel_off_centres(shown) -> None:
    layers, _ = shown
    for layer in layers.all():
        assert np.allclose(layer.scale, (SPACING, SPACING))
        assert np.allclose(layer.translate, (2.0, 3.0))
    # head box x 160..640, y 81..459 in pixels (image 800 x 540)
    assert np.allclose(
        layers.shapes.data[0], [[80.5, 159.5], [80.5, 639.5], [458.5, 639.5], [458.5, 159.5]]
    )


def test_mask_layer_shows_polygons_by_structure_id_with_names(shown) -> None:
    layers, proposal = shown
    head, _, lv = proposal.annotations
    expected = np.zeros((540, 800), np.uint8)
    expected[polygon_to_mask(head.polygon, 800, 540)] = structure_id("head")
    expected[polygon_to_mask(lv.polygon, 800, 540)] = structure_id("LV")
    assert np.array_equal(layers.labels.data, expected)
    names = dict(zip(layers.labels.features["index"], layers.labels.features["name"], strict=True))
    assert names[structure_id("head")] == "head" and names[structure_id("LV")] == "LV"
    assert layers.labels.get_status((270, 400))["value"] == f"{structure_id('head')}; name: head"
    color = layers.labels.colormap.map(np.array([structure_id("LV")]))[0]
    assert np.allclose(color[:3], structure_color("LV"), atol=1e-3)


def test_unchanged_layers_read_back_to_the_same_proposal(shown) -> None:
    layers, proposal = shown
    assert layers_to_proposal(layers, proposal) == proposal


def test_deleted_shapes_read_back_as_rejected_not_lost(shown) -> None:
    layers, proposal = shown
    layers.shapes.selected_data = {2}
    layers.shapes.remove_selected()
    csp = next(
        a for a in layers_to_proposal(layers, proposal, "ann").annotations if a.label == "CSP"
    )
    assert (
        csp.status == "rejected"
        and csp.annotator == "ann"
        and csp.box == proposal.annotations[1].box
    )


def test_rejected_polygons_leave_the_mask(shown) -> None:
    layers, _ = shown
    features = layers.shapes.features.copy()
    features.loc[features["label"] == "LV", "status"] = "rejected"
    layers.shapes.features = features
    assert structure_id("LV") not in np.unique(render_mask(layers))


def test_keypoints_go_to_a_points_layer_and_back(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((100, 200), np.uint8))
    proposal = Proposal(width=200, height=100)
    proposal.annotations.append(
        Annotation("CRL_KP", keypoints=[(10.0, 20.0, 2.0), (150.0, 80.0, 1.0)], source="m")
    )
    layers = add_proposal_layers(viewer, proposal, image, "kp")
    assert np.allclose(layers.points.data, [[19.5, 9.5], [79.5, 149.5]])
    assert list(layers.points.features["label"]) == ["CRL_KP", "CRL_KP"]
    assert layers_to_proposal(layers, proposal) == proposal
