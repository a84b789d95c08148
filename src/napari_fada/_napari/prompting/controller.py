"""What the prompt layers do: each change of a prompt re-answers, and the mask lands in the
annotator's shapes as the chosen label's outline.

The prompt layers are the truth: a point added refines the mask, a point deleted or moved (or
Ctrl+Z, which takes the last prompt away) steps back or replays the object's prompts. A box
drawn when the object already has one starts a new object; a click when there is none starts
one, from the annotation of the chosen label under it when there is one (a proposal being
corrected), else from nothing. The outline is written into the review session's shapes, so
accepting, rejecting and saving work as for any shape: a corrected proposal becomes "edited"
with the proposal as parent, a new outline is kept as a hand-drawn one is; both get the source
``prompted:<model id>`` and their prompts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from napari.layers import Shapes

from napari_fada._napari.prompting.layers import (
    PromptLayers,
    add_prompt_layers,
    next_sign,
    read_box,
    read_clicks,
    recolor,
    set_sign,
)
from napari_fada._napari.widgets.proposal_layers import (
    box_corners,
    px_to_rc,
    shape_geometry,
)
from napari_fada.core.geometry import mask_box, polygon_to_mask
from napari_fada.core.proposal import PROMPTED_PREFIX, Box
from napari_fada.errors import FadaError
from napari_fada.prompting.clicks import Click

if TYPE_CHECKING:  # torch is imported when prompting starts, not with the plugin
    from napari_fada.prompting.frame import Pyramid
    from napari_fada.prompting.session import PromptPredictor, PromptSession

#: Keys bound on the prompt layers (napari's own Ctrl+Z is the Labels layer's undo, which keeps
#: working there; ``tests/_napari/prompting`` checks the sign key against napari's bindings).
UNDO_KEY = "Control+Z"
SIGN_KEY = "Shift+X"


def load_shipped() -> PromptPredictor:
    """The prompt model shipped with the plugin."""
    from napari_fada.prompting.session import PromptPredictor

    return PromptPredictor.load()


class PromptHost(Protocol):
    """What the controller needs of the annotator widget."""

    viewer: Any
    image: Any  # CurrentImage | None: .layer, .pixels
    session: Any  # ReviewSession | None: .layers.shapes, .sync()

    def report_error(self, error: BaseException) -> None: ...
    def review_without_proposal(self) -> None: ...


class PromptController:
    """Prompting on the annotator's image, for the label ``label()`` returns."""

    def __init__(
        self,
        host: PromptHost,
        label: Callable[[], str],
        load: Callable[[], PromptPredictor] = load_shipped,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.host, self.label, self._load = host, label, load
        self.on_change = on_change or (lambda _: None)
        self.predictor: PromptPredictor | None = None
        self.layers: PromptLayers | None = None
        self.session: PromptSession | None = None
        self._pyramid: tuple[Any, Pyramid] | None = None
        self._review: Any = None  # the review session the object's outline lives in
        self._annotation_id: str | None = None
        self._original: Any = None  # features of the corrected proposal's shapes
        self._quiet = False

    # -- layers ------------------------------------------------------------------------------

    def start(self) -> PromptLayers:
        """Show the prompt layers over the image under review (again, if they were removed)."""
        if self.host.image is None:
            raise FadaError("open an image first, then prompt on it")
        if self.layers is not None and all(x in self.host.viewer.layers for x in self.layers.all()):
            self.host.viewer.layers.selection.active = self.layers.points
            return self.layers
        self.layers = add_prompt_layers(self.host.viewer, self.host.image.layer)
        for layer in self.layers.all():
            layer.events.data.connect(self._on_prompts_changed)
            layer.bind_key(UNDO_KEY, lambda _layer: self.undo(), overwrite=True)
            layer.bind_key(SIGN_KEY, lambda _layer: self.toggle_sign(), overwrite=True)
        return self.layers

    def toggle_sign(self) -> bool:
        """Flip the sign of the next click; returns it (True: positive)."""
        assert self.layers is not None
        positive = not next_sign(self.layers.points)
        set_sign(self.layers.points, positive)
        self.on_change("next click: " + ("inside (positive)" if positive else "outside (negative)"))
        return positive

    def undo(self) -> None:
        """Take the last prompt away (the last click, else the box)."""
        if self.layers is None:
            return
        points, box = self.layers.points, self.layers.box
        if len(points.data):
            points.data = points.data[:-1]
        elif box.nshapes:
            box.data = []

    def new_object(self) -> None:
        """Leave the outline as it is and clear the prompts for the next object."""
        self.session, self._annotation_id, self._original = None, None, None
        self._clear_prompts()

    def _clear_prompts(self) -> None:
        if self.layers is None:
            return
        self._quiet = True
        try:
            self.layers.points.data = np.zeros((0, 2))
            self.layers.box.data = []
        finally:
            self._quiet = False

    # -- answering ---------------------------------------------------------------------------

    def _on_prompts_changed(self, event: Any) -> None:
        if self._quiet or self.layers is None:
            return
        action = str(getattr(event.action, "value", event.action))
        if action not in ("added", "removed", "changed"):
            return
        try:
            if event.source is self.layers.box and action == "added":
                self._one_box()
            recolor(self.layers.points)
            self.refresh()
        except Exception as error:  # shown in the dock, never a traceback in napari
            self.host.report_error(error)

    def _one_box(self) -> None:
        """A new box with a box already there starts a new object (keeping only the new box)."""
        assert self.layers is not None
        box = self.layers.box
        if box.nshapes > 1:
            last = (box.data[-1], box.shape_type[-1])
            self.new_object()
            self._quiet = True
            try:
                box.data = [last[0]]
            finally:
                self._quiet = False

    def refresh(self) -> None:
        """Answer the prompts the layers hold now and show the outline."""
        assert self.layers is not None
        box, clicks = read_box(self.layers.box), read_clicks(self.layers.points)
        if self._review is not self.host.session:  # another image: its own objects
            self.session, self._annotation_id, self._original = None, None, None
            self._review = self.host.session
        if self.session is None:
            if box is None and not clicks:
                return
            self._begin(clicks[0] if box is None else None)
        assert self.session is not None
        mask = self._answer(self.session, box, clicks)
        self._show(mask)

    def _begin(self, click: Click | None) -> None:
        """A session for a new object, or for the annotation of the chosen label under the
        first click."""
        if self.host.image is None:
            raise FadaError("open an image first, then prompt on it")
        if self.host.session is None:  # nothing proposed yet: outline on an empty review
            self.host.review_without_proposal()
            self._review = self.host.session
            if self.layers is not None:
                self.host.viewer.layers.selection.active = self.layers.points
        if self.predictor is None:
            self.predictor = self._load()
        pixels = self.host.image.pixels
        if self._pyramid is None or self._pyramid[0] is not pixels:
            self._pyramid = (pixels, self.predictor.encode(pixels))
        start = None
        if click is not None:
            found = self._annotation_under(click)
            if found is not None:
                self._annotation_id, start = found
                shapes = self.host.session.layers.shapes
                rows = self._rows(shapes)
                self._original = (
                    shapes.features.iloc[rows].copy(),
                    [np.array(shapes.data[i]) for i in rows],
                )
        from napari_fada.prompting.session import PromptSession

        self.session = PromptSession(self.predictor, self._pyramid[1], start=start)

    def _annotation_under(self, click: Click) -> tuple[str, np.ndarray] | None:
        """(id, mask) of the smallest non-rejected outline of the chosen label under ``click``."""
        shapes = self.host.session.layers.shapes
        height, width = self._pyramid[1].height, self._pyramid[1].width  # type: ignore[index]
        found = []
        for index, (kind_type, data) in enumerate(zip(shapes.shape_type, shapes.data, strict=True)):
            row = shapes.features.iloc[index]
            kind, outline = shape_geometry(kind_type, data)
            if kind != "polygon" or row["label"] != self.label() or row["status"] == "rejected":
                continue
            mask = polygon_to_mask(outline, width, height)
            row_index, col = min(int(click.y), height - 1), min(int(click.x), width - 1)
            if mask[row_index, col]:
                found.append((int(mask.sum()), str(row["annotation_id"]), mask))
        return min(found, key=lambda f: f[0])[1:] if found else None

    @staticmethod
    def _answer(
        session: PromptSession, box: Box | None, clicks: tuple[Click, ...]
    ) -> np.ndarray | None:
        """Bring ``session`` to these prompts: one more click or a moved box refine the mask,
        fewer prompts step back, anything else replays them from the start."""
        if (box, clicks) == (session.box, session.clicks):
            return session.mask
        if box == session.box and clicks and clicks[:-1] == session.clicks:
            return session.add_click(clicks[-1])
        if clicks == session.clicks and box is not None:
            return session.set_box(box)
        while session.steps and (session.box, session.clicks) != (box, clicks):
            session.undo()
        if (session.box, session.clicks) != (box, clicks):
            if box is not None:
                session.set_box(box)
            for click in clicks:
                session.add_click(click)
        return session.mask

    # -- the outline in the annotator's shapes -----------------------------------------------

    def _show(self, mask: np.ndarray | None) -> None:
        assert self.session is not None and self.host.session is not None
        review = self.host.session
        shapes: Shapes = review.layers.shapes
        outline = self.session.polygon()
        rows = self._rows(shapes)
        if not self.session.steps or outline is None or mask is None or not mask.any():
            self._remove_or_restore(shapes, rows)
            return
        model = self.session.predictor.model_id
        if not rows:
            shapes.add_polygons([px_to_rc(outline)])  # the review session claims it as manual
            self._annotation_id = str(shapes.features["annotation_id"].iloc[-1])
        else:
            box = mask_box(mask)
            data = list(shapes.data)
            for index in rows:
                kind, _ = shape_geometry(shapes.shape_type[index], data[index])
                data[index] = px_to_rc(outline) if kind == "polygon" else box_corners(box)  # type: ignore[arg-type]
            shapes.data = list(zip(data, shapes.shape_type, strict=True))
            # the review session saw the geometry change: a proposal is now edited, new id
            self._annotation_id = str(shapes.features["annotation_id"].iloc[rows[0]])
        features = shapes.features.copy()
        mine = features["annotation_id"].astype(str) == self._annotation_id
        if self._original is None:
            features.loc[mine, "label"] = self.label()
        features.loc[mine, "source"] = PROMPTED_PREFIX + model
        features.loc[mine, "prompts"] = json.dumps(self.session.provenance())
        features.loc[mine, "caption"] = [
            f"{label} (prompted)" for label in features.loc[mine, "label"]
        ]
        shapes.features = features
        review.sync()
        self.on_change(
            f"{len(self.session.clicks)} click(s){' and a box' if self.session.box else ''}: "
            f"{int(mask.sum())} px"
        )

    def _rows(self, shapes: Shapes) -> list[int]:
        if self._annotation_id is None:
            return []
        ids = shapes.features["annotation_id"].astype(str)
        return [int(i) for i in np.flatnonzero(ids == self._annotation_id)]

    def _remove_or_restore(self, shapes: Shapes, rows: list[int]) -> None:
        """No outline any more: a new object's shape goes, a corrected proposal comes back as
        it was proposed."""
        if self._original is None:
            if rows:
                shapes.selected_data = set(rows)
                shapes.remove_selected()
            self._annotation_id = None
            return
        features_before, data_before = self._original
        if len(rows) != len(data_before):
            return  # the person deleted some of its shapes: nothing to put back
        data = list(shapes.data)
        for index, vertices in zip(rows, data_before, strict=True):
            data[index] = vertices
        shapes.data = list(zip(data, shapes.shape_type, strict=True))
        features = shapes.features.copy()
        features.iloc[rows] = features_before.to_numpy()
        shapes.features = features
        self._annotation_id = str(features_before["annotation_id"].iloc[0])
        assert self.host.session is not None
        self.host.session.sync()
