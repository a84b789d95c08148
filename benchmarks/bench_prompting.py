"""Benchmark promptable segmentation as interactive-segmentation work reports it.

    python benchmarks/bench_prompting.py [--weights FILE] [--data DIR] [--holdout PSFHS:150]
        [--max-clicks 20] [--threads 2] [--sam-runs 2] [--json FILE]

With the code of ``napari-fada evaluate-interactive`` (the simulated annotator clicks at the
centre of the largest error region), on
- **val**: the ``val`` rows of ``fetal-us-train`` (HC18 by subject, PSFHS blocks, the brain-plane
  set), less the held-out PSFHS block;
- **held-out recordings**: the last ``--holdout`` PSFHS rows, a contiguous block of whole
  recordings that training left out with a gap before it;
each started with the object's box and with a click at its centre: Dice after the box, after 1,
3 and 5 clicks, NoC@85, NoC@90 (capped at ``--max-clicks``, failures at the cap) and the median
milliseconds per prompt (HC18 images are 800x540), with ``--threads`` threads. Then SAM ViT-B's
image encoder (transformers ``SamModel(SamConfig())``, random weights, nothing downloaded) on
one 1024x1024 image with the same threads, for comparison; and the targets, met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from machine import cpu_name

from napari_fada.prompting.evaluate import InteractiveReport, evaluate_interactive
from napari_fada.prompting.session import PromptPredictor
from napari_fada.prompting.targets import load_targets

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fetal-us-train"
#: structure -> (most NoC@90, least Dice after the box or None), from the issue.
TARGETS: dict[str, tuple[float, float | None]] = {
    "head": (2, 0.92),
    "fetal_head": (2, 0.92),
    "Brain": (3, None),
    "pubic_symphysis": (5, None),
    "CSP": (5, None),
    "LV": (5, None),
}
MS_TARGET = 150.0


def sam_encode_seconds(runs: int) -> list[tuple[float, float]]:
    """(wall-clock, processor) seconds per SAM ViT-B image encoding (random weights) of a
    1024x1024 image."""
    from transformers import SamConfig, SamModel

    config = SamConfig()
    vision = config.vision_config
    assert (vision.hidden_size, vision.num_hidden_layers) == (768, 12), "not ViT-B"
    model = SamModel(config).eval()
    pixels = torch.randn(1, 3, vision.image_size, vision.image_size)
    seconds = []
    with torch.inference_mode():
        for _ in range(runs):
            began, cpu_began = time.perf_counter(), time.process_time()
            model.get_image_embeddings(pixels)
            seconds.append((time.perf_counter() - began, time.process_time() - cpu_began))
    return seconds


def _progress(done: int, total: int) -> None:
    print(f"\r{done}/{total} objects", end="", file=sys.stderr, flush=True)


def check(report: InteractiveReport) -> list[str]:
    """The targets ``report`` misses, one line each."""
    misses = []
    for name, (most_noc, least_dice) in TARGETS.items():
        if name not in report.objects:
            continue
        if report.noc90[name] > most_noc:
            misses.append(f"{name}: NoC@90 {report.noc90[name]:.2f} > {most_noc}")
        box = report.dice_box.get(name)
        if least_dice is not None and box is not None and box < least_dice:
            misses.append(f"{name}: Dice after the box {box:.3f} < {least_dice}")
        if report.ms_per_prompt[name] > MS_TARGET:
            misses.append(f"{name}: {report.ms_per_prompt[name]:.0f} ms per prompt > {MS_TARGET}")
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, help="prompt model (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--holdout", default="PSFHS:150")
    parser.add_argument("--max-clicks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sam-runs", type=int, default=2, help="0: skip SAM")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = PromptPredictor.load(args.weights)
    load = os.getloadavg()[0]
    print(f"model {predictor.model_id}; {cpu_name()}, {os.cpu_count()} cores, "
          f"{args.threads} threads; load average {load:.1f} at the start")  # fmt: skip
    sets = load_targets([args.data], (args.holdout,), ("val", "holdout"))
    results: dict[str, Any] = {"model": predictor.model_id, "threads": args.threads}
    misses: list[str] = []
    for split, title in (("val", "val"), ("holdout", f"held-out recordings ({args.holdout})")):
        for start in ("box", "click"):
            began = time.perf_counter()
            report = evaluate_interactive(
                predictor, sets[split], args.max_clicks, start, on_object=_progress
            )  # type: ignore[arg-type]
            print(f"\n{title}, start: {start} ({time.perf_counter() - began:.0f} s)")
            print(report.table())
            results[f"{split}_{start}"] = report.to_json()
            if split == "val" and start == "box":
                misses = check(report)
    if args.sam_runs:
        seconds = sam_encode_seconds(args.sam_runs)
        results["sam_vit_b_encode_s"] = [wall for wall, _ in seconds]
        results["sam_vit_b_encode_cpu_s"] = [cpu for _, cpu in seconds]
        print(f"\nSAM ViT-B image encoder, 1024x1024, random weights, {args.threads} threads: "
              + ", ".join(f"{wall:.1f} s ({cpu:.1f} s processor)" for wall, cpu in seconds)
              + f"; median {statistics.median(w for w, _ in seconds):.1f} s")  # fmt: skip
    results["load_average_end"] = os.getloadavg()[0]
    print(f"\nload average at the end {results['load_average_end']:.1f}")
    print("targets (val, box start): " + ("all met" if not misses else "; ".join(misses)))
    results["targets_missed"] = misses
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
