"""parse_answer on a corpus of realistic and broken FADA answers, and on targeted cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from napari_fada.core.parsing import parse_answer
from napari_fada.core.vocabulary import INTERPRETATION_KEYS

CORPUS = Path(__file__).parent / "parser_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.txt"))
SOURCE = "fada-test"


def _by_label(items: list[Any]) -> dict[str, Any]:
    return {a.label: a for a in items}


def test_corpus_is_large_enough_and_complete() -> None:
    assert len(CASES) >= 25
    assert sorted(p.stem for p in CORPUS.glob("*.json")) == CASES


@pytest.mark.parametrize("name", CASES)
def test_corpus_answer(name: str) -> None:
    text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
    expect = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    width, height = expect.get("width", 640), expect.get("height", 480)
    answer = parse_answer(text, expect["phase"], width, height, SOURCE)
    issues = "\n".join(answer.issues)

    assert answer.raw == text
    if expect.get("no_issues"):
        assert answer.issues == []
    for keyword in expect.get("issues", []):
        assert keyword in issues, f"{keyword!r} not in issues:\n{issues}"
    for keyword in expect.get("absent_issues", []):
        assert keyword not in issues
    if "count" in expect:
        assert len(answer.annotations) == expect["count"], issues
    if "labels" in expect:
        assert [a.label for a in answer.annotations] == expect["labels"]
    flags = {f for a in answer.annotations for f in a.flags}
    assert flags == set(expect.get("flags", []))
    annotations = _by_label(answer.annotations)
    for label, box in expect.get("boxes", {}).items():
        assert annotations[label].box == pytest.approx(tuple(box))
    for label, size in expect.get("polygon_sizes", {}).items():
        assert len(annotations[label].polygon or []) == size
    for label, size in expect.get("keypoint_counts", {}).items():
        assert len(annotations[label].keypoints or []) == size
    if "plane_label" in expect:
        assert answer.plane_label == expect["plane_label"]
    if "compliant" in expect:
        assert answer.compliant is expect["compliant"]
    if "interpretation_keys" in expect:
        assert answer.interpretation is not None
        assert (
            len(set(answer.interpretation) & set(INTERPRETATION_KEYS))
            == (expect["interpretation_keys"])
        )
    for a in answer.annotations:
        assert (a.source, a.status, a.score) == (SOURCE, "proposed", None)


def test_coordinates_are_scaled_per_axis() -> None:
    text = '[{"bbox_2d": [100, 250, 500, 1000], "label": "Brain"}]'
    (brain,) = parse_answer(text, "detect", 1200, 400, SOURCE).annotations
    assert brain.box == pytest.approx((120.0, 100.0, 600.0, 400.0))


def test_keypoints_are_scaled_and_keep_visibility() -> None:
    text = '[{"label": "CRL_KP", "keypoints": [[0, 0, 2], [1000, 500, 1], [250, 1000, 0]]}]'
    (crl,) = parse_answer(text, "segment", 400, 200, SOURCE).annotations
    assert crl.keypoints == [(0.0, 0.0, 2.0), (400.0, 100.0, 1.0), (100.0, 200.0, 0.0)]
    assert crl.box == pytest.approx((0.0, 0.0, 400.0, 200.0))


def test_keypoints_given_as_pairs_are_visible() -> None:
    text = '[{"label": "ScaleBarKpoints", "keypoints": [[100, 900], [300, 900]]}]'
    (bar,) = parse_answer(text, "segment", 1000, 1000, SOURCE).annotations
    assert bar.keypoints == [(100.0, 900.0, 2.0), (300.0, 900.0, 2.0)]
    assert bar.box is None  # the two points span no area


def test_malformed_keypoints_are_dropped_and_box_kept() -> None:
    text = '[{"bbox_2d": [1, 2, 30, 40], "label": "CRL_KP", "keypoints": [[1, 2, 3, 4], [5, 6]]}]'
    answer = parse_answer(text, "segment", 1000, 1000, SOURCE)
    (crl,) = answer.annotations
    assert crl.keypoints is None and crl.box == (1.0, 2.0, 30.0, 40.0)
    assert any(i.startswith("bad_keypoints") for i in answer.issues)


def test_item_with_no_geometry_is_dropped() -> None:
    answer = parse_answer('[{"label": "Brain"}]', "detect", 100, 100, SOURCE)
    assert answer.annotations == []
    assert any(i.startswith("no_box") for i in answer.issues)


def test_unknown_phase_and_bad_size_are_reported() -> None:
    text = '[{"bbox_2d": [1, 2, 3, 4], "label": "Brain"}]'
    assert "unknown_phase" in parse_answer(text, "map", 10, 10, SOURCE).issues[0]
    answer = parse_answer(text, "detect", 0, 10, SOURCE)
    assert answer.annotations == [] and "bad_size" in answer.issues[0]


@pytest.mark.parametrize("text", ["", "   \n", "<think></think>", "<think>\n\n</think>\n"])
def test_empty_answers(text: str) -> None:
    for phase in ("interpret", "classify", "detect", "segment"):
        answer = parse_answer(text, phase, 100, 100, SOURCE)
        assert answer.annotations == [] and answer.plane_label is None
        assert answer.interpretation is None and not answer.compliant
        assert any(i.startswith("empty") for i in answer.issues)


def test_deeply_nested_input_is_survived() -> None:
    answer = parse_answer("[" * 5000 + "]" * 5000, "detect", 100, 100, SOURCE)
    assert answer.annotations == []


def test_interpretation_nested_under_one_key_is_unwrapped() -> None:
    inner = dict.fromkeys(INTERPRETATION_KEYS, "x")
    answer = parse_answer(json.dumps({"interpretation": inner}), "interpret", 1, 1, SOURCE)
    assert answer.interpretation == inner
    assert answer.compliant
    assert any(i.startswith("unwrapped") for i in answer.issues)


def test_interpretation_with_extra_key_is_compliant_and_reported() -> None:
    value = {**dict.fromkeys(INTERPRETATION_KEYS, "x"), "confidence": "high"}
    answer = parse_answer(json.dumps(value), "interpret", 1, 1, SOURCE)
    assert answer.compliant and answer.interpretation == value
    assert any(i.startswith("extra_keys") for i in answer.issues)


def test_zero_area_box_falls_back_to_the_item_geometry() -> None:
    bar_points = [[100, 500, 2], [300, 500, 2]]
    triangle = [[0, 0], [50, 0], [0, 40]]
    text = json.dumps(
        [
            {"bbox_2d": [100, 500, 300, 500], "label": "ScaleBarKpoints", "keypoints": bar_points},
            {"bbox_2d": [10, 10, 10, 10], "label": "stomach", "mask": triangle},
        ]
    )
    answer = parse_answer(text, "segment", 1000, 1000, SOURCE)
    bar, stomach = answer.annotations
    assert bar.box is None and bar.keypoints == [(100.0, 500.0, 2.0), (300.0, 500.0, 2.0)]
    assert stomach.box == (0.0, 0.0, 50.0, 40.0)
    assert sum(i.startswith("zero_area") for i in answer.issues) == 2
    assert any(i.startswith("box_from_mask") for i in answer.issues)


def test_label_under_another_key_is_read() -> None:
    text = '[{"bbox_2d": [1, 2, 30, 40], "structure": "liver"}]'
    (liver,) = parse_answer(text, "detect", 1000, 1000, SOURCE).annotations
    assert liver.label == "liver"
