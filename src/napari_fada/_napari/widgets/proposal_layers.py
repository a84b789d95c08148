"""A :class:`Proposal` shown as napari layers, and those layers read back into a Proposal.

Boxes and polygons live in one Shapes layer (an annotation with both gives two shapes sharing an
``annotation_id``), keypoints in a Points layer, and a Labels layer shows the non-rejected polygons
as a mask, one id per structure. The shapes and points (and their ``features``) are the source of
truth; the mask is recomputed from them.

napari puts pixel centres at integer (row, col) coordinates while the proposal's pixel coordinates
put the image's edges at 0 and ``width``: the half-pixel shift happens here and only here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Labels, Points, Shapes
from napari.utils.colormaps import DirectLabelColormap

from napari_fada.core.geometry import polygon_area, polygon_box, polygon_to_mask
from napari_fada.core.proposal import (
    MANUAL_SOURCE,
    PROMPTED_PREFIX,
    Annotation,
    Box,
    Point,
    Proposal,
)
from napari_fada.core.vocabulary import STRUCTURES, structure_color, structure_id

SHAPE_COLUMNS = (
    "annotation_id", "parent_id", "label", "score", "source", "status", "kind", "caption",
    "time_spent_s", "edited_at", "prompts",
)  # fmt: skip
ELLIPSE_VERTICES = 64
#: Vertices read back within this distance (pixels) of the original count as unmoved: napari
#: stores vertices as float32.
GEOMETRY_TOLERANCE_PX = 0.01
POINT_COLUMNS = (
    "annotation_id", "parent_id", "label", "status", "visibility", "source", "edited_at",
)  # fmt: skip

#: Edge alpha and width per status: proposals thin and see-through, kept ones solid.
_STATUS_STYLE: dict[str, tuple[float, float]] = {
    "proposed": (0.6, 1.5),
    "accepted": (1.0, 3.0),
    "edited": (1.0, 3.0),
    "rejected": (0.2, 1.0),
}


@dataclass
class ProposalLayers:
    """The three layers showing one image's proposal, and the image's size in pixels.

    ``rendered`` is the mask as last drawn from the polygons (with the key of the polygons it
    was drawn from): where the Labels layer differs from it, the person painted.
    """

    shapes: Shapes
    labels: Labels
    points: Points
    width: int
    height: int
    rendered: np.ndarray | None = None
    rendered_key: tuple[Any, ...] = ()

    def all(self) -> tuple[Shapes, Labels, Points]:
        return (self.shapes, self.labels, self.points)


def px_to_rc(points: Iterable[Sequence[float]]) -> np.ndarray:
    """Pixel (x, y) points to napari (row, col) data coordinates."""
    return np.array([(p[1] - 0.5, p[0] - 0.5) for p in points], dtype=float).reshape(-1, 2)


def rc_to_px(data: np.ndarray) -> list[Point]:
    return [(float(c) + 0.5, float(r) + 0.5) for r, c in np.asarray(data)[:, -2:]]


def box_corners(box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return px_to_rc([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def caption(label: str, score: float | None, source: str) -> str:
    if source == MANUAL_SOURCE or score is None or math.isnan(score):
        return f"{label} (manual)" if source == MANUAL_SOURCE else label
    return f"{label} {score:.2f}"


#: Captions whose corners are nearer than these fractions of the image's (height, width) would
#: overlap at the size napari draws them: they join into one line.
_CAPTION_NEAR = (0.04, 0.15)


def _captions(shapes: Shapes, width: int, height: int) -> list[str]:
    """What each shape shows: one caption per annotation, on its first shape (the box when it
    has one), none on a rejected one; captions whose corners nearly meet join on one line."""
    captions = [""] * shapes.nshapes
    placed: list[tuple[int, float, float]] = []  # (shape, row, column) of each caption shown
    seen: set[str] = set()
    for index, row in enumerate(shapes.features.itertuples(index=False)):
        if row.status == "rejected" or row.annotation_id in seen:
            continue
        seen.add(row.annotation_id)
        text = caption(str(row.label), float(row.score), str(row.source))
        top, left = np.asarray(shapes.data[index])[:, -2:].min(axis=0)
        near = (
            i
            for i, r, c in placed
            if abs(r - top) < _CAPTION_NEAR[0] * height and abs(c - left) < _CAPTION_NEAR[1] * width
        )
        joined = next(near, None)
        if joined is None:
            captions[index] = text
            placed.append((index, top, left))
        else:
            captions[joined] += f", {text}"
    return captions


def _shape_rows(annotation: Annotation) -> list[tuple[np.ndarray, str, str]]:
    """(vertices, napari shape type, kind) of each shape showing ``annotation``."""
    rows = []
    if annotation.box is not None:
        rows.append((box_corners(annotation.box), "rectangle", "box"))
    if annotation.polygon and len(annotation.polygon) >= 3:
        rows.append((px_to_rc(annotation.polygon), "polygon", "polygon"))
    return rows


def _shape_feature(annotation: Annotation, kind: str) -> dict[str, Any]:
    score = float("nan") if annotation.score is None else float(annotation.score)
    return {
        "annotation_id": annotation.id,
        "parent_id": annotation.parent_id or "",
        "label": annotation.label,
        "score": score,
        "source": annotation.source,
        "status": annotation.status,
        "kind": kind,
        "caption": caption(annotation.label, annotation.score, annotation.source),
        "time_spent_s": float(annotation.time_spent_s),
        "edited_at": annotation.edited or "",
        "prompts": json.dumps(annotation.prompts) if annotation.prompts else "",
    }


def _point_feature(annotation: Annotation, visibility: float) -> dict[str, Any]:
    return {
        "annotation_id": annotation.id,
        "parent_id": annotation.parent_id or "",
        "label": annotation.label,
        "status": annotation.status,
        "visibility": float(visibility),
        "source": annotation.source,
        "edited_at": annotation.edited or "",
    }


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def labels_features(extra: Iterable[str] = ()) -> pd.DataFrame:
    """Structure names by label id, so napari's status bar names the structure under the cursor."""
    names = list(STRUCTURES) + [n for n in dict.fromkeys(extra) if n not in STRUCTURES]
    return pd.DataFrame(
        {"index": [0] + [structure_id(n) for n in names], "name": ["background", *names]}
    )


def labels_colormap(extra: Iterable[str] = ()) -> DirectLabelColormap:
    colors: dict[int | None, Any] = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
    for name in [*STRUCTURES, *extra]:
        colors[structure_id(name)] = (*structure_color(name), 1.0)
    return DirectLabelColormap(color_dict=colors)


def add_proposal_layers(
    viewer: Any, proposal: Proposal, image_layer: Image, name: str
) -> ProposalLayers:
    """Add Shapes, Labels and Points layers showing ``proposal`` over ``image_layer``."""
    scale, translate = tuple(image_layer.scale[-2:]), tuple(image_layer.translate[-2:])
    placement = {"scale": scale, "translate": translate}
    shape_data, shape_types, shape_rows, point_data, point_rows = [], [], [], [], []
    for annotation in proposal.annotations:
        for vertices, shape_type, kind in _shape_rows(annotation):
            shape_data.append(vertices)
            shape_types.append(shape_type)
            shape_rows.append(_shape_feature(annotation, kind))
        for x, y, visibility in annotation.keypoints or []:
            point_data.append((y - 0.5, x - 0.5))
            point_rows.append(_point_feature(annotation, visibility))
    shapes = viewer.add_shapes(
        shape_data or None,
        ndim=2,
        shape_type=shape_types or "rectangle",
        features=_frame(shape_rows, SHAPE_COLUMNS),
        face_color="transparent",
        text={"string": "{caption}", "color": "white", "anchor": "upper_left", "size": 9},
        name=f"{name} shapes",
        **placement,
    )
    unknown = [a.label for a in proposal.annotations if a.label not in STRUCTURES]
    labels = viewer.add_labels(
        np.zeros((proposal.height, proposal.width), dtype=np.uint8),
        colormap=labels_colormap(unknown),
        features=labels_features(unknown),
        opacity=0.35,
        name=f"{name} masks",
        **placement,
    )
    points = viewer.add_points(
        np.asarray(point_data, dtype=float).reshape(-1, 2),
        ndim=2,
        features=_frame(point_rows, POINT_COLUMNS),
        size=max(proposal.width, proposal.height) / 100,
        name=f"{name} keypoints",
        **placement,
    )
    layers = ProposalLayers(shapes, labels, points, proposal.width, proposal.height)
    restyle(layers)
    return layers


def restyle(layers: ProposalLayers) -> None:
    """Colour each shape and point by structure and status, and redraw the mask."""
    shapes = layers.shapes
    if shapes.nshapes:
        features = shapes.features
        colors, widths = [], []
        for label, status in zip(features["label"], features["status"], strict=True):
            alpha, width = _STATUS_STYLE.get(str(status), _STATUS_STYLE["proposed"])
            colors.append((*structure_color(str(label)), alpha))
            widths.append(width)
        shapes.edge_color = np.asarray(colors)
        shapes.edge_width = widths
        captions = _captions(shapes, layers.width, layers.height)
        if list(features["caption"]) != captions:
            features = features.copy()
            features["caption"] = captions
            shapes.features = features
        shapes.refresh_text()
    points = layers.points
    if len(points.data):
        pf = points.features
        points.face_color = np.asarray(
            [
                (*structure_color(str(label)), _STATUS_STYLE.get(str(s), (0.6, 0))[0])
                for label, s in zip(pf["label"], pf["status"], strict=True)
            ]
        )
    key = _mask_key(layers)
    if layers.rendered is None or key != layers.rendered_key:
        mask = render_mask(layers)
        layers.rendered, layers.rendered_key = mask.copy(), key
        layers.labels.data = mask


def _mask_key(layers: ProposalLayers) -> tuple[Any, ...]:
    """What the mask depends on: each polygon's label, whether it is rejected, its vertices."""
    return tuple(
        (label, status == "rejected", np.asarray(poly).tobytes())
        for _, label, status, poly in shape_polygons(layers)
    )


def shape_polygons(layers: ProposalLayers) -> list[tuple[int, str, str, list[Point]]]:
    """(shape index, label, status, polygon in pixels) of every polygon shape."""
    shapes = layers.shapes
    out = []
    for index, (shape_type, data) in enumerate(zip(shapes.shape_type, shapes.data, strict=True)):
        kind, points = shape_geometry(shape_type, data)
        if kind == "polygon" and len(points) >= 3:
            row = shapes.features.iloc[index]
            out.append((index, str(row["label"]), str(row["status"]), points))
    return out


def shape_geometry(shape_type: str, data: np.ndarray) -> tuple[str, list[Point]]:
    """("box" or "polygon", pixel vertices) of a napari shape; an ellipse becomes a polygon."""
    if shape_type == "ellipse":
        corners = np.asarray(data, dtype=float)[:, -2:]
        centre = corners.mean(axis=0)
        half_a, half_b = (corners[1] - corners[0]) / 2, (corners[3] - corners[0]) / 2
        t = np.linspace(0, 2 * np.pi, ELLIPSE_VERTICES, endpoint=False)[:, None]
        return "polygon", rc_to_px(centre + np.cos(t) * half_a + np.sin(t) * half_b)
    kind = "polygon" if shape_type in ("polygon", "path") else "box"
    return kind, rc_to_px(data)


def same_geometry(kind: str, points: Sequence[Point], annotation: Annotation) -> bool:
    """Whether a shape's pixel vertices still show ``annotation``'s box or polygon."""
    if kind == "box":
        box = annotation.box
        return box is not None and bool(
            np.allclose(polygon_box(points), box, atol=GEOMETRY_TOLERANCE_PX)
        )
    expected = annotation.polygon or []
    return len(points) == len(expected) and bool(
        np.allclose(points, expected, atol=GEOMETRY_TOLERANCE_PX)
    )


def same_keypoints(points: Sequence[Point], annotation: Annotation) -> bool:
    """Whether placed points (pixels) are still ``annotation``'s keypoints, in order."""
    expected = [(x, y) for x, y, _ in annotation.keypoints or []]
    return len(points) == len(expected) and bool(
        np.allclose(points, expected, atol=GEOMETRY_TOLERANCE_PX)
    )


def render_mask(layers: ProposalLayers) -> np.ndarray:
    """The non-rejected polygons as a label image, smaller structures drawn over larger ones."""
    mask = np.zeros((layers.height, layers.width), dtype=np.uint8)
    drawn = [
        (polygon_area(poly), label, poly)
        for _, label, status, poly in shape_polygons(layers)
        if status != "rejected"
    ]
    for _, label, poly in sorted(drawn, key=lambda item: -item[0]):
        mask[polygon_to_mask(poly, layers.width, layers.height)] = structure_id(label)
    return mask


def layers_to_proposal(
    layers: ProposalLayers, base: Proposal, annotator: str | None = None
) -> Proposal:
    """The proposal as the layers show it now: geometry, labels and statuses from the layers.

    Fields the layers do not show (flags, creation time, keypoint-less metadata, plane call,
    interpretation, raw answers) come from ``base``. An annotation of ``base`` whose shapes
    were all deleted is kept as rejected, so nothing the model said is lost.
    """
    base_by_id = {a.id: a for a in base.annotations}
    grouped: dict[str, dict[str, Any]] = {}
    features = layers.shapes.features
    for index, (shape_type, data) in enumerate(
        zip(layers.shapes.shape_type, layers.shapes.data, strict=True)
    ):
        row = features.iloc[index]
        entry = grouped.setdefault(str(row["annotation_id"]), {"row": row})
        kind, points = shape_geometry(shape_type, data)
        entry[kind] = polygon_box(points) if kind == "box" else points
    point_features = layers.points.features
    for index, data in enumerate(layers.points.data):
        row = point_features.iloc[index]
        entry = grouped.setdefault(str(row["annotation_id"]), {"row": row})
        x, y = float(data[-1]) + 0.5, float(data[-2]) + 0.5
        entry.setdefault("keypoints", []).append((x, y, float(row["visibility"])))
    annotations = [
        _read_annotation(annotation_id, entry, base_by_id, annotator)
        for annotation_id, entry in grouped.items()
    ]
    shown = {a.id for a in annotations} | {a.parent_id for a in annotations if a.parent_id}
    deleted = [
        a.with_status("rejected", annotator) if a.status != "rejected" else a
        for a in base.annotations
        if a.id not in shown
    ]
    return replace(base, annotations=annotations + deleted)


def _prompts(text: Any, source: str) -> dict[str, Any] | None:
    """The prompts of a prompted mask, kept in the layer as JSON text ("" or NaN: none). Only
    a prompted source has them: a shape drawn later may inherit the column's last value."""
    prompted = source.startswith(PROMPTED_PREFIX) and isinstance(text, str) and text
    return json.loads(text) if prompted else None


def _read_annotation(
    annotation_id: str,
    entry: dict[str, Any],
    base_by_id: dict[str, Annotation],
    annotator: str | None,
) -> Annotation:
    row = entry["row"]
    parent_id = str(row.get("parent_id", "") or "") or None
    origin = base_by_id.get(annotation_id) or base_by_id.get(parent_id or "")
    polygon, box, keypoints = entry.get("polygon"), entry.get("box"), entry.get("keypoints")
    if origin is not None and origin.id == annotation_id:
        # unmoved shapes keep the exact coordinates they were shown with
        if polygon and same_geometry("polygon", polygon, origin):
            polygon = origin.polygon
        if box and same_geometry("box", [box[:2], box[2:]], origin):
            box = origin.box
        if keypoints and same_keypoints([k[:2] for k in keypoints], origin):
            keypoints = origin.keypoints
    box = box or (polygon_box(polygon) if polygon else None)
    score = row.get("score")
    fields: dict[str, Any] = {
        "id": annotation_id,
        "parent_id": parent_id,
        "label": str(row["label"]),
        "box": box,
        "polygon": polygon,
        "keypoints": keypoints,
        "status": str(row["status"]),
        "source": str(row["source"]),
        "score": None if score is None or pd.isna(score) else float(score),
        "time_spent_s": float(row.get("time_spent_s", 0.0) or 0.0),
        "edited": str(row.get("edited_at", "") or "") or None,
        "prompts": _prompts(row.get("prompts"), str(row["source"])),
    }
    if origin is None:
        return Annotation(annotator=annotator, **fields)
    if origin.status != fields["status"] or origin.id != annotation_id:
        fields["annotator"] = annotator or origin.annotator
    return replace(origin, **fields)
