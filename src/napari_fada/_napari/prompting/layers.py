"""The prompt layers: a Shapes layer "prompt box" and a Points layer "prompt points".

They hold the prompts of the object being outlined, so the annotator sees them and can move or
delete them. Each point carries a ``positive`` feature (green: inside the object, red: outside);
new points take the sign :func:`set_sign` chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.layers import Image, Points, Shapes

from napari_fada.core.proposal import Box
from napari_fada.prompting.clicks import Click

BOX_LAYER = "prompt box"
POINTS_LAYER = "prompt points"
POSITIVE_COLOR = (0.2, 0.9, 0.2, 1.0)
NEGATIVE_COLOR = (0.95, 0.2, 0.2, 1.0)


@dataclass
class PromptLayers:
    box: Shapes
    points: Points

    def all(self) -> tuple[Shapes, Points]:
        return (self.box, self.points)


def add_prompt_layers(viewer: Any, image_layer: Image) -> PromptLayers:
    """Add empty prompt layers placed over ``image_layer``; the points layer is left active, in
    add mode."""
    placement = {
        "scale": tuple(image_layer.scale[-2:]),
        "translate": tuple(image_layer.translate[-2:]),
    }
    size = max(
        image_layer.data.shape[-2:] if not image_layer.rgb else image_layer.data.shape[-3:-1]
    )
    box = viewer.add_shapes(
        None, ndim=2, shape_type="rectangle", name=BOX_LAYER, face_color="transparent",
        edge_color="yellow", edge_width=max(1.0, size / 400), **placement,
    )  # fmt: skip
    points = viewer.add_points(
        np.zeros((0, 2)), ndim=2, name=POINTS_LAYER, size=max(4.0, size / 80),
        features={"positive": np.zeros(0, dtype=bool)}, border_color="white", **placement,
    )  # fmt: skip
    points.feature_defaults = {"positive": True}
    points.mode = "add"
    box.mode = "add_rectangle"
    viewer.layers.selection.active = points
    return PromptLayers(box, points)


def set_sign(points: Points, positive: bool) -> None:
    """The sign the next added points get."""
    points.feature_defaults = {"positive": positive}


def next_sign(points: Points) -> bool:
    return bool(points.feature_defaults["positive"].iloc[0])


def recolor(points: Points) -> None:
    if len(points.data):
        signs = points.features["positive"].astype(bool)
        points.face_color = np.array([POSITIVE_COLOR if p else NEGATIVE_COLOR for p in signs])


def read_box(box: Shapes) -> Box | None:
    """The last box drawn, in pixel coordinates (x0, y0, x1, y1), None when there is none."""
    if not box.nshapes:
        return None
    corners = np.asarray(box.data[-1], dtype=float)[:, -2:]
    (r0, c0), (r1, c1) = corners.min(axis=0), corners.max(axis=0)
    return (float(c0) + 0.5, float(r0) + 0.5, float(c1) + 0.5, float(r1) + 0.5)


def read_clicks(points: Points) -> tuple[Click, ...]:
    """The points in order as clicks in pixel coordinates (napari puts pixel centres at
    integers, the clicks' coordinates put the image's edge at 0)."""
    signs = points.features["positive"].astype(bool).tolist()
    return tuple(
        Click(float(c) + 0.5, float(r) + 0.5, bool(p))
        for (r, c), p in zip(np.asarray(points.data)[:, -2:], signs, strict=True)
    )
