"""parse_answer(serialize(x)) gives x back within the 0..1000 rounding, for every phase.

The last test uses the real sample masks in ``../shared/data`` (fixture in tests/conftest.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from napari_fada.core import fada_format as ff
from napari_fada.core.geometry import NORM, mask_to_polygons, norm_to_px, polygon_to_mask
from napari_fada.core.parsing import parse_answer
from napari_fada.core.proposal import Annotation
from napari_fada.core.vocabulary import INTERPRETATION_KEYS, KEYPOINT_STRUCTURES, PLANE_LABELS
from napari_fada.core.vocabulary import STRUCTURES as ALL_STRUCTURES

ROUND_TRIP = settings(max_examples=60, deadline=None)
MASK_STRUCTURES = [s for s in ALL_STRUCTURES if s not in KEYPOINT_STRUCTURES]


@st.composite
def norm_boxes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    """A box in 0..1000 units at least 2 units wide and tall, so rounding keeps its area."""
    x0 = draw(st.floats(0, 990))
    y0 = draw(st.floats(0, 990))
    return (x0, y0, draw(st.floats(x0 + 2, 1000)), draw(st.floats(y0 + 2, 1000)))


@st.composite
def norm_polygons(draw: st.DrawFn) -> list[tuple[float, float]]:
    """A regular-ish polygon whose vertices stay distinct after rounding to integers."""
    n = draw(st.integers(3, 12))
    radius = draw(st.floats(20, 100))
    cx, cy = draw(st.floats(radius, NORM - radius)), draw(st.floats(radius, NORM - radius))
    turn = draw(st.floats(0, 2 * math.pi))
    angles = [turn + 2 * math.pi * i / n for i in range(n)]
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


@st.composite
def annotations(draw: st.DrawFn) -> tuple[int, int, list[Annotation]]:
    """Pixel annotations of a random image: distinct labels, so none is a duplicate of another."""
    width, height = draw(st.integers(16, 4000)), draw(st.integers(16, 4000))

    def px(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [norm_to_px(x, y, width, height) for x, y in points]

    labels = draw(st.lists(st.sampled_from(ALL_STRUCTURES), min_size=1, max_size=6, unique=True))
    result = []
    for label in labels:
        x0, y0, x1, y1 = draw(norm_boxes())
        box = (*px([(x0, y0)])[0], *px([(x1, y1)])[0])
        if label in KEYPOINT_STRUCTURES:
            points = draw(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 1000)), min_size=1))
            vis = draw(st.lists(st.integers(0, 2), min_size=len(points), max_size=len(points)))
            keypoints = [(x, y, float(v)) for (x, y), v in zip(px(points), vis, strict=True)]
            result.append(Annotation(label, box=box, keypoints=keypoints))
        else:
            result.append(Annotation(label, box=box, polygon=px(draw(norm_polygons()))))
    return width, height, result


def assert_close(got: list[tuple[float, ...]], want: list[tuple[float, ...]], tol: tuple) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert all(abs(a - b) <= t for a, b, t in zip(g, w, tol, strict=False)), (g, w)


def tolerance(width: int, height: int) -> tuple[float, float, float, float]:
    """Half a 0..1000 unit in pixels, per axis (x, y, x, y)."""
    tx, ty = 0.5 * width / NORM + 1e-6, 0.5 * height / NORM + 1e-6
    return (tx, ty, tx, ty)


@ROUND_TRIP
@given(case=annotations())
def test_detect_round_trip(case: tuple[int, int, list[Annotation]]) -> None:
    width, height, want = case
    answer = parse_answer(ff.detect_answer(want, width, height), "detect", width, height, "m")
    assert answer.issues == []
    assert [a.label for a in answer.annotations] == [a.label for a in want]
    tol = tolerance(width, height)
    assert_close([a.box for a in answer.annotations], [a.box for a in want], tol)


@ROUND_TRIP
@given(case=annotations())
def test_segment_round_trip(case: tuple[int, int, list[Annotation]]) -> None:
    width, height, want = case
    answer = parse_answer(ff.segment_answer(want, width, height), "segment", width, height, "m")
    assert answer.issues == []
    assert [a.label for a in answer.annotations] == [a.label for a in want]
    tol = tolerance(width, height)
    for got, expected in zip(answer.annotations, want, strict=True):
        assert_close([got.box], [expected.box], tol)
        assert_close(got.polygon or [], expected.polygon or [], tol)
        assert_close(got.keypoints or [], expected.keypoints or [], (*tol[:2], 0.0))


@ROUND_TRIP
@given(polygon=norm_polygons(), label=st.sampled_from(MASK_STRUCTURES))
def test_box_derived_from_polygon_survives_detect(
    polygon: list[tuple[float, float]], label: str
) -> None:
    text = ff.detect_answer([Annotation(label, polygon=polygon)], 1000, 1000)
    (got,) = parse_answer(text, "detect", 1000, 1000, "m").annotations
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    want = (min(xs), min(ys), max(xs), max(ys))
    assert_close([got.box], [want], tolerance(1000, 1000))


@pytest.mark.parametrize("plane", PLANE_LABELS)
def test_classify_round_trip(plane: str) -> None:
    answer = parse_answer(ff.classify_answer(plane), "classify", 1, 1, "m")
    assert answer.plane_label == plane and answer.issues == []


_TEXT = st.text(st.characters(exclude_characters="<`"), max_size=30)
_VALUES = st.recursive(
    _TEXT | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@ROUND_TRIP
@given(values=st.lists(_VALUES, min_size=8, max_size=8))
def test_interpret_round_trip(values: list[object]) -> None:
    """Any JSON values survive; text holding ``<`` or backticks could look like chat markup."""
    interpretation = dict(zip(INTERPRETATION_KEYS, values, strict=True))
    answer = parse_answer(ff.interpret_answer(interpretation), "interpret", 1, 1, "m")
    assert answer.interpretation == interpretation
    assert answer.compliant and answer.issues == []


def test_real_masks_survive_a_segment_round_trip(samples_dir: Path) -> None:
    """Expert masks of the sample images, as polygons through FADA's answer text and back."""
    names = json.loads((samples_dir / "labels.json").read_text())["structures"]
    dices = []
    for path in sorted((samples_dir / "masks").glob("*.png")):
        label_image = np.asarray(Image.open(path))
        height, width = label_image.shape
        masks = {names[str(v)]: label_image == v for v in np.unique(label_image) if v}
        want = [Annotation(n, polygon=mask_to_polygons(m)[0]) for n, m in masks.items()]
        text = ff.segment_answer(want, width, height)
        answer = parse_answer(text, "segment", width, height, "m")
        assert [a.label for a in answer.annotations] == list(masks)
        for got in answer.annotations:
            mask = polygon_to_mask(got.polygon or [], width, height)
            truth = masks[got.label]
            dices.append(2 * (mask & truth).sum() / (mask.sum() + truth.sum()))
    assert len(dices) >= 20
    assert min(dices) > 0.97
