"""The proposals of every frame of one cine clip, as they stream in, and what follows from them.

The store keeps each frame's proposal as the model (or a carry-forward) made it; what a frame
shows for review comes from :meth:`ClipProposals.proposal`, whose plane call is the one smoothed
over time. Decisions taken on a frame live in the dataset once saved, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from napari_fada.core.proposal import PlaneCall, Proposal
from napari_fada.core.temporal import (
    FrameEvidence,
    RankedFrame,
    completeness,
    rank_frames,
    temporal_plane_calls,
)
from napari_fada.core.vocabulary import route


def accepted(proposal: Proposal, annotator: str | None = None) -> Proposal:
    """``proposal`` with every still-proposed annotation and plane call accepted; decisions
    already taken stand (what Accept all does on a single image)."""
    annotations = [
        a.with_status("accepted", annotator) if a.status == "proposed" else a
        for a in proposal.annotations
    ]
    plane = proposal.plane
    if plane is not None and plane.status == "proposed":
        plane = replace(plane, status="accepted")
    return replace(proposal, annotations=annotations, plane=plane)


class ClipProposals:
    """Frame index -> proposal for a clip of ``n_frames``, with each frame's image quality."""

    def __init__(self, clip_id: str | None, n_frames: int, window: int = 5) -> None:
        self.clip_id = clip_id
        self.n_frames = n_frames
        self.window = window
        self._proposals: dict[int, Proposal] = {}
        self._quality: dict[int, float] = {}
        self._calls: list[PlaneCall | None] | None = None

    def __contains__(self, frame: object) -> bool:
        return frame in self._proposals

    def __len__(self) -> int:
        return len(self._proposals)

    def frames(self) -> list[int]:
        return sorted(self._proposals)

    def missing(self) -> list[int]:
        """Frames still without a proposal, in order."""
        return [i for i in range(self.n_frames) if i not in self._proposals]

    def put(self, frame: int, proposal: Proposal, quality: float | None = None) -> None:
        self._proposals[frame] = proposal
        if quality is not None:
            self._quality[frame] = quality
        self._calls = None

    def set_window(self, window: int) -> None:
        self.window = window
        self._calls = None

    def raw(self, frame: int) -> Proposal | None:
        """The frame's proposal as stored (its own plane call)."""
        return self._proposals.get(frame)

    def plane_calls(self) -> list[PlaneCall | None]:
        """Every frame's plane call smoothed over :attr:`window` frames (None: no proposal)."""
        if self._calls is None:
            own = [self._own_plane(i) for i in range(self.n_frames)]
            self._calls = temporal_plane_calls(own, self.window)
        return self._calls

    def _own_plane(self, frame: int) -> PlaneCall | None:
        proposal = self._proposals.get(frame)
        return proposal.plane if proposal is not None else None

    def proposal(self, frame: int) -> Proposal | None:
        """The frame's proposal for review: its plane call is the smoothed one, and a note in
        ``issues`` says so when smoothing changed the class."""
        proposal = self._proposals.get(frame)
        smoothed = self.plane_calls()[frame] if proposal is not None else None
        if proposal is None or smoothed is None or self.window <= 1:
            return proposal
        issues = list(proposal.issues)
        own = proposal.plane
        if own is not None and own.label != smoothed.label:
            issues.append(
                f"plane smoothed over {self.window} frames: {smoothed.label} "
                f"(this frame alone: {own.label} {own.score or 0:.2f})"
            )
        return replace(proposal, plane=smoothed, issues=issues)

    def plane_labels(self) -> list[str]:
        """Plane classes seen in any frame's distribution, most often called first."""
        counts: dict[str, int] = {}
        for call in self.plane_calls():
            if call is not None:
                for label in call.probabilities or {call.label: 1.0}:
                    counts.setdefault(label, 0)
                counts[call.label] += 1
        return sorted(counts, key=lambda label: -counts[label])

    def ranking(self, plane: str, structures: Sequence[str] | None = None) -> list[RankedFrame]:
        """Frames with a proposal, best first for showing ``plane`` (see :func:`rank_frames`).

        ``structures`` are those the model asks for on that plane, in its names (its
        ``route``); None means FADA's routing.
        """
        wanted = route(plane).detect if structures is None else tuple(structures)
        calls = self.plane_calls()
        evidence = []
        for frame, proposal in sorted(self._proposals.items()):
            call = calls[frame]
            probability = (call.probabilities or {call.label: call.score or 0.0}) if call else {}
            evidence.append(
                FrameEvidence(
                    frame=frame,
                    plane=float(probability.get(plane, 0.0)),
                    structures=completeness(proposal, wanted),
                    quality=self._quality.get(frame, 0.0),
                )
            )
        return rank_frames(evidence)
