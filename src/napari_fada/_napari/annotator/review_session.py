"""Reviewing one image's proposal in its layers: accept, reject, relabel, edits and timing.

The session keeps the layers' ``features`` truthful as the person works: a shape drawn by hand
becomes a manual, accepted annotation; a proposal whose geometry or label changes becomes
"edited" under a new id whose ``parent_id`` is the proposal's. Time spent on an annotation runs
from when it was shown to when it was accepted or rejected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from napari_fada._napari.annotator.painted_labels import PaintedChanges, painted_changes
from napari_fada._napari.widgets.proposal_layers import (
    ProposalLayers,
    caption,
    layers_to_proposal,
    px_to_rc,
    rc_to_px,
    restyle,
    same_geometry,
    same_keypoints,
    shape_geometry,
)
from napari_fada.core.proposal import (
    MANUAL_SOURCE,
    Annotation,
    ImageDecision,
    PlaneCall,
    Proposal,
    Status,
    new_id,
    now_iso,
)

#: Statuses an annotation keeps when accepted (an edit is already a decision).
_KEPT_ON_ACCEPT = {"edited"}


class ReviewSession:
    """The review state of one proposal shown as :class:`ProposalLayers`."""

    def __init__(
        self,
        layers: ProposalLayers,
        base: Proposal,
        default_label: str = "head",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layers = layers
        self.base = base
        self.default_label = default_label
        self._clock = clock
        self._absorbing = False
        self.plane: PlaneCall | None = base.plane
        self.decision: ImageDecision | None = base.decision
        self._originals: dict[str, Annotation] = {a.id: a for a in base.annotations}
        shown = clock()
        self._shown_at: dict[str, float] = {a.id: shown for a in base.annotations}
        #: label -> id of the manual keypoint annotation that hand-placed points join
        self._manual_points: dict[str, str] = {}
        layers.shapes.events.data.connect(self._on_shapes_changed)
        layers.points.events.data.connect(self._on_points_changed)

    def disconnect(self) -> None:
        self.layers.shapes.events.data.disconnect(self._on_shapes_changed)
        self.layers.points.events.data.disconnect(self._on_points_changed)

    # -- reading the layers ------------------------------------------------------------------

    def annotation_ids(self, status: Status | None = None) -> list[str]:
        """Ids of the shown annotations, in layer order, optionally only those with ``status``."""
        ids: dict[str, None] = {}
        for layer in (self.layers.shapes, self.layers.points):
            for annotation_id, row_status in zip(
                layer.features["annotation_id"], layer.features["status"], strict=True
            ):
                if status is None or row_status == status:
                    ids[str(annotation_id)] = None
        return list(ids)

    def selected_ids(self) -> list[str]:
        ids: dict[str, None] = {}
        for layer in (self.layers.shapes, self.layers.points):
            for index in sorted(layer.selected_data):
                ids[str(layer.features["annotation_id"].iloc[index])] = None
        return list(ids)

    def status_of(self, annotation_id: str) -> str | None:
        for layer in (self.layers.shapes, self.layers.points):
            rows = layer.features[layer.features["annotation_id"] == annotation_id]
            if len(rows):
                return str(rows["status"].iloc[0])
        return None

    def to_proposal(self, annotator: str | None = None) -> Proposal:
        """Everything shown, as a Proposal to save (hand-painted mask regions included)."""
        self.sync()
        proposal = layers_to_proposal(self.layers, self.base, annotator)
        return replace(proposal, plane=self.plane, decision=self.decision)

    # -- decisions ---------------------------------------------------------------------------

    def accept(self, ids: Iterable[str] | None = None) -> list[str]:
        """Accept ``ids``, else the selection, else the next proposed annotation, and the plane
        call if it is still proposed (correct a wrong plane with :meth:`set_plane`)."""
        self._decide_plane("accepted")
        return self._decide("accepted", self._targets(ids))

    def reject(self, ids: Iterable[str] | None = None) -> list[str]:
        return self._decide("rejected", self._targets(ids))

    def accept_all(self) -> list[str]:
        """Accept every annotation and the plane call still proposed (decisions taken stand)."""
        self._decide_plane("accepted")
        self.decision = "accepted"
        return self._decide("accepted", self.annotation_ids("proposed"))

    def reject_all(self) -> list[str]:
        """Reject every annotation and the plane call still proposed (decisions taken stand)."""
        self._decide_plane("rejected")
        self.decision = "rejected"
        return self._decide("rejected", self.annotation_ids("proposed"))

    def nothing_to_label(self) -> bool:
        """Mark "looked at, nothing to label": reject what is still proposed, plane call included,
        and record the image as a true negative. Refused (False, nothing changed) while an
        annotation is kept, which would contradict it."""
        if self.kept_ids():
            return False
        self.reject_all()
        self.decision = "nothing_to_label"
        return True

    def kept_ids(self) -> list[str]:
        """Annotations a person kept (accepted or edited)."""
        return self.annotation_ids("accepted") + self.annotation_ids("edited")

    def set_plane(self, label: str) -> None:
        """Confirm the plane call (same label: accepted) or correct it (another label: edited)."""
        plane = self.plane
        if plane is not None and plane.label == label:
            self.plane = replace(plane, status="edited" if plane.status == "edited" else "accepted")
        elif plane is not None:
            self.plane = replace(plane, label=label, score=None, status="edited")
        else:
            self.plane = PlaneCall(label, source=MANUAL_SOURCE, status="accepted")

    def _decide_plane(self, status: Status) -> None:
        if self.plane is not None and self.plane.status == "proposed":
            self.plane = replace(self.plane, status=status)

    def set_label(self, label: str, ids: Iterable[str] | None = None) -> list[str]:
        """Relabel ``ids`` (default: the selection); a relabelled proposal becomes edited."""
        targets = list(ids) if ids is not None else self.selected_ids()
        self._absorb_painted()
        self._update(targets, label=label)
        self.sync()
        return targets

    def _targets(self, ids: Iterable[str] | None) -> list[str]:
        if ids is not None:
            return list(ids)
        return self.selected_ids() or self.annotation_ids("proposed")[:1]

    def _decide(self, status: Status, ids: list[str]) -> list[str]:
        self._absorb_painted()
        now = self._clock()
        for annotation_id in ids:
            current = self.status_of(annotation_id)
            new_status = current if status == "accepted" and current in _KEPT_ON_ACCEPT else status
            spent = now - self._shown_at.get(annotation_id, now)
            self._update([annotation_id], status=new_status, time_spent_s=spent)
        restyle(self.layers)
        return ids

    def _update(self, ids: list[str], **values: Any) -> None:
        """Set feature ``values`` on every shape and point of the annotations ``ids``, stamping
        the time of the change."""
        values = {**values, "edited_at": now_iso()}
        for layer in (self.layers.shapes, self.layers.points):
            features = layer.features.copy()
            rows = features["annotation_id"].isin(ids)
            if not rows.any():
                continue
            for column, value in values.items():
                if column in features:
                    features.loc[rows, column] = value
            if "caption" in features:
                features.loc[rows, "caption"] = [
                    caption(r["label"], r["score"], r["source"])
                    for _, r in features[rows].iterrows()
                ]
            layer.features = features

    # -- edits -------------------------------------------------------------------------------

    def _absorb_painted(self) -> None:
        """Turn hand painting into polygons before the mask is redrawn over it."""
        if self._absorbing:
            return
        changes = painted_changes(self.layers)
        if not changes:
            return
        self._absorbing = True
        try:
            self._apply_painted(changes)
        finally:
            self._absorbing = False

    def _apply_painted(self, changes: PaintedChanges) -> None:
        shapes = self.layers.shapes
        ids = shapes.features["annotation_id"].astype(str)
        erased = [ids.iloc[i] for i in changes.erased]
        if changes.replaced:
            data = list(shapes.data)
            for index, outline in changes.replaced.items():
                data[index] = px_to_rc(outline)
            shapes.data = list(zip(data, shapes.shape_type, strict=True))
        for label, outline in changes.added:
            shapes.add_polygons([px_to_rc(outline)])
            self._update([str(shapes.features["annotation_id"].iloc[-1])], label=label)
        self.reject(erased)

    def _on_shapes_changed(self, event: Any) -> None:
        self._on_data_changed(event, self.layers.shapes.nshapes, self._claim_manual)

    def _on_points_changed(self, event: Any) -> None:
        self._on_data_changed(event, len(self.layers.points.data), self._claim_manual_points)

    def _on_data_changed(self, event: Any, count: int, claim: Callable[[list[int]], None]) -> None:
        action = str(getattr(event.action, "value", event.action))
        if action == "added":
            claim([int(i) % count for i in event.data_indices])
        if action in ("added", "changed", "removed"):
            self.sync()

    def _claim_manual_points(self, indices: list[int]) -> None:
        """Points placed by hand join one manual keypoint annotation per label."""
        points = self.layers.points
        features = points.features.copy()
        label = self.default_label
        annotation_id = self._manual_points.setdefault(label, new_id())
        self._shown_at.setdefault(annotation_id, self._clock())
        for index in indices:
            row = {
                "annotation_id": annotation_id,
                "parent_id": "",
                "label": label,
                "status": "accepted",
                "visibility": 2.0,
                "source": MANUAL_SOURCE,
                "edited_at": now_iso(),
            }
            features.loc[index, list(row)] = list(row.values())
        points.features = features

    def _claim_manual(self, indices: list[int]) -> None:
        """Shapes drawn (or pasted) by hand become manual, accepted annotations."""
        shapes = self.layers.shapes
        features = shapes.features.copy()
        for index in indices:
            kind, _ = shape_geometry(shapes.shape_type[index], shapes.data[index])
            annotation_id = new_id()
            self._shown_at[annotation_id] = self._clock()
            row = {
                **_MANUAL_ROW,
                "annotation_id": annotation_id,
                "label": self.default_label,
                "kind": kind,
                "caption": caption(self.default_label, None, MANUAL_SOURCE),
                "edited_at": now_iso(),
            }
            features.loc[index, list(row)] = list(row.values())
        shapes.features = features

    def sync(self) -> None:
        """Absorb hand painting, mark proposals whose geometry or label changed as edited, and
        redraw."""
        self._absorb_painted()
        for annotation_id in self.annotation_ids():
            original = self._originals.get(annotation_id)
            if original is None or self.status_of(annotation_id) == "rejected":
                continue
            if self._changed(annotation_id, original):
                edited_id = new_id()
                self._shown_at[edited_id] = self._shown_at.get(annotation_id, self._clock())
                self._update(
                    [annotation_id],
                    status="edited",
                    parent_id=annotation_id,
                    annotation_id=edited_id,
                )
        restyle(self.layers)

    def _changed(self, annotation_id: str, original: Annotation) -> bool:
        for layer in (self.layers.shapes, self.layers.points):
            rows = layer.features["annotation_id"] == annotation_id
            if (layer.features.loc[rows, "label"] != original.label).any():
                return True
        shapes, points = self.layers.shapes, self.layers.points
        placed = points.data[np.asarray(points.features["annotation_id"] == annotation_id)]
        if len(placed) and not same_keypoints(rc_to_px(placed), original):
            return True
        return any(
            not same_geometry(*shape_geometry(shapes.shape_type[i], shapes.data[i]), original)
            for i in np.flatnonzero(shapes.features["annotation_id"] == annotation_id)
        )


_MANUAL_ROW: dict[str, Any] = {
    "parent_id": "",
    "score": float("nan"),
    "source": MANUAL_SOURCE,
    "status": "accepted",
    "time_spent_s": 0.0,
}
