"""Regions painted by hand on the mask layer, turned back into polygons.

The Labels layer is a view of the polygon shapes; a person may still paint or erase on it. For
each structure whose painted pixels differ from the view as last drawn, the painted region's
outlines replace the overlapping polygons, become new polygons, or (where a polygon's region was
erased) mark it erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_fada._napari.widgets.proposal_layers import ProposalLayers, render_mask, shape_polygons
from napari_fada.core.geometry import mask_to_polygons, polygon_to_mask
from napari_fada.core.proposal import Point


@dataclass
class PaintedChanges:
    """What hand painting changed: shape index -> new outline, new outlines, erased shapes."""

    replaced: dict[int, list[Point]] = field(default_factory=dict)
    added: list[tuple[str, list[Point]]] = field(default_factory=list)
    erased: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.replaced or self.added or self.erased)


def painted_changes(layers: ProposalLayers) -> PaintedChanges:
    painted = np.asarray(layers.labels.data)
    expected = layers.rendered if layers.rendered is not None else render_mask(layers)
    differs = painted != expected
    changes = PaintedChanges()
    if not differs.any():
        return changes
    features = layers.labels.features
    names = dict(zip(features["index"].astype(int), features["name"].astype(str), strict=True))
    size = (layers.width, layers.height)
    for label_id in np.unique(np.concatenate([painted[differs], expected[differs]])):
        name = names.get(int(label_id))
        if not label_id or name is None:
            continue
        existing = [
            (index, polygon_to_mask(poly, *size))
            for index, label, status, poly in shape_polygons(layers)
            if label == name and status != "rejected"
        ]
        matched: set[int] = set()
        for outline in mask_to_polygons(painted == label_id):
            region = polygon_to_mask(outline, *size)
            match = next((i for i, m in existing if i not in matched and (m & region).any()), None)
            if match is None:
                changes.added.append((name, outline))
            else:
                matched.add(match)
                changes.replaced[match] = outline
        changes.erased.extend(index for index, _ in existing if index not in matched)
    return changes
