"""One Shapes layer with a leading frame axis showing every frame's proposals of a clip.

Scrolling the clip shows each frame's boxes and outlines as they stream in, thin and faint; the
frame under review also has its editable layers
(:mod:`~napari_fada._napari.widgets.proposal_layers`) drawn over it. The overview is a view only:
decisions are taken in the review layers and saved per frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Shapes

from napari_fada._napari.widgets.proposal_layers import box_corners, px_to_rc
from napari_fada.core.proposal import Proposal
from napari_fada.core.vocabulary import structure_color

OVERVIEW_COLUMNS = ("frame", "label", "status", "source")

#: Edge alpha per status: kept ones solid, proposals faint, rejected barely visible.
_ALPHA = {"proposed": 0.5, "accepted": 1.0, "edited": 1.0, "rejected": 0.15}


def add_overview_layer(viewer: Any, image_layer: Image, name: str) -> Shapes:
    """An empty overview layer placed over ``image_layer`` (a stack), frames first."""
    return viewer.add_shapes(
        None,
        ndim=image_layer.ndim,
        features=pd.DataFrame(columns=list(OVERVIEW_COLUMNS)),
        face_color="transparent",
        edge_width=1.0,
        opacity=0.8,
        scale=tuple(image_layer.scale),
        translate=tuple(image_layer.translate),
        name=f"{name} all frames",
    )


def _with_frame(vertices: np.ndarray, frame: int, ndim: int) -> np.ndarray:
    """(row, col) vertices with the frame index (and zeros for any other leading axis)."""
    lead = np.zeros((len(vertices), ndim - 2))
    lead[:, 0] = frame
    return np.hstack([lead, vertices])


def show_frame(layer: Shapes, frame: int, proposal: Proposal) -> None:
    """Replace what ``layer`` shows on ``frame`` with ``proposal``'s boxes and polygons."""
    features = layer.features
    old = (
        set(np.flatnonzero(np.asarray(features["frame"]) == frame).tolist())
        if len(features)
        else set()
    )
    if old:
        layer.selected_data = old
        layer.remove_selected()
    data, types, rows, colors = [], [], [], []
    for annotation in proposal.annotations:
        shapes = []
        if annotation.box is not None:
            shapes.append((box_corners(annotation.box), "rectangle"))
        if annotation.polygon and len(annotation.polygon) >= 3:
            # a closed path: napari triangulates a polygon's face, ten times slower to add
            outline = px_to_rc([*annotation.polygon, annotation.polygon[0]])
            shapes.append((outline, "path"))
        for vertices, shape_type in shapes:
            data.append(_with_frame(vertices, frame, layer.ndim))
            types.append(shape_type)
            rows.append((frame, annotation.label, annotation.status, annotation.source))
            colors.append((*structure_color(annotation.label), _ALPHA.get(annotation.status, 0.5)))
    if not data:
        return
    layer.add(data, shape_type=types, edge_color=np.asarray(colors), face_color="transparent")
    new = pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))
    kept = layer.features.iloc[: layer.nshapes - len(rows)]
    layer.features = pd.concat([kept, new], ignore_index=True)
