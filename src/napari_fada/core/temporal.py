"""Help across the frames of a cine clip: carry annotations on, smooth plane calls, rank frames.

A sweep changes little from one frame to the next, so an accepted outline is a good starting
proposal for the following frames (shifted by the frame-to-frame motion), one noisy frame should
not flip the plane class, and the frames that best show a plane can be found from what the model
said about each frame and how the frame looks.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from napari_fada.core.geometry import clamp_box, clamp_point
from napari_fada.core.proposal import Annotation, PlaneCall, Proposal, new_id, now_iso

CARRIED_PREFIX = "carried:"

#: Frames are compared at about this many pixels on the long side (speckle averages out).
_TRACK_SIZE = 128


def carried_source(source: str) -> str:
    """The source of an annotation carried from one with ``source`` (never carried twice)."""
    return source if source.startswith(CARRIED_PREFIX) else f"{CARRIED_PREFIX}{source}"


def carry_annotation(
    annotation: Annotation, from_frame: int, shift: tuple[float, float], width: int, height: int
) -> Annotation:
    """A proposed copy of ``annotation`` moved by ``shift`` (dx, dy pixels), clamped to the
    image, whose parent is ``annotation`` and whose flag names the frame it came from."""
    dx, dy = shift
    box = annotation.box
    if box is not None:
        box = clamp_box((box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy), width, height)
    polygon = None
    if annotation.polygon is not None:
        polygon = [clamp_point(x + dx, y + dy, width, height) for x, y in annotation.polygon]
    keypoints = None
    if annotation.keypoints is not None:
        keypoints = [
            (*clamp_point(x + dx, y + dy, width, height), v) for x, y, v in annotation.keypoints
        ]
    return replace(
        annotation,
        id=new_id(),
        parent_id=annotation.id,
        box=box,
        polygon=polygon,
        keypoints=keypoints,
        source=carried_source(annotation.source),
        status="proposed",
        flags=[*annotation.flags, f"carried_from_frame_{from_frame}"],
        annotator=None,
        created=now_iso(),
        edited=None,
        time_spent_s=0.0,
    )


def _tracking_view(frame: np.ndarray) -> np.ndarray:
    """The frame as float gray, shrunk to about :data:`_TRACK_SIZE` and smoothed."""
    gray = np.asarray(frame, dtype=float)
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    step = max(1, max(gray.shape) // _TRACK_SIZE)
    return ndimage.gaussian_filter(gray[::step, ::step], 1.5)


def frame_shift(previous: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(dx, dy) in pixels that moves content of ``previous`` onto ``current``.

    Phase correlation of smoothed, shrunk frames: robust to speckle, exact to the shrink step.
    """
    step = max(1, max(np.shape(previous)[:2]) // _TRACK_SIZE)
    a, b = _tracking_view(previous), _tracking_view(current)
    (row, col), _, _ = phase_cross_correlation(b, a, normalization=None)
    return float(col) * step, float(row) * step


def carry_forward(
    annotations: Sequence[Annotation],
    from_frame: int,
    frames: Sequence[np.ndarray],
    track: bool = True,
) -> list[list[Annotation]]:
    """Carry ``annotations`` of frame ``from_frame`` to the frames after it.

    ``frames`` are the source frame followed by the frames to carry to; one list of proposed
    annotations comes back per following frame. With ``track``, each frame's content shift from
    the previous one moves the geometry along (cumulatively); without, it stays in place.
    """
    height, width = np.shape(frames[0])[:2]
    carried: list[list[Annotation]] = []
    shift = (0.0, 0.0)
    for previous, current in itertools.pairwise(frames):
        if track:
            dx, dy = frame_shift(previous, current)
            shift = (shift[0] + dx, shift[1] + dy)
        carried.append([carry_annotation(a, from_frame, shift, width, height) for a in annotations])
    return carried


def with_carried(
    proposal: Proposal | None, carried: list[Annotation], width: int, height: int
) -> Proposal:
    """``proposal`` (or an empty one) where ``carried`` replace the still-proposed annotations of
    the same labels; decisions already taken stay."""
    labels = {a.label for a in carried}
    if proposal is None:
        return Proposal(width=width, height=height, annotations=list(carried))
    kept = [a for a in proposal.annotations if a.status != "proposed" or a.label not in labels]
    return replace(proposal, annotations=kept + list(carried))


# -- plane calls over time ------------------------------------------------------------------


def plane_distribution(plane: PlaneCall | None) -> dict[str, float] | None:
    """A plane call's probabilities, or its label with its score (1.0 when unknown)."""
    if plane is None:
        return None
    if plane.probabilities:
        return dict(plane.probabilities)
    return {plane.label: 1.0 if plane.score is None else float(plane.score)}


def smooth_distributions(
    track: Sequence[Mapping[str, float] | None], window: int = 5
) -> list[dict[str, float] | None]:
    """Centered moving average of per-frame plane probabilities over ``window`` frames.

    Frames without a call (None) neither contribute nor get one; a class missing from a frame's
    distribution counts as 0 there.
    """
    half = max(0, int(window) // 2)
    smoothed: list[dict[str, float] | None] = []
    for index, own in enumerate(track):
        if own is None:
            smoothed.append(None)
            continue
        near = [d for d in track[max(0, index - half) : index + half + 1] if d is not None]
        labels = {label for d in near for label in d}
        smoothed.append(
            {label: sum(d.get(label, 0.0) for d in near) / len(near) for label in labels}
        )
    return smoothed


def hysteresis_labels(
    track: Sequence[Mapping[str, float] | None], margin: float = 0.1
) -> list[str | None]:
    """The class per frame, changing only when another class beats the current one by
    ``margin``: a flicker between two near-equal classes does not flip the call."""
    labels: list[str | None] = []
    current: str | None = None
    for distribution in track:
        if not distribution:
            labels.append(None)
            continue
        best = max(distribution, key=lambda label: distribution[label])
        if current is None or distribution[best] > distribution.get(current, 0.0) + margin:
            current = best
        labels.append(current)
    return labels


def temporal_plane_calls(
    planes: Sequence[PlaneCall | None], window: int = 5, margin: float = 0.1
) -> list[PlaneCall | None]:
    """Each frame's plane call after smoothing over time (moving average, then hysteresis).

    The calls keep the source of the frame's own call prefixed with ``temporal:``.
    """
    smoothed = smooth_distributions([plane_distribution(p) for p in planes], window)
    labels = hysteresis_labels(smoothed, margin)
    calls: list[PlaneCall | None] = []
    for plane, distribution, label in zip(planes, smoothed, labels, strict=True):
        if plane is None or distribution is None or label is None:
            calls.append(None)
            continue
        calls.append(
            PlaneCall(
                label=label,
                score=distribution[label],
                probabilities=distribution,
                source=f"temporal:{plane.source}",
            )
        )
    return calls


# -- best frames ----------------------------------------------------------------------------


def image_quality(frame: np.ndarray) -> float:
    """Contrast of the anatomy at a scale above the speckle: the standard deviation of the
    smoothed frame over the 8-bit range. Shadowed, empty or washed-out frames score low."""
    return float(min(1.0, np.std(_tracking_view(frame)) / 64.0))


def completeness(proposal: Proposal, structures: Sequence[str]) -> float:
    """How fully the wanted ``structures`` are present: per structure the best score of a
    non-rejected annotation (1.0 without a score, 0 when absent), averaged."""
    if not structures:
        return 1.0
    found: dict[str, float] = {}
    for a in proposal.annotations:
        if a.status != "rejected":
            score = 1.0 if a.score is None else float(a.score)
            found[a.label] = max(found.get(a.label, 0.0), score)
    return sum(found.get(s, 0.0) for s in structures) / len(structures)


@dataclass(frozen=True)
class FrameEvidence:
    """What is known about one frame: the plane's (smoothed) probability, structure
    completeness and image quality, each in 0..1."""

    frame: int
    plane: float
    structures: float
    quality: float


@dataclass(frozen=True)
class RankWeights:
    plane: float = 0.5
    structures: float = 0.3
    quality: float = 0.2


@dataclass(frozen=True)
class RankedFrame:
    frame: int
    score: float
    evidence: FrameEvidence


def rank_frames(
    evidence: Sequence[FrameEvidence], weights: RankWeights = RankWeights()
) -> list[RankedFrame]:
    """Frames best first by the weighted sum of plane probability, completeness and quality.

    Quality is rescaled to 0..1 within the clip (min to max), since only its order along a
    sweep matters; ties go to the earlier frame.
    """
    qualities = [e.quality for e in evidence]
    low, high = (min(qualities), max(qualities)) if qualities else (0.0, 0.0)
    span = high - low

    def relative(quality: float) -> float:
        return (quality - low) / span if span > 0 else 1.0

    ranked = [
        RankedFrame(
            e.frame,
            weights.plane * e.plane
            + weights.structures * e.structures
            + weights.quality * relative(e.quality),
            e,
        )
        for e in evidence
    ]
    return sorted(ranked, key=lambda r: (-r.score, r.frame))
