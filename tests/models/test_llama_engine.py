"""The llama.cpp engine on a tiny Qwen2.5-VL-style GGUF + mmproj pair written in the test."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

import jsonschema
import llama_cpp
from PIL import Image

from napari_fada.core.fada_format import answer_schema
from napari_fada.core.prompts import task_prompt
from napari_fada.core.vocabulary import PLANE_LABELS
from napari_fada.models.llama_engine import LlamaEngine, chat_parts
from napari_fada.models.llama_sampling import TokenSampler, likeliest
from napari_fada.models.vlm_engine import GenerationSettings
from tests.models.tiny_gguf import CHAT_TEMPLATE, TINY_QWEN35, GgufPair, build_gguf_pair

GREEDY = GenerationSettings(max_new_tokens=24, temperature=0.0)
STRUCTURES = ("Brain", "CSP", "LV")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> GgufPair:
    return build_gguf_pair(tmp_path_factory.mktemp("gguf"))


@pytest.fixture(scope="module")
def engine(pair: GgufPair) -> LlamaEngine:
    return LlamaEngine(pair.model, pair.mmproj, threads=1)


@pytest.fixture(scope="module")
def small_image(samples_dir: Path) -> np.ndarray:
    """A real brain plane at 280x193 px: a few dozen image tokens keep the tests fast."""
    path = samples_dir / "images" / "brain_Patient00644_Plane3_1_of_3.png"
    return np.asarray(Image.open(path).resize((280, 193)))


def prompt_evaluations(engine: LlamaEngine) -> int:
    """Tokens llama.cpp evaluated in prompt batches since the last reset (image included)."""
    return int(llama_cpp.llama_perf_context(engine._llama.ctx).n_p_eval)


def reset_counts(engine: LlamaEngine) -> None:
    llama_cpp.llama_perf_context_reset(engine._llama.ctx)


def test_pair_loads_with_provenance_and_the_gguf_chat_template(
    engine: LlamaEngine, pair: GgufPair
) -> None:
    assert engine.info.backend == "llama"
    assert engine.info.model_id == "tiny-fada-qwen2vl"
    assert len(engine.info.weights_sha256 or "") == 64
    assert engine.threads == 1 and engine.n_ctx == 4096
    assert (engine._prefix_text, engine._suffix_text) == (
        "<|im_start|>user\n<__media__>",
        "<|im_end|>\n<|im_start|>assistant\n",
    )


def test_chat_template_of_the_gguf_else_chatml() -> None:
    shouting = CHAT_TEMPLATE.replace("{{ message['role'] }}", "{{ message['role'] | upper }}")
    assert chat_parts(shouting, "<M>") == (
        "<|im_start|>USER\n<M>",
        "<|im_end|>\n<|im_start|>assistant\n",
    )
    chatml = ("<|im_start|>user\n<M>", "<|im_end|>\n<|im_start|>assistant\n")
    assert chat_parts(None, "<M>") == chatml
    assert chat_parts("{{ raise_exception('no images') }}", "<M>") == chatml
    assert chat_parts("{% for m in messages %}{{ m['role'] }}{% endfor %}", "<M>") == chatml


def test_image_is_encoded_and_prefilled_once(engine: LlamaEngine, small_image: np.ndarray) -> None:
    reset_counts(engine)
    context = engine.encode_image(small_image)
    assert (context.width, context.height) == (280, 193)
    assert context.image_tokens == 10 * 7  # 2x2 merged 14-px patches: 280/28 x round(193/28)
    assert prompt_evaluations(engine) == context.state.tokens > context.image_tokens
    for phase in ("classify", "interpret"):
        reset_counts(engine)
        answer = engine.generate(context, task_prompt(phase), GREEDY)
        phase_tokens = len(engine._tokenize(task_prompt(phase) + engine._suffix_text))
        assert answer.prompt_tokens == context.state.tokens + phase_tokens
        assert prompt_evaluations(engine) == phase_tokens  # the image prefix is not evaluated


def test_without_reuse_every_phase_encodes_the_image_again(
    pair: GgufPair, small_image: np.ndarray
) -> None:
    engine = LlamaEngine(pair.model, pair.mmproj, threads=1, reuse_image=False)
    context = engine.encode_image(small_image)
    reset_counts(engine)
    answer = engine.generate(context, task_prompt("classify"), GREEDY)
    assert prompt_evaluations(engine) == answer.prompt_tokens
    assert answer.prompt_tokens > context.image_tokens
    engine.close()


def test_reused_prefix_answers_as_a_fresh_prefill(
    engine: LlamaEngine, pair: GgufPair, small_image: np.ndarray
) -> None:
    fresh = LlamaEngine(pair.model, pair.mmproj, threads=1, reuse_image=False)
    settings = GenerationSettings(max_new_tokens=40, temperature=0.0)
    context, fresh_context = engine.encode_image(small_image), fresh.encode_image(small_image)
    for phase in ("detect", "classify", "detect"):
        prompt = task_prompt(phase, STRUCTURES)
        reused = engine.generate(context, prompt, settings)
        assert reused.text == fresh.generate(fresh_context, prompt, settings).text
    fresh.close()


@pytest.mark.parametrize("phase", ["interpret", "classify", "detect", "segment"])
def test_constrained_answers_parse_and_follow_the_schema(
    engine: LlamaEngine, small_image: np.ndarray, phase: str
) -> None:
    schema = answer_schema(phase, STRUCTURES)
    context = engine.encode_image(small_image)
    settings = GenerationSettings(max_new_tokens=400, json_schema=schema, seed=3)
    answer = engine.generate(context, task_prompt(phase, STRUCTURES), settings)
    value = json.loads(answer.text)
    jsonschema.validate(value, schema)
    assert answer.generated_tokens == len(answer.text) + 1  # byte tokens, then <|im_end|>
    assert answer.tokens_per_s > 0 and answer.prefill_s > 0
    if phase == "classify":
        assert value["label"] in PLANE_LABELS
    if phase in ("detect", "segment"):
        assert value and value[0]["label"] in STRUCTURES


def test_sampling_follows_the_seed(engine: LlamaEngine, small_image: np.ndarray) -> None:
    context = engine.encode_image(small_image)
    schema = answer_schema("detect", STRUCTURES)
    prompt = task_prompt("detect", STRUCTURES)

    def boxes(seed: int) -> str:
        settings = GenerationSettings(max_new_tokens=100, json_schema=schema, seed=seed)
        return engine.generate(context, prompt, settings).text

    assert boxes(5) == boxes(5)
    assert len({boxes(seed) for seed in range(4)}) > 1


def test_likeliest_orders_by_logit_then_id() -> None:
    logits = np.random.default_rng(0).integers(0, 40, 500).astype(np.float32)  # many ties
    order = np.lexsort((np.arange(500), -logits))
    for count in (1, 7, 50, 499, 500, 600):
        assert likeliest(logits, count).tolist() == order[:count].tolist()


@pytest.mark.parametrize(
    "settings",
    [GREEDY, GenerationSettings(seed=2), GenerationSettings(top_k=5, seed=2)],
    ids=["greedy", "sampled", "top_k 5"],
)
def test_grammar_on_a_shortlist_samples_what_the_whole_vocabulary_does(
    engine: LlamaEngine,
    small_image: np.ndarray,
    settings: GenerationSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tiny model gives its digits equal logits: ties are ordered alike both ways."""
    context = engine.encode_image(small_image)
    samplers: list[TokenSampler] = []
    make = engine._sampler

    def counted(settings: GenerationSettings) -> TokenSampler:
        samplers.append(make(settings))
        return samplers[-1]

    monkeypatch.setattr(engine, "_sampler", counted)
    for phase in ("interpret", "classify", "detect", "segment"):
        asked = replace(settings, max_new_tokens=200, json_schema=answer_schema(phase, STRUCTURES))
        answers = []
        for shortlist in (0, 16):  # the whole vocabulary of 264 tokens, then 16 of them first
            monkeypatch.setattr(engine, "shortlist", shortlist)
            answers.append(engine.generate(context, task_prompt(phase, STRUCTURES), asked))
        assert answers[0].text == answers[1].text
        assert answers[0].generated_tokens == answers[1].generated_tokens
    whole, short = samplers[0::2], samplers[1::2]
    assert sum(s.shortlisted for s in whole) == 0
    assert sum(s.shortlisted for s in short) > 0 and sum(s.whole for s in short) > 0


def test_callback_streams_text_and_cancels(engine: LlamaEngine, small_image: np.ndarray) -> None:
    context = engine.encode_image(small_image)
    schema = answer_schema("interpret")
    settings = GenerationSettings(max_new_tokens=60, json_schema=schema)
    pieces: list[str] = []

    def on_text(piece: str) -> bool:
        pieces.append(piece)
        return len(pieces) == 5

    stopped = engine.generate(context, task_prompt("interpret"), settings, on_text)
    full = engine.generate(context, task_prompt("interpret"), settings)
    assert stopped.stopped_by_callback and not full.stopped_by_callback
    assert stopped.generated_tokens == 5
    assert "".join(pieces) == stopped.text == full.text[:5] == '{"ana'


def test_eos_ignored_on_request_gives_exactly_max_new_tokens(
    engine: LlamaEngine, small_image: np.ndarray
) -> None:
    context = engine.encode_image(small_image)
    engine.stop_at_eos = False
    try:
        answer = engine.generate(context, "Hi", GenerationSettings(max_new_tokens=30))
    finally:
        engine.stop_at_eos = True
    assert answer.generated_tokens == 30
    assert engine.generate(context, "Hi", GenerationSettings(max_new_tokens=30)).text == ""


def test_qwen35_hybrid_memory_restores_the_image_prefix(
    tmp_path: Path, small_image: np.ndarray
) -> None:
    """FADA's Qwen3.5: gated delta-net state is saved and restored with the attention cache."""
    text, vision = TINY_QWEN35
    pair = build_gguf_pair(tmp_path, text, vision, name="tiny-fada-qwen35")
    reused = LlamaEngine(pair.model, pair.mmproj, threads=1)
    fresh = LlamaEngine(pair.model, pair.mmproj, threads=1, reuse_image=False)
    context, fresh_context = reused.encode_image(small_image), fresh.encode_image(small_image)
    assert context.image_tokens == 9 * 6  # 2x2 merged 16-px patches of 280x193
    for phase in ("detect", "classify", "detect"):
        schema = answer_schema(phase, STRUCTURES)
        settings = GenerationSettings(max_new_tokens=100, json_schema=schema, seed=1)
        prompt = task_prompt(phase, STRUCTURES)
        answer = reused.generate(context, prompt, settings)
        assert answer.text == fresh.generate(fresh_context, prompt, settings).text
        jsonschema.validate(json.loads(answer.text), schema)
