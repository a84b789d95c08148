"""Serializing to FADA's answer text: 0..1000 integers, clamped, and valid against the schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest

from napari_fada.core import fada_format as ff
from napari_fada.core.proposal import Annotation
from napari_fada.core.vocabulary import INTERPRETATION_KEYS, PLANE_LABELS
from napari_fada.errors import DatasetError, FadaError

INTERPRETATION = {k: f"{k} text" for k in INTERPRETATION_KEYS}


def validate(answer: str, phase: str, structures: list[str] | None = None) -> None:
    jsonschema.validate(
        json.loads(answer),
        ff.answer_schema(phase, structures),
        cls=jsonschema.Draft202012Validator,
    )


def test_detect_answer_normalizes_rounds_and_clamps() -> None:
    annotations = [
        Annotation("Brain", box=(80.0, 60.0, 400.2, 300.0)),
        Annotation("CSP", box=(-5.0, 10.0, 900.0, 700.0)),
    ]
    items = json.loads(ff.detect_answer(annotations, 800, 600))
    assert items == [
        {"bbox_2d": [100, 100, 500, 500], "label": "Brain"},
        {"bbox_2d": [0, 17, 1000, 1000], "label": "CSP"},
    ]


def test_detect_answer_derives_boxes_and_skips_annotations_without_geometry() -> None:
    annotations = [
        Annotation("stomach", polygon=[(10.0, 20.0), (50.0, 20.0), (30.0, 80.0)]),
        Annotation("CRL_KP", keypoints=[(0.0, 0.0, 2.0), (100.0, 50.0, 2.0)]),
        Annotation("liver"),
    ]
    items = json.loads(ff.detect_answer(annotations, 100, 100))
    assert [i["bbox_2d"] for i in items] == [[100, 200, 500, 800], [0, 0, 1000, 500]]


def test_segment_answer_writes_masks_and_keypoints() -> None:
    annotations = [
        Annotation("Brain", box=(0.0, 0.0, 50.0, 50.0), polygon=[(0, 0), (50, 0), (25, 50)]),
        Annotation("NTKpoints", box=(10.0, 10.0, 20.0, 40.0), keypoints=[(10, 10, 2), (20, 40, 1)]),
        Annotation("thorax", box=(0.0, 0.0, 10.0, 10.0)),
        Annotation("NT", polygon=[(0.0, 0.0), (0.01, 0.0), (0.0, 0.01)]),
    ]
    items = json.loads(ff.segment_answer(annotations, 100, 100))
    assert items == [
        {"bbox_2d": [0, 0, 500, 500], "label": "Brain", "mask": [[0, 0], [500, 0], [250, 500]]},
        {
            "bbox_2d": [100, 100, 200, 400],
            "label": "NTKpoints",
            "keypoints": [[100, 100, 2], [200, 400, 1]],
        },
    ]


def test_classify_and_interpret_answers() -> None:
    assert json.loads(ff.classify_answer("V sign")) == {"label": "V sign"}
    reordered = dict(reversed(INTERPRETATION.items()))
    answer = ff.interpret_answer(reordered)
    assert list(json.loads(answer)) == list(INTERPRETATION_KEYS)


def test_interpret_answer_refuses_missing_or_extra_keys() -> None:
    partial = {k: v for k, v in INTERPRETATION.items() if k != "gestational_age"}
    with pytest.raises(DatasetError, match="missing gestational_age"):
        ff.interpret_answer(partial)
    with pytest.raises(DatasetError, match="unexpected mood"):
        ff.interpret_answer({**INTERPRETATION, "mood": "calm"})


def test_bad_image_size_is_an_error() -> None:
    with pytest.raises(FadaError, match="0 x 10"):
        ff.detect_answer([], 0, 10)


def test_answers_validate_against_their_schemas() -> None:
    annotations = [
        Annotation("Brain", box=(0.0, 0.0, 50.0, 50.0), polygon=[(0, 0), (50, 0), (25, 50)]),
        Annotation("CRL_KP", box=(1.0, 1.0, 9.0, 9.0), keypoints=[(1, 1, 2), (9, 9, 0)]),
    ]
    validate(ff.detect_answer(annotations, 64, 64), "detect")
    validate(ff.segment_answer(annotations, 64, 64), "segment")
    validate(ff.segment_answer(annotations, 64, 64), "segment", ["Brain", "CRL_KP"])
    validate(ff.interpret_answer(INTERPRETATION), "interpret")
    for plane in PLANE_LABELS:
        validate(ff.classify_answer(plane), "classify")


BOX = [0, 0, 5, 5]
TRIANGLE = [[0, 0], [5, 5], [0, 5]]


@pytest.mark.parametrize(
    ("phase", "answer", "structures"),
    [
        ("detect", [{"bbox_2d": [0, 0, 1001, 5], "label": "Brain"}], None),
        ("detect", [{"bbox_2d": [0, 0, 5], "label": "Brain"}], None),
        ("detect", [{"bbox_2d": BOX, "label": "Brain"}], ["CSP"]),
        ("detect", [{"bbox_2d": BOX, "label": "cerebellum"}], None),
        ("segment", [{"bbox_2d": BOX, "label": "Brain", "mask": TRIANGLE[:2]}], None),
        ("segment", [{"bbox_2d": BOX, "label": "Brain"}], None),
        ("segment", [{"bbox_2d": BOX, "label": "NTKpoints", "mask": TRIANGLE}], None),
        ("segment", [{"bbox_2d": BOX, "label": "CRL_KP", "keypoints": [[1, 1, 3]]}], None),
        ("classify", {"label": "transcerebellar"}, None),
        ("interpret", dict.fromkeys(INTERPRETATION_KEYS, 1), None),
    ],
)
def test_schemas_reject_answers_off_contract(
    phase: str, answer: object, structures: list[str] | None
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(json.dumps(answer), phase, structures)


def test_schemas_are_valid_json_schema() -> None:
    for phase in ff.ANSWER_PHASES:
        jsonschema.Draft202012Validator.check_schema(ff.answer_schema(phase))
    with pytest.raises(FadaError, match="map"):
        ff.answer_schema("map")


def test_boxes_without_area_are_not_detections_but_keypoints_still_segment() -> None:
    bar = Annotation("ScaleBarKpoints", keypoints=[(10.0, 50.0, 2.0), (30.0, 50.0, 2.0)])
    assert json.loads(ff.detect_answer([bar], 100, 100)) == []
    items = json.loads(ff.segment_answer([bar], 100, 100))
    assert items[0]["keypoints"] == [[100, 500, 2], [300, 500, 2]]
