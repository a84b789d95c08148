"""A case in the viewer: the image, its false-positive / false-negative pixels in a Labels layer
and its error boxes in a Shapes layer, each layer reused from case to case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Labels, Shapes
from napari.utils.colormaps import DirectLabelColormap

from napari_fada._napari.widgets.proposal_layers import box_corners
from napari_fada.inspection.error_maps import BOX_COLORS, ERROR_COLORS, ErrorBox

IMAGE_LAYER = "inspection image"
ERRORS_LAYER = "inspection errors"
BOXES_LAYER = "inspection error boxes"
#: See-through enough to read the anatomy under large false-positive areas.
ERRORS_OPACITY = 0.45


def errors_colormap() -> DirectLabelColormap:
    colors: dict[int | None, Any] = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
    for value, color in ERROR_COLORS.items():
        colors[value] = color
    return DirectLabelColormap(color_dict=colors)


def _layer(viewer: Any, name: str) -> Any:
    return next((layer for layer in viewer.layers if layer.name == name), None)


def show_image(viewer: Any, image: np.ndarray, name: str) -> Image:
    """Show ``image`` in the inspection image layer (created the first time)."""
    layer = _layer(viewer, IMAGE_LAYER)
    if layer is not None and layer.data.ndim != image.ndim:
        viewer.layers.remove(layer)  # gray and colour images need different layers
        layer = None
    if layer is None:
        return viewer.add_image(image, name=IMAGE_LAYER, metadata={"image_id": name})
    layer.data = image
    layer.metadata["image_id"] = name
    layer.reset_contrast_limits()
    return layer


def show_errors(viewer: Any, errors: np.ndarray) -> Labels:
    layer = _layer(viewer, ERRORS_LAYER)
    if layer is None:
        return viewer.add_labels(
            errors, name=ERRORS_LAYER, colormap=errors_colormap(), opacity=ERRORS_OPACITY
        )
    layer.data = errors
    return layer


def show_boxes(viewer: Any, boxes: Sequence[ErrorBox]) -> Shapes:
    """Error boxes as rectangles, edges in the colour of their kind, captioned."""
    features = pd.DataFrame(
        {
            "label": [b.label for b in boxes],
            "kind": [b.kind for b in boxes],
            "caption": [
                f"{b.label} ({'FP' if b.kind == 'false positive' else 'FN'})" for b in boxes
            ],
        }
    )
    data = [box_corners(b.box) for b in boxes]
    colors = np.asarray([BOX_COLORS[b.kind] for b in boxes]).reshape(-1, 4)
    old = _layer(viewer, BOXES_LAYER)
    if old is not None:
        # a fresh layer: napari cannot re-encode captions while data and features change size
        viewer.layers.remove(old)
    layer = viewer.add_shapes(
        data,
        shape_type="rectangle",
        name=BOXES_LAYER,
        ndim=2,
        features=features,
        edge_color=colors if data else "red",
        face_color="transparent",
        edge_width=2,
        text={"string": "{caption}", "color": "white", "anchor": "upper_left", "size": 9},
    )
    return layer
