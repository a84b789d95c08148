"""Benchmark FADA's model phases on the transformers engine: image reuse, batching, and plain
transformers ``generate`` as the baseline, side by side in one run.

    python benchmarks/bench_hf_pipeline.py [--models tiny fada-0.8b] [--device cuda]
        [--batch-size N] [--threads N] [--json OUT]

Speed does not depend on the weights' values, so random-weight checkpoints stand in for FADA:
``tiny`` (the Qwen2.5-VL test model, fed FADA-sized images) and ``fada-0.8b`` (Qwen3.5 with the
0.8B model's sizes, float32 on the CPU). Each runs the four model phases on a real 800x540
ultrasound image with a fixed number of generated tokens per phase (400/10/120/400,
end-of-sequence disabled), sampling as the contract says, once encoding the image and prefilling
its prefix once (reuse ON) and once paying both in every phase (reuse OFF). MAP is rules only and
costs nothing here.

Printed per phase: prefill seconds, decode seconds, total seconds and decode tokens per second;
per run: the image encoding, the whole pipeline, and its ratio to one phase run alone (image
encoding plus the INTERPRET phase, what a single question about the image costs).

Then, for the same model: decode tokens/s of the engine's own loop against plain transformers
``model.generate`` on the same prompt (INTERPRET's tokens, sampled, no constraint), and images/s
(the four phases, wall time): naive calls (the image encoded in every phase, one answer at a
time) against the new code (image reused, independent phases decoded together), the same with
reuse in both, and ``--batch-size`` images (default 4) one answer at a time against all of them
decoded together (``prelabel --batch-size N``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the random checkpoints are built by the test helpers

from tests.models.tiny_hf_model import build_tiny_checkpoint  # noqa: E402

from napari_fada.core.prompts import task_prompt  # noqa: E402
from napari_fada.models.hf_engine import HFEngine  # noqa: E402
from napari_fada.models.vlm_engine import Ask, GenerationSettings  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from machine import cpu_name  # noqa: E402

DEFAULT_IMAGE = ROOT / ".." / "shared" / "data" / "fetal-us-samples" / "images" / "hc18_010_HC.png"
PHASE_TOKENS = {"interpret": 400, "classify": 10, "detect": 120, "segment": 400}
STRUCTURES = ("head", "Brain", "CSP", "LV")

#: Qwen3.5-0.8B's sizes as we know them (its config.json cannot be fetched here): text 24 layers
#: of width 1024, three gated delta-net layers per full-attention layer, a 248k vocabulary; vision
#: 12 blocks of 768, patch 16, 2x2 merge into the text model.
FADA_08B_TEXT = {
    "vocab_size": 248320,
    "hidden_size": 1024,
    "intermediate_size": 3584,
    "num_hidden_layers": 24,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "full_attention_interval": 4,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 16,
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_conv_kernel_dim": 4,
    "tie_word_embeddings": True,
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 10000000.0,
        "mrope_section": [11, 11, 10],
        "mrope_interleaved": True,
        "partial_rotary_factor": 0.25,
    },
}
FADA_08B_VISION = {
    "depth": 12,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_heads": 12,
    "out_hidden_size": 1024,
    "num_position_embeddings": 2304,
}
#: As FADA: the image's long side at most 1024 px (an 800x540 image is kept as it is).
FADA_MAX_PIXELS = 1024 * 1024


@dataclass
class PhaseTiming:
    phase: str
    prompt_tokens: int
    generated_tokens: int
    prefill_s: float
    decode_s: float
    tokens_per_s: float

    @property
    def seconds(self) -> float:
        return self.prefill_s + self.decode_s


@dataclass
class Run:
    model: str
    reuse_image: bool
    image_tokens: int
    encode_s: float
    phases: list[PhaseTiming]

    @property
    def total_s(self) -> float:
        return self.encode_s + sum(p.seconds for p in self.phases)

    @property
    def single_phase_s(self) -> float:
        """Image encoding plus INTERPRET: one question about the image on its own."""
        return self.encode_s + self.phases[0].seconds


def build(name: str, folder: Path) -> Path:
    if name == "tiny":
        return build_tiny_checkpoint(folder, "qwen2_5_vl", max_pixels=FADA_MAX_PIXELS)
    return build_tiny_checkpoint(
        folder, "qwen3_5", text=FADA_08B_TEXT, vision=FADA_08B_VISION, max_pixels=FADA_MAX_PIXELS
    )


def _row(
    name: str, prompt: str, tokens: str, prefill: str, decode: str, total: str, rate: str
) -> None:
    print(
        f"  {name:<10}{prompt:>7}{tokens:>7}{prefill:>11}{decode:>10}{total:>9}{rate:>8}",
        flush=True,
    )


def run(engine: HFEngine, name: str, image: np.ndarray, reuse: bool) -> Run:
    """The four model phases, each printed as soon as it is done (a 0.8B run takes minutes)."""
    engine.reuse_image = reuse
    print(f"\n{name}  image reuse {'ON' if reuse else 'OFF'}")
    _row("phase", "prompt", "tokens", "prefill s", "decode s", "total s", "tok/s")
    context = engine.encode_image(image)
    _row("encode", "", "", f"{context.encode_s:.2f}", "", f"{context.encode_s:.2f}", "")
    phases = []
    for phase, tokens in PHASE_TOKENS.items():
        settings = GenerationSettings(max_new_tokens=tokens)
        answer = engine.generate(context, task_prompt(phase, STRUCTURES), settings)
        timing = PhaseTiming(
            phase,
            answer.prompt_tokens,
            answer.generated_tokens,
            answer.prefill_s,
            answer.decode_s,
            answer.tokens_per_s,
        )
        _row(
            phase,
            str(timing.prompt_tokens),
            str(timing.generated_tokens),
            f"{timing.prefill_s:.2f}",
            f"{timing.decode_s:.2f}",
            f"{timing.seconds:.2f}",
            f"{timing.tokens_per_s:.1f}",
        )
        phases.append(timing)
    print(f"  {'map':<10}{'(rules, no model)':>27}")
    result = Run(name, reuse, context.image_tokens, context.encode_s, phases)
    print(
        f"  pipeline {result.total_s:.2f} s = {result.total_s / result.single_phase_s:.2f} x "
        f"one phase alone (encode + interpret, {result.single_phase_s:.2f} s); "
        f"{result.image_tokens} image tokens"
    )
    return result


def warm_up(engine: HFEngine, image: np.ndarray) -> None:
    """One short untimed answer, so that one-time setup does not count against either run."""
    engine.generate(engine.encode_image(image), "Hi", GenerationSettings(max_new_tokens=2))


def compare_reuse(engine: Any, name: str, image: np.ndarray) -> list[Run]:
    """The five phases with the image encoded once, then encoded per phase."""
    warm_up(engine, image)
    runs = []
    for reuse in (True, False):
        cpu = time.process_time()
        runs.append(run(engine, name, image, reuse))
        print(f"  process CPU time {time.process_time() - cpu:.2f} s")
    saving = runs[1].total_s - runs[0].total_s
    print(
        f"  reuse saves {saving:.2f} s ({saving / runs[1].total_s:.0%}): the phases take "
        f"{runs[0].total_s / runs[1].total_s:.2f}x the time of naive calls (image in each)"
    )
    return runs


@dataclass
class Comparison:
    """A baseline and the new code measured in the same run: ``unit`` per second each."""

    model: str
    what: str
    unit: str
    baseline: float
    new: float

    def show(self) -> None:
        print(
            f"  {self.what:<44}{self.baseline:>10.2f}{self.new:>10.2f} {self.unit}/s"
            f"{self.new / self.baseline if self.baseline else 0:>8.2f}x",
            flush=True,
        )


def _timed(action: Any, device: str) -> float:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    started = time.perf_counter()
    action()
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - started


def plain_generate(engine: HFEngine, name: str, image: np.ndarray) -> Comparison:
    """Decode tokens/s: transformers' own ``generate`` against the engine's loop, one prompt."""
    import torch

    engine.reuse_image = True
    tokens = PHASE_TOKENS["interpret"]
    settings = GenerationSettings(max_new_tokens=tokens)
    prompt = task_prompt("interpret", STRUCTURES)
    context = engine.encode_image(image)
    ours = engine.generate(context, prompt, settings)
    vision = engine._vision_inputs(image)
    text = engine._prefix_text.replace(
        engine._image_token, engine._image_token * context.image_tokens
    )
    input_ids = torch.cat([engine._tokens(text), engine._tokens(prompt + engine._suffix_text)], 1)
    inputs = engine._with_vision(input_ids, vision)
    options = {"do_sample": True, "temperature": 0.1, "top_p": 0.95, "top_k": 50}
    engine.model.model.rope_deltas = None
    with torch.inference_mode():
        prefill = _timed(
            lambda: engine.model.generate(**inputs, max_new_tokens=1, **options), engine.device
        )
        engine.model.model.rope_deltas = None
        both = _timed(
            lambda: engine.model.generate(
                **inputs, max_new_tokens=tokens, min_new_tokens=tokens, **options
            ),
            engine.device,
        )
    plain_rate = (tokens - 1) / max(both - prefill, 1e-9)
    return Comparison(
        name, "decode: transformers generate vs this engine", "tok", plain_rate, ours.tokens_per_s
    )


def _images(image: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` different images of ``image``'s size (flipped and shifted copies)."""
    variants = []
    for index in range(count):
        variant = np.roll(image, 7 * index, axis=1)
        variants.append(np.ascontiguousarray(variant[:, ::-1] if index % 2 else variant))
    return variants


def _asks(contexts: list[Any], phases: tuple[str, ...]) -> list[Ask]:
    return [
        Ask(
            context,
            task_prompt(phase, STRUCTURES),
            GenerationSettings(max_new_tokens=PHASE_TOKENS[phase]),
        )
        for context in contexts
        for phase in phases
    ]


def _phases(engine: Any, images: list[np.ndarray], width: int) -> None:
    """The four model phases of every image, ``width`` answers decoded together at most: 1 is
    one sequence at a time, image after image; otherwise every image is encoded, then the
    interpret and classify answers of all asked at once, then detect and segment (as
    ``prelabel --batch-size``, where the engine decodes up to its ``max_batch`` together)."""
    engine.max_batch = width
    if width == 1:
        for image in images:
            context = engine.encode_image(image)
            engine.generate_batch(_asks([context], tuple(PHASE_TOKENS)))
        return
    contexts = [engine.encode_image(image) for image in images]
    for group in (("interpret", "classify"), ("detect", "segment")):
        engine.generate_batch(_asks(contexts, group))


def compare_batching(engine: Any, name: str, image: np.ndarray, count: int) -> list[Comparison]:
    """The four phases with the image reused: one answer at a time against the engine's
    default batching, on one image and on ``count`` images; and one image's phases as naive
    calls (the image encoded in each, one at a time) against the new code."""
    default, device = engine.max_batch, getattr(engine, "device", "cpu")
    engine.reuse_image = False
    naive = _timed(lambda: _phases(engine, [image], 1), device)
    engine.reuse_image = True
    alone = _timed(lambda: _phases(engine, [image], 1), device)
    paired = _timed(lambda: _phases(engine, [image], default), device)
    images = _images(image, count)
    one_by_one = _timed(lambda: _phases(engine, images, 1), device)
    together = _timed(lambda: _phases(engine, images, default), device)
    engine.max_batch = default
    print(
        f"  the four phases take {paired / naive:.2f}x the time of four naive calls "
        f"({paired:.2f} s against {naive:.2f} s; one at a time with reuse {alone / naive:.2f}x)"
    )
    return [
        Comparison(name, "1 image: naive calls vs new code", "img", 1 / naive, 1 / paired),
        Comparison(name, "1 image, reuse: one at a time vs together", "img", 1 / alone, 1 / paired),
        Comparison(
            name,
            f"{count} images: one at a time vs --batch-size {count}",
            "img",
            count / one_by_one,
            count / together,
        ),
    ]


def write_json(path: Path, results: list[Run], comparisons: Sequence[Comparison] = ()) -> None:
    rows = [{**asdict(r), "total_s": r.total_s} for r in results]
    document = {"runs": rows, "comparisons": [asdict(c) for c in comparisons]}
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "fada-0.8b"])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument(
        "--dtype", default=None, help="default: bfloat16 on CUDA when supported, else float32"
    )
    parser.add_argument("--batch-size", type=int, default=4, help="images decoded together")
    parser.add_argument(
        "--keep", type=Path, default=None, help="build checkpoints here, reuse them"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    image = np.asarray(Image.open(args.image).convert("L"))
    print(f"image {args.image.name} {image.shape[1]}x{image.shape[0]}, tokens {PHASE_TOKENS}")
    print(f"machine: {cpu_name()}, device {args.device}")
    results: list[Run] = []
    comparisons: list[Comparison] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            folder = (args.keep or Path(tmp)) / name
            if not (folder / "config.json").is_file():
                build(name, folder)
            engine = HFEngine(folder, device=args.device, dtype=args.dtype, n_threads=args.threads)
            print(f"{name}: {'; '.join(engine.notes) or 'no kernel notes'}")
            engine.stop_at_eos = False
            results += compare_reuse(engine, name, image)
            print(f"\n{name}  baseline vs new{'baseline':>26}{'new':>10}")
            comparisons.append(plain_generate(engine, name, image))
            comparisons[-1].show()
            for comparison in compare_batching(engine, name, image, args.batch_size):
                comparisons.append(comparison)
                comparison.show()
            engine.close()
    if args.json:
        write_json(args.json, results, comparisons)


if __name__ == "__main__":
    main()
