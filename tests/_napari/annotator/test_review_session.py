"""Reviewing a proposal in its layers: decisions, timing, edits, manual shapes, painted masks."""

from __future__ import annotations

import numpy as np
import pytest

from napari_fada._napari.annotator.review_session import ReviewSession
from napari_fada._napari.widgets.proposal_layers import add_proposal_layers, px_to_rc
from napari_fada.core.geometry import polygon_to_mask
from napari_fada.core.proposal import MANUAL_SOURCE, Annotation, Proposal
from napari_fada.core.vocabulary import structure_id
from tests.scripted_backend import ScriptedBackend


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session(make_napari_viewer, clock: FakeClock) -> ReviewSession:
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((256, 256), np.uint8))
    proposal = ScriptedBackend().propose(image.data)
    layers = add_proposal_layers(viewer, proposal, image, "img")
    return ReviewSession(layers, proposal, default_label="CSP", clock=clock)


def _by_label(session: ReviewSession) -> dict:
    return {a.label: a for a in session.to_proposal("ana").annotations}


def test_accept_without_selection_takes_the_next_proposal_and_times_it(session, clock) -> None:
    clock.now += 4.5
    head_id = session.base.annotations[0].id
    assert session.accept() == [head_id]
    clock.now += 1.0
    session.accept()
    read = _by_label(session)
    assert (read["head"].status, read["head"].time_spent_s) == ("accepted", 4.5)
    assert (read["CSP"].status, read["CSP"].time_spent_s) == ("accepted", 5.5)
    assert read["head"].annotator == "ana" and read["LV"].status == "proposed"
    assert session.layers.shapes.edge_color[0, 3] == 1.0


def test_reject_selected_then_accept_all_keeps_the_rejection(session) -> None:
    session.layers.shapes.selected_data = {3}  # LV box
    session.reject()
    assert session.accept_all() == [a.id for a in session.base.annotations[:2]]
    read = _by_label(session)
    assert [read[k].status for k in ("head", "CSP", "LV")] == ["accepted", "accepted", "rejected"]
    assert structure_id("LV") not in np.unique(session.layers.labels.data)


def test_reject_all_rejects_what_is_still_proposed(session) -> None:
    session.accept()
    session.reject_all()
    read = _by_label(session)
    assert [read[k].status for k in ("head", "CSP", "LV")] == ["accepted", "rejected", "rejected"]


def test_moving_vertices_marks_an_edit_under_a_new_id(session) -> None:
    shapes = session.layers.shapes
    lv = session.base.annotations[2]
    data = list(shapes.data)
    data[4] = data[4] + np.array([5.0, 0.0])
    shapes.data = list(zip(data, shapes.shape_type, strict=True))
    read = _by_label(session)["LV"]
    assert read.status == "edited" and read.parent_id == lv.id and read.id != lv.id
    assert np.allclose(read.polygon, [(x, y + 5) for x, y in lv.polygon], atol=1e-3)
    assert read.source == "scripted-1" and read.score == 0.42
    session.accept(ids=[read.id])
    assert _by_label(session)["LV"].status == "edited"  # accepting an edit keeps it an edit


def test_relabelling_marks_an_edit(session) -> None:
    session.layers.shapes.selected_data = {2}
    session.set_label("NT")
    read = _by_label(session)
    assert read["NT"].status == "edited" and read["NT"].parent_id == session.base.annotations[1].id
    assert "CSP" not in read


def test_a_drawn_shape_becomes_a_manual_accepted_annotation(session) -> None:
    session.layers.shapes.selected_data = {0}  # napari copies the selection's features
    session.layers.shapes.add_rectangles([np.array([[10, 10], [10, 40], [30, 40], [30, 10]])])
    manual = [a for a in session.to_proposal().annotations if a.source == MANUAL_SOURCE]
    assert len(manual) == 1
    assert (manual[0].label, manual[0].status, manual[0].score) == ("CSP", "accepted", None)
    assert manual[0].box == (10.5, 10.5, 40.5, 30.5)
    ids = {a.id for a in session.to_proposal().annotations}
    assert manual[0].id in ids and len(ids) == 4  # stable across saves


def test_painted_mask_regions_become_polygons(session) -> None:
    labels = session.layers.labels
    painted = labels.data.copy()
    stomach_id = structure_id("stomach")
    painted[200:220, 20:60] = stomach_id
    labels.data = painted
    read = _by_label(session)
    stomach = read["stomach"]
    assert (stomach.source, stomach.status) == (MANUAL_SOURCE, "accepted")
    assert np.array_equal(polygon_to_mask(stomach.polygon, 256, 256), painted == stomach_id)
    assert read["head"].status == "proposed"


def test_erasing_a_polygon_on_the_mask_rejects_it(session) -> None:
    labels = session.layers.labels
    painted = labels.data.copy()
    painted[painted == structure_id("LV")] = structure_id("head")
    labels.data = painted
    assert _by_label(session)["LV"].status == "rejected"


def test_px_to_rc_shifts_pixel_edges_to_napari_centres() -> None:
    assert np.allclose(px_to_rc([(0.5, 0.5), (10.0, 4.0)]), [[0.0, 0.0], [3.5, 9.5]])


def test_accept_all_confirms_the_plane_call_and_a_correction_is_an_edit(session) -> None:
    session.accept_all()
    assert session.to_proposal().plane.status == "accepted"
    session.set_plane("head")
    plane = session.to_proposal().plane
    assert (plane.label, plane.status, plane.score, plane.source) == (
        "head",
        "edited",
        None,
        "scripted-1",
    )


def test_accepting_one_proposal_confirms_the_plane_call_still_proposed(session) -> None:
    assert session.to_proposal().plane.status == "proposed"
    session.accept()
    proposal = session.to_proposal()
    assert proposal.plane.status == "accepted" and proposal.decision is None
    session.reject()  # rejecting one shape leaves the plane call as it is
    assert session.to_proposal().plane.status == "accepted"


def test_image_decisions_are_recorded_with_the_proposal(session) -> None:
    session.reject_all()
    assert session.to_proposal().decision == "rejected"
    session.accept_all()  # what is decided stands; the image decision is the last one
    assert session.to_proposal().decision == "accepted"


def test_nothing_to_label_rejects_everything_open_and_marks_a_true_negative(session) -> None:
    assert session.nothing_to_label()
    proposal = session.to_proposal()
    assert proposal.decision == "nothing_to_label" and proposal.kept() == []
    assert {a.status for a in proposal.annotations} == {"rejected"}
    assert proposal.plane.status == "rejected"


def test_nothing_to_label_is_refused_while_an_annotation_is_kept(session) -> None:
    session.accept()
    assert not session.nothing_to_label()
    proposal = session.to_proposal()
    assert proposal.decision is None and len(proposal.kept()) == 1
    assert "proposed" in {a.status for a in proposal.annotations}


def test_painting_survives_a_decision_taken_before_saving(session) -> None:
    labels = session.layers.labels
    labels.data[200:220, 20:60] = structure_id("stomach")  # napari paints in place
    session.layers.shapes.selected_data = {3}
    session.reject()  # redraws the mask without LV: the painting must become a polygon first
    read = _by_label(session)
    assert read["stomach"].status == "accepted" and read["LV"].status == "rejected"
    assert np.all(labels.data[200:220, 20:60] == structure_id("stomach"))


@pytest.fixture
def keypoint_session(make_napari_viewer) -> ReviewSession:
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((100, 200), np.uint8))
    crl = Annotation("CRL_KP", keypoints=[(10.0, 20.0, 2.0), (150.0, 80.0, 2.0)], source="m")
    proposal = Proposal(width=200, height=100, annotations=[crl])
    layers = add_proposal_layers(viewer, proposal, image, "kp")
    return ReviewSession(layers, proposal, default_label="NTKpoints")


def test_moving_a_keypoint_is_an_edit(keypoint_session) -> None:
    points = keypoint_session.layers.points
    data = points.data.copy()
    data[1] += (2.0, 0.0)
    points.data = data
    (crl,) = keypoint_session.to_proposal().annotations
    assert crl.status == "edited" and crl.keypoints == [(10.0, 20.0, 2.0), (150.0, 82.0, 2.0)]


def test_points_placed_by_hand_form_one_manual_keypoint_annotation(keypoint_session) -> None:
    points = keypoint_session.layers.points
    points.selected_data = {0}  # napari copies the selection's features onto new points
    points.add([[49.5, 9.5]])
    points.add([[59.5, 29.5]])
    read = {a.label: a for a in keypoint_session.to_proposal().annotations}
    assert (read["CRL_KP"].status, len(read["CRL_KP"].keypoints)) == ("proposed", 2)
    manual = read["NTKpoints"]
    assert (manual.source, manual.status) == (MANUAL_SOURCE, "accepted")
    assert manual.keypoints == [(10.0, 50.0, 2.0), (30.0, 60.0, 2.0)]


def test_drawing_on_an_image_with_nothing_proposed(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((50, 80), np.uint8))
    empty = Proposal(width=80, height=50)
    session = ReviewSession(add_proposal_layers(viewer, empty, image, "e"), empty, "arm")
    assert session.to_proposal().annotations == []
    session.layers.shapes.add_polygons([np.array([[4.5, 4.5], [4.5, 20.5], [30.5, 20.5]])])
    session.layers.points.add([[9.5, 9.5]])
    drawn, placed = session.to_proposal().annotations
    assert (drawn.label, drawn.status, drawn.source) == ("arm", "accepted", MANUAL_SOURCE)
    assert np.allclose(drawn.polygon, [(5.0, 5.0), (21.0, 5.0), (21.0, 31.0)])
    assert (placed.label, placed.keypoints, placed.polygon) == ("arm", [(10.0, 10.0, 2.0)], None)
    assert structure_id("arm") in np.unique(session.layers.labels.data)
