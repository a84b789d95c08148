"""Per-image label PNGs of the kept polygons, and labels.json naming their values."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from napari_fada.core.geometry import polygon_area
from napari_fada.core.polygon_fill import fill_polygon
from napari_fada.core.proposal import Proposal
from napari_fada.core.vocabulary import STRUCTURES, structure_id


def label_mask(proposal: Proposal) -> np.ndarray:
    """8-bit ``(height, width)`` label image, ``structure_id(label)`` inside each kept polygon.

    Polygons are painted largest first, so a structure inside another (CSP inside Brain) stays
    visible. Box-only annotations and keypoints have no pixels here.
    """
    mask = np.zeros((proposal.height, proposal.width), dtype=np.uint8)
    polygons = [a for a in proposal.kept() if a.polygon and len(a.polygon) >= 3]
    polygons.sort(key=lambda a: -polygon_area(a.polygon or []))
    for annotation in polygons:
        inside = fill_polygon(annotation.polygon or [], proposal.width, proposal.height)
        mask[inside] = structure_id(annotation.label)
    return mask


def dataset_labels(extra: Iterable[str] = ()) -> list[str]:
    """The vocabulary, then any other labels in use, ordered by id."""
    others = sorted(set(extra) - set(STRUCTURES), key=structure_id)
    return [*STRUCTURES, *others]


def labels_json(extra: Iterable[str] = ()) -> dict[str, dict[str, str]]:
    """``{"structures": {"<id>": "<name>"}}`` for the vocabulary and any other labels in use."""
    return {"structures": {str(structure_id(name)): name for name in dataset_labels(extra)}}
