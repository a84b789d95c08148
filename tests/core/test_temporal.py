"""Temporal help on constructed clips: carrying with motion, smoothing a flipped frame, ranking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_fada.core.clip_proposals import ClipProposals, accepted
from napari_fada.core.proposal import Annotation, PlaneCall, Proposal
from napari_fada.core.temporal import (
    FrameEvidence,
    carry_forward,
    completeness,
    frame_shift,
    hysteresis_labels,
    image_quality,
    rank_frames,
    smooth_distributions,
    temporal_plane_calls,
    with_carried,
)

HEIGHT, WIDTH = 120, 160


def blob_frame(cx: float, cy: float, seed: int = 0) -> np.ndarray:
    """A bright ellipse on speckle, centred at (cx, cy)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:HEIGHT, :WIDTH]
    inside = ((cols - cx) / 30) ** 2 + ((rows - cy) / 20) ** 2 <= 1
    frame = 40 + 150 * inside + rng.normal(0, 12, (HEIGHT, WIDTH))
    return np.clip(frame, 0, 255).astype(np.uint8)


def call(label: str, p: float, other: str = "Other") -> PlaneCall:
    return PlaneCall(label, p, {label: p, other: 1 - p}, "model-1")


def test_frame_shift_finds_the_motion_between_frames() -> None:
    dx, dy = frame_shift(blob_frame(60, 50), blob_frame(68, 47, seed=1))
    assert (dx, dy) == pytest.approx((8, -3), abs=1)


def test_carry_forward_moves_a_box_and_polygon_with_the_content_and_marks_provenance() -> None:
    source = Annotation(
        "head",
        box=(30, 30, 90, 70),
        polygon=[(30, 50), (60, 30), (90, 50), (60, 70)],
        score=0.9,
        source="model-1",
        status="accepted",
        annotator="ana",
    )
    frames = [blob_frame(60 + 5 * t, 50, seed=t) for t in range(4)]
    carried = carry_forward([source], 7, frames)
    assert len(carried) == 3
    for step, (annotation,) in enumerate(carried, start=1):
        assert annotation.status == "proposed" and annotation.annotator is None
        assert annotation.source == "carried:model-1" and annotation.parent_id == source.id
        assert "carried_from_frame_7" in annotation.flags
        assert annotation.box == pytest.approx((30 + 5 * step, 30, 90 + 5 * step, 70), abs=1.5)
        assert annotation.polygon[0] == pytest.approx((30 + 5 * step, 50), abs=1.5)
    assert len({a.id for (a,) in carried}) == 3


def test_carry_without_tracking_keeps_the_geometry_and_clamps_to_the_image() -> None:
    source = Annotation("CSP", box=(100, 10, 170, 40), source="carried:model-1", status="edited")
    frames = [blob_frame(60, 50), blob_frame(90, 50)]
    ((annotation,),) = carry_forward([source], 0, frames, track=False)
    assert annotation.box == (100, 10, WIDTH, 40)
    assert annotation.source == "carried:model-1"  # not carried:carried:


def test_carried_replace_only_open_proposals_of_their_labels() -> None:
    decided = Annotation("head", box=(0, 0, 5, 5), status="rejected")
    open_head = Annotation("head", box=(1, 1, 6, 6))
    open_lv = Annotation("LV", box=(2, 2, 4, 4))
    carried = [Annotation("head", box=(3, 3, 9, 9), source="carried:m")]
    before = Proposal(WIDTH, HEIGHT, [decided, open_head, open_lv])
    merged = with_carried(before, carried, WIDTH, HEIGHT)
    assert [a.id for a in merged.annotations] == [decided.id, open_lv.id, carried[0].id]
    fresh = with_carried(None, carried, WIDTH, HEIGHT)
    assert (fresh.width, fresh.height, fresh.annotations) == (WIDTH, HEIGHT, carried)


def test_smoothing_removes_a_single_flipped_frame() -> None:
    steady = [call("BPD_PLANE", 0.8)] * 4
    raw = [*steady, call("Other", 0.9, "BPD_PLANE"), *steady]
    assert [c.label for c in raw].count("Other") == 1
    smoothed = temporal_plane_calls(raw, window=5)
    assert [c.label for c in smoothed] == ["BPD_PLANE"] * 9
    assert smoothed[4].source == "temporal:model-1"
    assert smoothed[4].score == pytest.approx((0.8 * 4 + 0.1) / 5)
    # a real change of plane that lasts does come through
    lasting = [call("BPD_PLANE", 0.8)] * 5 + [call("Other", 0.9, "BPD_PLANE")] * 5
    assert [c.label for c in temporal_plane_calls(lasting, window=3)][-3:] == ["Other"] * 3


def test_smoothing_skips_frames_without_a_call() -> None:
    track = [{"a": 1.0}, None, {"a": 0.0, "b": 1.0}]
    assert smooth_distributions(track, window=3) == [{"a": 1.0}, None, {"a": 0.0, "b": 1.0}]
    assert smooth_distributions(track, window=5)[0] == {"a": 0.5, "b": 0.5}


def test_hysteresis_holds_the_class_through_a_near_tie() -> None:
    track = [{"a": 0.7, "b": 0.3}, {"a": 0.48, "b": 0.52}, {"a": 0.3, "b": 0.7}]
    assert hysteresis_labels(track, margin=0.1) == ["a", "a", "b"]
    assert hysteresis_labels(track, margin=0.0) == ["a", "b", "b"]


def test_ranking_orders_frames_by_the_weighted_evidence() -> None:
    evidence = [
        FrameEvidence(0, plane=0.2, structures=1.0, quality=0.5),
        FrameEvidence(1, plane=0.9, structures=1.0, quality=0.1),
        FrameEvidence(2, plane=0.9, structures=1.0, quality=0.3),
        FrameEvidence(3, plane=0.9, structures=0.0, quality=0.5),
    ]
    ranked = rank_frames(evidence)
    assert [r.frame for r in ranked] == [2, 1, 3, 0]  # quality relative: 1, 0, 0.5, 1
    assert ranked[0].score == pytest.approx(0.5 * 0.9 + 0.3 + 0.2 * 0.5)


def test_image_quality_prefers_visible_anatomy_to_an_empty_frame() -> None:
    empty = np.full((HEIGHT, WIDTH), 40, np.uint8)
    assert image_quality(blob_frame(60, 50)) > image_quality(ndimage.uniform_filter(empty, 3)) + 0.3


def test_completeness_uses_the_best_non_rejected_score_per_structure() -> None:
    proposal = Proposal(
        WIDTH,
        HEIGHT,
        [
            Annotation("Brain", score=0.6),
            Annotation("Brain", score=0.8),
            Annotation("CSP", score=0.9, status="rejected"),
            Annotation("LV"),
        ],
    )
    assert completeness(proposal, ("Brain", "CSP", "LV")) == pytest.approx((0.8 + 0 + 1) / 3)


def test_clip_store_shows_smoothed_planes_and_ranks_its_frames() -> None:
    clip = ClipProposals("clip-1", n_frames=6, window=3)
    for frame, (label, p) in enumerate([("head", 0.9), ("head", 0.9), ("Other", 0.6)]):
        proposal = Proposal(WIDTH, HEIGHT, [Annotation("head", score=0.9)])
        proposal.plane = call(label, p, "Other" if label == "head" else "head")
        clip.put(frame, proposal, quality=0.5)
    assert clip.missing() == [3, 4, 5] and len(clip) == 3 and 2 in clip
    shown = clip.proposal(2)
    assert shown.plane.label == "head" and clip.raw(2).plane.label == "Other"
    assert "this frame alone: Other 0.60" in shown.issues[-1]
    assert clip.plane_labels()[0] == "head"
    ranked = clip.ranking("head", ["head"])  # smoothed head: 0.9, 0.73, 0.65
    assert [r.frame for r in ranked] == [0, 1, 2]
    assert clip.ranking("head", ["head", "CSP"])[0].evidence.structures == pytest.approx(0.45)


def test_accepted_accepts_what_is_open_and_keeps_decisions() -> None:
    proposal = Proposal(
        WIDTH,
        HEIGHT,
        [Annotation("head"), Annotation("LV", status="rejected")],
        plane=call("head", 0.9),
    )
    done = accepted(proposal, "ana")
    assert [(a.status, a.annotator) for a in done.annotations] == [
        ("accepted", "ana"),
        ("rejected", None),
    ]
    assert done.plane.status == "accepted"
    assert proposal.annotations[0].status == "proposed"
