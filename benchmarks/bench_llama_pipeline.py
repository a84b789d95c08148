"""Benchmark FADA's model phases on the llama.cpp engine, with and without image reuse.

    nice python benchmarks/bench_llama_pipeline.py [--models tiny fada-0.8b] [--threads N]
        [--keep DIR] [--json OUT] [--parts phases batching decode grammar]

Speed does not depend on the weights' values, so random-weight GGUF files stand in for FADA:
``tiny`` (the test model, fed a FADA-sized image) and ``fada-0.8b``: Qwen3.5 0.8B's text model
(llama.cpp architecture ``qwen35``: 24 layers of width 1024, three gated delta-net layers per
gated-attention layer, a 248k vocabulary with word-sized tokens for FADA's prompts, tied
embeddings) written as F16 and quantized to
Q4_K_M with llama.cpp, plus an F16 ``qwen3vl_merger`` mmproj with the 0.8B vision sizes (12
blocks of 768, patch 16, 2x2 merge). Each runs the four model phases on a real 800x540
ultrasound image with a fixed number of generated tokens per phase (400/10/120/400,
end-of-sequence ignored, no grammar), sampling as the contract says, once encoding the image and
prefilling its prefix once (reuse ON) and once paying both in every phase (reuse OFF). MAP is
rules only and costs nothing here.

Then the four phases' wall time: naive calls (the image encoded in every phase, one answer at
a time) against the new code (image reused, independent phases as parallel sequences), and
``--batch-size`` images one answer at a time against the engine's batching. Then decoding alone
is compared with plain llama-cpp-python on the same GGUF and threads
(``Llama.generate`` with FADA's temperature and top_p and llama-cpp-python's other defaults, on
a text prompt as long as the engine's image prompt): tokens per second and process CPU time
per token, best of ``--rounds`` alternating runs, so that a busy machine hurts both alike. Last,
constrained decoding as the pipeline runs it (each phase's JSON grammar, FADA's sampling, the
answer ending with the grammar): the grammar checking the whole vocabulary every token against
the engine's shortlist of the likeliest tokens, with how often the shortlist decided; both give
the same answers. ``--parts`` picks some of these (e.g. ``--parts decode`` on a busy machine).

The table and the totals are printed by the transformers benchmark's code, so both backends
report the same figures: per phase prefill, decode and total seconds and decode tokens per
second; per run the image encoding (with the prefix prefill), the whole pipeline, and its ratio
to one phase run alone (encoding plus INTERPRET). The process CPU time of each run is printed
too: on a shared machine it tells the work apart from the waiting (with ``--threads 1`` it is
what the run takes on one free core). Model files are built in a temporary folder (or
``--keep DIR``, reused when there), never in the repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the GGUF writers are the test helpers

import llama_cpp  # noqa: E402
from benchmarks.bench_hf_pipeline import (  # noqa: E402
    DEFAULT_IMAGE,
    PHASE_TOKENS,
    STRUCTURES,
    Comparison,
    Run,
    compare_batching,
    compare_reuse,
    write_json,
)
from tests.models.tiny_gguf import (  # noqa: E402
    GgufPair,
    TextShape,
    VisionShape,
    build_gguf_pair,
    learn_merges,
    write_mmproj,
    write_text_model,
)

from napari_fada.core.fada_format import answer_schema  # noqa: E402
from napari_fada.core.prompts import TEMPERATURE, TOP_P, task_prompt  # noqa: E402
from napari_fada.models.llama_engine import LlamaEngine  # noqa: E402
from napari_fada.models.llama_sampling import SHORTLIST, TokenSampler  # noqa: E402
from napari_fada.models.vlm_engine import GenerationSettings  # noqa: E402

#: Qwen3.5-0.8B's text sizes as we know them (the transformers benchmark uses the same):
#: 8 query heads of 256 (a quarter rotated, interleaved M-RoPE sections 11/11/10), 2 KV heads,
#: gated delta-nets with 16 heads of 128.
FADA_08B_TEXT = TextShape(
    architecture="qwen35",
    hidden=1024,
    layers=24,
    heads=8,
    kv_heads=2,
    ffn=3584,
    vocab=248320,
    context=262144,
    head_dim=256,
    rope_dims=64,
    rope_sections=(11, 11, 10, 0),
    delta_key_heads=16,
    delta_value_heads=16,
    delta_head_dim=128,
    tied_embeddings=True,
)
FADA_08B_VISION = VisionShape(
    projector="qwen3vl_merger", hidden=768, layers=12, heads=12, ffn=3072, patch=16
)


#: What the benchmark can run (``--parts``).
PARTS = ["phases", "batching", "decode", "grammar"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_fada_08b(folder: Path) -> GgufPair:
    """The random 0.8B pair: F16 text model quantized to Q4_K_M, F16 mmproj."""
    folder.mkdir(parents=True, exist_ok=True)
    pair = GgufPair(folder / "fada-0.8b-random-Q4_K_M.gguf", folder / "mmproj-fada-0.8b-F16.gguf")
    if pair.model.is_file() and pair.mmproj.is_file():
        return pair
    started = time.perf_counter()
    # Word-sized tokens for FADA's prompts, so each phase prefills about as many as with Qwen's.
    merges = learn_merges([task_prompt(phase, STRUCTURES) for phase in PHASE_TOKENS], 1000)
    f16 = write_text_model(
        folder / "f16.gguf", FADA_08B_TEXT, "fada-0.8b-random", dtype=np.float16, merges=merges
    )
    _log(f"wrote the F16 text model in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    status = llama_cpp.llama_model_quantize(str(f16).encode(), str(pair.model).encode(), params)
    if status != 0:
        raise SystemExit(f"quantization to Q4_K_M failed (code {status})")
    f16.unlink()
    _log(f"quantized to Q4_K_M in {time.perf_counter() - started:.0f} s")
    write_mmproj(pair.mmproj, FADA_08B_TEXT.hidden, FADA_08B_VISION, dtype=np.float16)
    return pair


def build(name: str, folder: Path) -> GgufPair:
    if name == "tiny":
        return build_gguf_pair(folder)
    return build_fada_08b(folder)


@dataclass
class Decode:
    """Best decode rate of a few runs, and the process CPU time per token of that run."""

    tokens_per_s: float = 0.0
    cpu_ms_per_token: float = 0.0

    def keep(self, tokens: int, seconds: float, cpu_s: float) -> None:
        if seconds > 0 and tokens / seconds > self.tokens_per_s:
            self.tokens_per_s, self.cpu_ms_per_token = tokens / seconds, 1000 * cpu_s / tokens


def _plain_decode(llm: llama_cpp.Llama, prompt: list[int], tokens: int, best: Decode) -> None:
    """Plain llama-cpp-python: its own sampler chain (top_k 40, min_p 0.05, then top_p and
    the temperature), timed from the first generated token to the last."""
    llm.reset()
    first = cpu = 0.0
    count = 0
    for _ in llm.generate(prompt, temp=TEMPERATURE, top_p=TOP_P, reset=True):
        count += 1
        if count == 1:
            first, cpu = time.perf_counter(), time.process_time()
        if count == tokens:
            break
    best.keep(count - 1, time.perf_counter() - first, time.process_time() - cpu)


def compare_plain(pair: GgufPair, threads: int | None, image: np.ndarray, rounds: int) -> None:
    """Decode speed of the engine against plain llama-cpp-python on the same GGUF. The engine's
    CPU time per token is that of a long answer less that of a one-token answer."""
    tokens = PHASE_TOKENS["interpret"]
    engine = LlamaEngine(pair.model, pair.mmproj, threads=threads)
    engine.stop_at_eos = False
    context = engine.encode_image(image)
    text = task_prompt("interpret", STRUCTURES)
    one_token = GenerationSettings(max_new_tokens=1)
    settings = GenerationSettings(max_new_tokens=tokens)
    length = engine.generate(context, text, one_token).prompt_tokens
    plain = llama_cpp.Llama(
        model_path=str(pair.model), n_ctx=engine.n_ctx, n_threads=engine.threads,
        n_threads_batch=engine.threads, verbose=False,
    )  # fmt: skip
    words = plain.tokenize(text.encode(), add_bos=False)
    prompt = (words * (length // len(words) + 1))[:length]
    ours, theirs = Decode(), Decode()
    for _ in range(rounds):
        cpu = time.process_time()
        generation = engine.generate(context, text, settings)
        long_cpu = time.process_time() - cpu
        engine.generate(context, text, one_token)
        short_cpu = time.process_time() - cpu - long_cpu
        ours.keep(generation.generated_tokens, generation.decode_s, long_cpu - short_cpu)
        _plain_decode(plain, prompt, tokens, theirs)
    print(f"  decode, {tokens} tokens after {length}, best of {rounds}: engine "
          f"{ours.tokens_per_s:.1f} tokens/s ({ours.cpu_ms_per_token:.1f} ms CPU per token), plain "
          f"llama-cpp-python {theirs.tokens_per_s:.1f} tokens/s ({theirs.cpu_ms_per_token:.1f} ms);"
          f" engine / plain = {ours.tokens_per_s / theirs.tokens_per_s:.2f}")  # fmt: skip
    plain.close()
    engine.close()


def compare_grammar(pair: GgufPair, threads: int | None, image: np.ndarray, rounds: int) -> None:
    """Constrained decoding of the four phases: the grammar over the whole vocabulary against
    the shortlist (tokens/s over all answers, best of ``rounds`` alternating runs)."""
    engine = LlamaEngine(pair.model, pair.mmproj, threads=threads)
    context = engine.encode_image(image)
    shortlisted: list[TokenSampler] = []
    make = engine._sampler

    def counted(settings: GenerationSettings) -> TokenSampler:
        sampler = make(settings)
        if engine.shortlist:
            shortlisted.append(sampler)
        return sampler

    engine._sampler = counted  # type: ignore[method-assign]
    best = {0: Decode(), SHORTLIST: Decode()}
    answers: dict[int, list[str]] = {}
    for _ in range(rounds):
        for shortlist, rate in best.items():
            engine.shortlist = shortlist
            tokens, seconds, cpu, texts = 0, 0.0, time.process_time(), []
            for phase, limit in PHASE_TOKENS.items():
                schema = answer_schema(phase, STRUCTURES)
                settings = GenerationSettings(limit, TEMPERATURE, TOP_P, json_schema=schema)
                answer = engine.generate(context, task_prompt(phase, STRUCTURES), settings)
                tokens, seconds = tokens + answer.generated_tokens, seconds + answer.decode_s
                texts.append(answer.text)
            rate.keep(tokens, seconds, time.process_time() - cpu)
            answers[shortlist] = texts
    decided = sum(s.shortlisted for s in shortlisted)
    share = decided / max(decided + sum(s.whole for s in shortlisted), 1)
    whole, short = best[0].tokens_per_s, best[SHORTLIST].tokens_per_s
    same = "same answers" if answers[0] == answers[SHORTLIST] else "ANSWERS DIFFER"
    print(f"  constrained decode, {tokens} tokens in four JSON answers, best of {rounds}: grammar "
          f"over the whole vocabulary {whole:.1f} tokens/s, shortlist of {SHORTLIST} "
          f"{short:.1f} tokens/s ({short / whole:.2f}x; it decided {share:.0%} of its tokens); "
          f"{same}")  # fmt: skip
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "fada-0.8b"])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="build models here, reuse them")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--rounds", type=int, default=3, help="decode comparison runs")
    parser.add_argument("--batch-size", type=int, default=2, help="images decoded in one run")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="what to run")
    args = parser.parse_args()
    image = np.asarray(Image.open(args.image).convert("L"))
    print(f"image {args.image.name} {image.shape[1]}x{image.shape[0]}, tokens {PHASE_TOKENS}")
    results: list[Run] = []
    comparisons: list[Comparison] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            pair = build(name, (args.keep or Path(tmp)) / name)
            engine = LlamaEngine(pair.model, pair.mmproj, threads=args.threads)
            engine.stop_at_eos = False
            print(f"\n{name}: {pair.model.name} ({pair.model.stat().st_size / 2**20:.0f} MiB) + "
                  f"{pair.mmproj.name} ({pair.mmproj.stat().st_size / 2**20:.0f} MiB), "
                  f"{engine.threads} threads")  # fmt: skip
            if "phases" in args.parts:
                results += compare_reuse(engine, name, image)
            print(f"\n{name}  baseline vs new{'baseline':>26}{'new':>10}")
            if "batching" in args.parts:
                for comparison in compare_batching(engine, name, image, args.batch_size):
                    comparisons.append(comparison)
                    comparison.show()
            engine.close()
            if "decode" in args.parts:
                compare_plain(pair, args.threads, image, args.rounds)
            if "grammar" in args.parts:
                compare_grammar(pair, args.threads, image, args.rounds)
    if args.json:
        write_json(args.json, results, comparisons)


if __name__ == "__main__":
    main()
