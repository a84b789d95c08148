"""FADA's five-phase pipeline over a scripted engine: order, selection, resize, cancel, answers."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from napari_fada.core.fada_format import answer_schema
from napari_fada.core.proposal import Annotation, ModelInfo
from napari_fada.errors import Cancelled, FadaError, ImageReadError
from napari_fada.models.base import CancelToken, ProposeRequest
from napari_fada.models.fada_pipeline import FadaPipeline, merge_instances, model_input
from napari_fada.models.vlm_engine import (
    Generation,
    GenerationSettings,
    ImageContext,
    TokenCallback,
    VisionLanguageEngine,
)

INTERPRETATION = {
    "anatomical_structures": ["skull", "thalami"],
    "fetal_orientation": "transverse",
    "imaging_plane": "trans-thalamic",
    "biometric_measurements": {},
    "gestational_age": "22 weeks",
    "image_quality": "good",
    "normality_assessment": "normal",
    "clinical_recommendations": "none",
}
GOOD_ANSWERS = {
    "interpret": json.dumps(INTERPRETATION),
    "classify": '{"label": "BPD_PLANE"}',
    "detect": '[{"bbox_2d": [100, 200, 500, 600], "label": "Brain"}]',
    "segment": json.dumps(
        [
            {
                "bbox_2d": [110, 210, 490, 590],
                "label": "Brain",
                "mask": [[110, 210], [490, 210], [300, 590]],
            }
        ]
    ),
}


class ScriptedEngine(VisionLanguageEngine):
    """Answers each phase with fixed text, streamed in pieces; records what it was asked."""

    def __init__(
        self, answers: dict[str, str], during: Callable[[str], None] | None = None
    ) -> None:
        self.info = ModelInfo("scripted-vlm", "scripted", "a" * 64, "b" * 64)
        self.answers = answers
        self.during = during
        self.encoded: list[tuple[int, ...]] = []
        self.asked: list[tuple[str, str, GenerationSettings]] = []

    def encode_image(self, image: np.ndarray) -> ImageContext:
        self.encoded.append(image.shape)
        return ImageContext(image.shape[1], image.shape[0], 12, 0.01, state=image.shape)

    def generate(
        self,
        context: ImageContext,
        prompt: str,
        settings: GenerationSettings,
        on_text: TokenCallback | None = None,
    ) -> Generation:
        phase = next(p for p in self.answers if prompt.lower().startswith(p[:6]))
        self.asked.append((phase, prompt, settings))
        text, stopped = "", False
        for start in range(0, len(self.answers[phase]), 4):
            piece = self.answers[phase][start : start + 4]
            text += piece
            if self.during is not None:
                self.during(phase)
            if on_text is not None and on_text(piece):
                stopped = True
                break
        return Generation(text, 40, len(text) // 4, 0.01, 0.02, stopped)


def _image(width: int = 800, height: int = 540) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (height, width), dtype=np.uint8)


def test_phases_run_in_contract_order_on_one_encoding() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    progress: list[tuple[str, float]] = []
    proposal = FadaPipeline(engine).propose(
        _image(), progress=lambda message, fraction: progress.append((message, fraction))
    )
    assert [phase for phase, _, _ in engine.asked] == ["interpret", "classify", "detect", "segment"]
    assert engine.encoded == [(540, 800)]
    assert proposal.plane is not None and proposal.plane.label == "BPD_PLANE"
    assert proposal.plane.source == "scripted-vlm"
    assert proposal.interpretation == INTERPRETATION
    assert set(proposal.raw_answers) == {"interpret", "classify", "map", "detect", "segment"}
    assert proposal.raw_answers["detect"] == GOOD_ANSWERS["detect"]
    assert json.loads(proposal.raw_answers["map"])["group"] == "brain"
    assert {"encode", "interpret", "classify", "map", "detect", "segment", "total"} <= set(
        proposal.timings_s
    )
    fractions = [f for _, f in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("segmenting" in m for m, _ in progress)


def test_generation_follows_the_contract_and_the_routing() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    pipeline = FadaPipeline(engine)
    pipeline.propose(_image())
    settings = {phase: s for phase, _, s in engine.asked}
    prompts = {phase: p for phase, p, _ in engine.asked}
    assert settings["classify"].max_new_tokens == 256
    assert settings["interpret"].max_new_tokens == 1024
    assert {(s.temperature, s.top_p) for s in settings.values()} == {(0.1, 0.95)}
    # BPD_PLANE routes to the brain group: detect Brain, CSP, LV; segment Brain only
    assert all(f'"{name}"' in prompts["detect"] for name in ("Brain", "CSP", "LV"))
    assert '"CSP"' not in prompts["segment"]
    assert settings["detect"].json_schema == answer_schema("detect", ("Brain", "CSP", "LV"))
    assert settings["segment"].json_schema == answer_schema("segment", ("Brain",))
    assert set(pipeline.last_generations) == {"interpret", "classify", "detect", "segment"}
    assert pipeline.last_generations["detect"].generated_tokens > 0


def test_unconstrained_pipeline_sends_no_schema_and_hashes_differently() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    loose = FadaPipeline(engine, constrained=False)
    loose.propose(_image(), ProposeRequest(phases=("classify",)))
    assert engine.asked[0][2].json_schema is None
    strict = FadaPipeline(engine)
    assert loose.info.model_id == strict.info.model_id == "scripted-vlm"
    assert loose.info.weights_sha256 == "a" * 64
    assert len({loose.info.config_sha256, strict.info.config_sha256, "b" * 64}) == 3


def test_selected_phases_only_and_routing_without_map() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    proposal = FadaPipeline(engine).propose(
        _image(), ProposeRequest(phases=("segment", "classify"))
    )
    assert [phase for phase, _, _ in engine.asked] == ["classify", "segment"]
    assert proposal.interpretation is None
    assert [a.label for a in proposal.annotations] == ["Brain"]
    assert "interpret" not in proposal.timings_s


def test_structures_chosen_by_hand_override_the_routing() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    request = ProposeRequest(phases=("classify", "map", "detect"), structures=("head", "CSP"))
    proposal = FadaPipeline(engine).propose(_image(), request)
    detect_prompt = engine.asked[-1][1]
    assert '"head"' in detect_prompt and '"CSP"' in detect_prompt and '"LV"' not in detect_prompt
    assert json.loads(proposal.raw_answers["map"])["group"] == "chosen by hand"


def test_a_group_with_nothing_to_segment_is_skipped_with_a_reason() -> None:
    engine = ScriptedEngine({**GOOD_ANSWERS, "classify": '{"label": "legs"}'})
    proposal = FadaPipeline(engine).propose(
        _image(), ProposeRequest(phases=("classify", "segment"))
    )
    assert [phase for phase, _, _ in engine.asked] == ["classify"]
    assert any(i.startswith("segment: skipped") and "body_pose" in i for i in proposal.issues)


def test_only_map_asks_nothing_of_the_model() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    proposal = FadaPipeline(engine).propose(_image(), ProposeRequest(phases=("map",)))
    assert engine.encoded == [] and engine.asked == []
    assert json.loads(proposal.raw_answers["map"])["group"] == "body_pose"


def test_answers_are_placed_on_the_original_image_after_the_resize() -> None:
    engine = ScriptedEngine(GOOD_ANSWERS)
    proposal = FadaPipeline(engine).propose(
        _image(2000, 1000), ProposeRequest(phases=("detect",), structures=("Brain",))
    )
    assert engine.encoded == [(512, 1024)]
    assert (proposal.width, proposal.height) == (2000, 1000)
    assert proposal.annotations[0].box == pytest.approx((200, 200, 1000, 600))


def test_model_input_never_enlarges_and_keeps_colour() -> None:
    assert model_input(_image(300, 200)).shape == (200, 300)
    rgba = np.zeros((1500, 600, 4), np.uint8)
    assert model_input(rgba).shape == (1024, 410, 3)
    deep = np.arange(64 * 32, dtype=np.uint16).reshape(64, 32) * 30
    converted = model_input(deep)
    assert converted.dtype == np.uint8 and converted.max() == 255


def test_bad_images_and_phases_are_clear_errors() -> None:
    pipeline = FadaPipeline(ScriptedEngine(GOOD_ANSWERS))
    with pytest.raises(ImageReadError, match="single frame"):
        pipeline.propose(np.zeros((4, 64, 64), np.uint8))
    with pytest.raises(FadaError, match="'measure'"):
        pipeline.propose(_image(), ProposeRequest(phases=("classify", "measure")))
    with pytest.raises(FadaError, match="No phase chosen"):
        pipeline.propose(_image(), ProposeRequest(phases=()))


def test_cancel_during_generation_stops_that_phase_and_the_rest() -> None:
    token = CancelToken()

    def cancel_in_detect(phase: str) -> None:
        if phase == "detect":
            token.cancel()

    engine = ScriptedEngine(GOOD_ANSWERS, during=cancel_in_detect)
    with pytest.raises(Cancelled, match="detect"):
        FadaPipeline(engine).propose(_image(), cancel=token)
    assert [phase for phase, _, _ in engine.asked] == ["interpret", "classify", "detect"]


def test_prose_and_broken_answers_become_issues_not_crashes() -> None:
    answers = {
        "interpret": "The image shows a fetal head in a transverse plane.",
        "classify": "I think this is the BPD_PLANE view.",
        "detect": '[{"bbox_2d": [-50, 100, 400, 1300], "label": "Brain"}, {"bbox_2d": [10, 1',
        "segment": json.dumps(
            [
                {"bbox_2d": [1, 1, 9, 9], "label": "Brain", "mask": [[1, 1], [9, 9]]},
                {
                    "bbox_2d": [500, 500, 600, 600],
                    "label": "kidney",
                    "mask": [[500, 500], [600, 500], [550, 600]],
                },
            ]
        ),
    }
    proposal = FadaPipeline(ScriptedEngine(answers)).propose(_image())
    issues = "\n".join(proposal.issues)
    assert proposal.interpretation is None and "interpret: no_json" in issues
    assert proposal.plane is not None and proposal.plane.label == "BPD_PLANE"
    assert "detect: clamped" in issues and "detect: truncated" in issues
    assert "segment: degenerate_polygon" in issues
    kidney = next(a for a in proposal.annotations if a.label == "kidney")
    assert "label_outside_vocabulary" in kidney.flags and kidney.polygon is not None
    brain = next(a for a in proposal.annotations if a.label == "Brain" and "clamped" in a.flags)
    assert brain.box == pytest.approx((0, 54, 320, 540))


def test_segment_outlines_merge_with_their_detect_boxes() -> None:
    def annotation(label: str, box: tuple[float, ...], polygon: bool = False) -> Annotation:
        x0, y0, x1, y1 = box
        outline = [(x0, y0), (x1, y0), (x1, y1)] if polygon else None
        return Annotation(label, box=(x0, y0, x1, y1), polygon=outline, source="m", flags=[])

    left = annotation("LV", (0, 0, 10, 10))
    right = annotation("LV", (50, 50, 70, 70))
    right.score, right.flags = 0.7, ["clamped"]
    outline = annotation("LV", (52, 51, 69, 72), polygon=True)
    outline.flags = ["flat_polygon"]
    stray = annotation("CSP", (0, 0, 10, 10), polygon=True)
    merged = merge_instances([left, right], [outline, stray])
    assert len(merged) == 3
    assert merged[0] is left and merged[0].polygon is None
    assert merged[1].polygon == outline.polygon
    assert merged[1].box == (50, 50, 70, 70) and merged[1].score == 0.7
    assert merged[1].flags == ["clamped", "flat_polygon"]
    assert merged[2] is stray
