"""Benchmark the embedded model: accuracy on the validation split, latency, memory, file size.

    python benchmarks/bench_embedded_model.py [--weights FILE] [--data DIR] [--repeats N]

Scores the shipped model (or ``--weights``) on the ``val`` rows of the shared training set with
the same code as ``napari-fada evaluate``, then times whole ``propose`` calls (forward pass,
outlines and biometry) on 800x540 HC18 and 256x256 PSFHS images after warm-up, with as many
threads as the machine has cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from machine import cpu_name, peak_rss_mib

from napari_fada.core.scoring import EvaluationReport
from napari_fada.inspection.evaluate import DatasetItem, dataset_items, score_items
from napari_fada.models.base import Backend, ProposeRequest

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fetal-us-train"
#: The structures of the target "mean Dice of at least 0.90 on the head structures".
HEAD_STRUCTURES = ("head", "fetal_head")
WARMUP = 3


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


def report_lines(report: EvaluationReport) -> list[str]:
    head = [report.dice[s] for s in HEAD_STRUCTURES if s in report.dice]
    mean_head = statistics.mean(head) if head else float("nan")
    return [
        report.format_table(),
        f"mean Dice of head structures ({', '.join(HEAD_STRUCTURES)}): {mean_head:.4f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared-layout dataset")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, help="score at most this many images")
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

    items = dataset_items(args.data, args.split, args.limit)
    started = time.perf_counter()
    report = score_items(backend, items)
    evaluate_s = time.perf_counter() - started
    every = dataset_items(args.data, args.split)
    latency = {
        "hc18_800x540": median_latency_s(backend, every, (800, 540), args.repeats),
        "psfhs_256x256": median_latency_s(backend, every, (256, 256), args.repeats),
    }
    file_mib = Path(weights).stat().st_size / (1 << 20)
    per_image_s = evaluate_s / max(report.n_images, 1)
    peak_mib = peak_rss_mib()
    figures = {
        "cpu": cpu_name(),
        "threads": threads,
        "model_id": backend.model_id,
        "weights": str(weights),
        "model_file_mib": file_mib,
        "load_s": load_s,
        "evaluate_s_per_image": per_image_s,
        "median_latency_s": latency,
        "peak_rss_mib": peak_mib,
        "report": {k: v for k, v in report.to_dict().items() if k != "per_image"},
    }
    print("\n".join(report_lines(report)))
    print(f"CPU: {cpu_name()}, {threads} threads; model {backend.model_id}")
    print(f"model file {file_mib:.2f} MiB, loaded in {load_s:.2f} s")
    for name, (seconds, timed) in latency.items():
        print(f"latency {name}: {seconds * 1000:.1f} ms (median over {timed} images)")
    print(f"evaluation: {per_image_s * 1000:.1f} ms per image")
    print(f"peak RSS {peak_mib:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
