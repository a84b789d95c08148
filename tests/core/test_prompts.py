"""The task prompts say what fada-contract.md asks for, and their hash tracks every change."""

from __future__ import annotations

import re

import pytest

from napari_fada.core import prompts
from napari_fada.core.vocabulary import INTERPRETATION_KEYS, KEYPOINT_STRUCTURES, PLANE_LABELS
from napari_fada.errors import FadaError


def _quoted_names(text: str) -> set[str]:
    return set(re.findall(r'"([^"]+)"', text))


def test_interpret_prompt_names_exactly_the_eight_keys() -> None:
    text = prompts.interpret_prompt()
    assert "JSON object" in text
    assert set(INTERPRETATION_KEYS) <= _quoted_names(text)


def test_classify_prompt_offers_every_plane_class_and_the_answer_shape() -> None:
    text = prompts.classify_prompt()
    assert set(PLANE_LABELS) <= _quoted_names(text)
    assert '{"label": "<plane class>"}' in text


def test_detect_prompt_names_structures_in_order_once() -> None:
    text = prompts.detect_prompt(["CSP", "Brain", "CSP", " LV "])
    assert '"CSP", "Brain", "LV"' in text
    assert '"bbox_2d": [x_min, y_min, x_max, y_max]' in text
    assert "0..1000" in text
    assert '"mask"' not in text


def test_segment_prompt_asks_for_polygons_and_keypoints_only_when_needed() -> None:
    plain = prompts.segment_prompt(["Brain"])
    assert '"mask": [[x, y], ...]' in plain and "at least 3 vertices" in plain
    assert "keypoints" not in plain
    with_points = prompts.segment_prompt(["NT", "NTKpoints"])
    assert '"keypoints": [[x, y, visibility], ...]' in with_points
    assert 'For "NTKpoints"' in with_points


@pytest.mark.parametrize("phase", ["detect", "segment"])
def test_asking_for_no_structure_is_a_user_error(phase: str) -> None:
    with pytest.raises(FadaError, match="at least one structure"):
        prompts.task_prompt(phase, ["  "])


def test_unknown_phase_is_a_user_error() -> None:
    with pytest.raises(FadaError, match="map"):
        prompts.task_prompt("map")


def test_generation_settings_follow_the_contract() -> None:
    assert (prompts.TEMPERATURE, prompts.TOP_P, prompts.IMAGE_LONG_SIDE) == (0.1, 0.95, 1024)
    assert prompts.max_new_tokens("classify") == 256
    assert {prompts.max_new_tokens(p) for p in ("interpret", "detect", "segment")} == {1024}
    assert prompts.generation_settings("classify")["max_new_tokens"] == 256


def test_prompt_hash_is_stable_and_tells_prompts_apart() -> None:
    digest = prompts.prompt_sha256("detect", ["Brain", "CSP"])
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == prompts.prompt_sha256("detect", ("Brain", "CSP"))
    others = {
        prompts.prompt_sha256("detect", ["CSP", "Brain"]),
        prompts.prompt_sha256("segment", ["Brain", "CSP"]),
        prompts.prompt_sha256("classify"),
        prompts.prompt_sha256("interpret"),
    }
    assert digest not in others and len(others) == 4


def test_prompt_hash_changes_with_the_prompt_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = prompts.prompt_sha256("classify")
    monkeypatch.setattr(prompts, "PROMPT_VERSION", "test")
    assert prompts.prompt_sha256("classify") != before


def test_prompts_are_plain_text_without_unfilled_placeholders() -> None:
    for phase in prompts.MODEL_PHASES:
        text = prompts.task_prompt(phase, ["Brain"])
        assert text == text.strip() and "\n" not in text
        assert "{}" not in text and "None" not in text


def test_every_keypoint_structure_is_asked_with_keypoints() -> None:
    text = prompts.segment_prompt(sorted(KEYPOINT_STRUCTURES))
    assert all(f'"{name}"' in text.split("For ", 1)[1] for name in KEYPOINT_STRUCTURES)
