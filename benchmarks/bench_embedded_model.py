"""Benchmark the embedded model on data that keeps patients, recordings and sources apart.

    python benchmarks/bench_embedded_model.py [--weights FILE] [--json FILE]

Scores the shipped model (or ``--weights``) with the code of ``napari-fada evaluate`` on:
- **segmentation val**: the ``val`` rows of ``fetal-us-train`` (HC18 by subject, PSFHS blocks,
  the brain-plane set), less the held-out PSFHS block;
- **held-out recordings**: the last ``--holdout`` PSFHS rows (a contiguous block of whole
  recordings at the end of the id range, which training left out with a gap before it);
- **screening planes val**: the ``val`` patients of ``fetal-us-planes`` (five African countries
  and Spain; plane labels only): plane accuracy and confusion, shapes on planes without outlines;
- **made-up negatives**: photos, drawings, screens, blank frames, empty sectors (never the ones
  training made): they must be called "other" and get no shape.
Then it prints the targets of the model (plane accuracy over all planes, spurious rate, Dice per
structure, HC error, ECE), how often shapes in each score band reach Dice >= 0.9, and the median
time of whole ``propose`` calls on 800x540 and 256x256 images with all cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from pathlib import Path

from machine import cpu_name, peak_rss_mib

from napari_fada.core.proposal import Proposal
from napari_fada.core.scoring import EvaluationReport, Reference, build_report
from napari_fada.inspection.evaluate import (
    DatasetItem,
    dataset_items,
    negative_items,
    propose_items,
)
from napari_fada.models.base import Backend, ProposeRequest

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TARGETS = {
    "plane_accuracy": (">=", 0.95),
    "spurious_rate": ("<=", 0.02),
    "dice_head": (">=", 0.97),
    "dice_fetal_head": (">=", 0.94),
    "dice_pubic_symphysis": (">=", 0.88),
    "dice_Brain": (">=", 0.90),
    "dice_CSP": (">=", 0.70),
    "dice_LV": (">=", 0.75),
    "hc_mae_mm": ("<=", 2.0),
    "ece": ("<=", 0.05),
}
SCORE_BANDS = (0.0, 0.5, 0.7, 0.8, 0.9, 1.0001)
WARMUP = 3
Pairs = list[tuple[Proposal, Reference]]


def holdout_ids(data: Path, spec: str) -> set[str]:
    """The ids of the held-out block, chosen by the training code itself."""
    from napari_fada.core.scan_planes import PLANE_NAMES
    from napari_fada.training.data import HOLDOUT_SPLIT, hold_out_tail, read_dataset

    source, _, count = spec.rpartition(":")
    samples = hold_out_tail(read_dataset(data, PLANE_NAMES), source, int(count))
    return {s.reference.image_id for s in samples if s.split == HOLDOUT_SPLIT}


def median_latency_s(
    backend: Backend, items: list[DatasetItem], size: tuple[int, int], count: int
) -> tuple[float, int]:
    """Median seconds of one ``propose`` call over up to ``count`` images of ``(width, height)``,
    after warm-up calls on the first; with the number of images timed."""
    width, height = size
    inputs = []
    for item in items:
        image = item.image()
        if image.shape[:2] == (height, width):
            spacing = item.reference().pixel_spacing_mm
            inputs.append((image, ProposeRequest(pixel_spacing_mm=spacing)))
        if len(inputs) == count:
            break
    if not inputs:
        raise SystemExit(f"no {width}x{height} image in the benchmark data")
    for _ in range(WARMUP):
        backend.propose(*inputs[0])
    times = []
    for image, request in inputs:
        started = time.perf_counter()
        backend.propose(image, request)
        times.append(time.perf_counter() - started)
    return statistics.median(times), len(times)


def score_bands(pairs: Pairs) -> list[dict[str, float]]:
    """Per band of shape score: shapes in it and the share whose Dice reaches 0.9 (a structure
    scored on an image counts once, with the highest score given to a shape of it)."""
    report = build_report(pairs)
    scored = [
        (result.shape_scores[label], dice)
        for result in report.per_image
        for label, dice in result.dice.items()
        if label in result.shape_scores
    ]
    bands = []
    for low, high in itertools.pairwise(SCORE_BANDS):
        inside = [dice for score, dice in scored if low <= score < high]
        good = sum(dice >= 0.9 for dice in inside)
        bands.append({"low": low, "high": min(high, 1.0), "shapes": len(inside),
                      "dice_0.9": good / len(inside) if inside else float("nan")})  # fmt: skip
    return bands


def target_figures(segmentation: EvaluationReport, planes: EvaluationReport) -> dict[str, float]:
    figures = {
        "plane_accuracy": planes.plane_accuracy,
        "spurious_rate": planes.spurious_rate,
        "hc_mae_mm": segmentation.hc_mae_mm,
        "ece": planes.ece,
        **{f"dice_{k}": v for k, v in segmentation.dice.items()},
    }
    return {k: float(v) for k, v in figures.items() if v is not None}


def target_lines(figures: dict[str, float]) -> list[str]:
    lines = []
    for name, (sense, goal) in TARGETS.items():
        value = figures.get(name)
        if value is None:
            continue
        met = value >= goal if sense == ">=" else value <= goal
        verdict = "met" if met else "MISSED"
        lines.append(f"  {name:<22}{value:>8.4f}  target {sense} {goal:<6} {verdict}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=SHARED / "fetal-us-train")
    parser.add_argument("--planes-data", type=Path, default=SHARED / "fetal-us-planes")
    parser.add_argument("--holdout", default="PSFHS:150", help="SOURCE:N held out in training")
    parser.add_argument("--negatives", type=int, default=120, help="made-up images scored")
    parser.add_argument("--repeats", type=int, default=50, help="images timed per image size")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from napari_fada.models.embedded_backend import EmbeddedBackend
    from napari_fada.models.embedded_weights import SHIPPED_WEIGHTS

    weights = args.weights or SHIPPED_WEIGHTS
    threads = os.cpu_count() or 1
    started = time.perf_counter()
    backend = EmbeddedBackend(model=weights, threads=threads)
    load_s = time.perf_counter() - started

    held = holdout_ids(args.data, args.holdout)
    every = dataset_items(args.data, "val")
    everything = dataset_items(args.data)
    sets = {
        "segmentation val": [i for i in every if i.image_id not in held],
        "held-out recordings": [i for i in everything if i.image_id in held],
        "screening planes val": dataset_items(args.planes_data, "val"),
        "made-up negatives": negative_items(args.negatives),
    }
    started = time.perf_counter()
    pairs = {name: propose_items(backend, items) for name, items in sets.items()}
    per_image_s = (time.perf_counter() - started) / sum(len(p) for p in pairs.values())
    reports = {name: build_report(p, model_id=backend.model_id) for name, p in pairs.items()}
    all_pairs = [pair for p in pairs.values() for pair in p]
    pooled = build_report(all_pairs, model_id=backend.model_id)
    segmentation = build_report(pairs["segmentation val"] + pairs["held-out recordings"])
    figures = target_figures(reports["segmentation val"], pooled)
    bands = score_bands(pairs["segmentation val"] + pairs["held-out recordings"])
    latency = {
        "hc18_800x540": median_latency_s(backend, every, (800, 540), args.repeats),
        "psfhs_256x256": median_latency_s(backend, every, (256, 256), args.repeats),
    }

    for name, report in reports.items():
        print(f"== {name}")
        print(report.format_table())
    print("== every set pooled (plane accuracy, confusion, spurious rate, ECE)")
    print(pooled.format_table())
    print("== targets (segmentation val for Dice and HC; all sets pooled for planes)")
    print("\n".join(target_lines(figures)))
    held_dice = reports["held-out recordings"].dice
    print("held-out PSFHS recordings: " + ", ".join(f"{k} {v:.4f}" for k, v in held_dice.items()))
    print("== shape score bands (segmentation val + held-out): share of shapes with Dice >= 0.9")
    for band in bands:
        print(f"  score {band['low']:.1f}-{band['high']:.1f}: {band['shapes']:>4} shapes, "
              f"{band['dice_0.9']:.3f} reach Dice 0.9")  # fmt: skip
    file_mib = Path(weights).stat().st_size / (1 << 20)
    print(f"CPU: {cpu_name()}, {threads} threads; model {backend.model_id}")
    print(f"model file {file_mib:.2f} MiB, loaded in {load_s:.2f} s")
    for name, (seconds, timed) in latency.items():
        print(f"latency {name}: {seconds * 1000:.1f} ms (median over {timed} images)")
    print(f"evaluation: {per_image_s * 1000:.1f} ms per image; peak RSS {peak_rss_mib():.0f} MiB")
    if args.json:
        summary = {
            "cpu": cpu_name(),
            "threads": threads,
            "model_id": backend.model_id,
            "model_file_mib": file_mib,
            "targets": figures,
            "score_bands": bands,
            "median_latency_s": {k: v[0] for k, v in latency.items()},
            "reports": {
                name: {k: v for k, v in r.to_dict().items() if k != "per_image"}
                for name, r in {**reports, "pooled": pooled, "segmentation": segmentation}.items()
            },
        }
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
