"""How long ``Dataset.save`` takes as a dataset grows to ~2,000 images.

Saves every image of the shared training set (1,900) and samples (20) with its ground-truth
outlines, timing each save, then re-saves 50 of them (what happens after each accept) and times
reopening. Prints median milliseconds per save. Usage::

    python benchmarks/bench_dataset_save.py [--data ../shared/data] [--out DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from napari_fada.data.dataset import Dataset
from napari_fada.data.shared_layout import iter_reference, reference_proposal, reference_record

REPO = Path(__file__).resolve().parents[1]


def _median_ms(seconds: list[float]) -> float:
    return 1000.0 * statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--out", type=Path, help="dataset folder to create (default: a temp dir)")
    parser.add_argument("--limit", type=int, help="save only this many images")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="fada-bench-")) / "dataset"
    samples = [
        *iter_reference(args.data / "fetal-us-train"),
        *iter_reference(args.data / "fetal-us-samples"),
    ][: args.limit]
    dataset = Dataset.open(out)
    growing: list[float] = []
    cases = []
    for index, sample in enumerate(samples, start=1):
        case = (reference_record(sample), sample.image, reference_proposal(sample))
        cases.append(case)
        start = time.perf_counter()
        dataset.save(*case)
        growing.append(time.perf_counter() - start)
        if index % 250 == 0:
            print(f"{index} images, last 100 saves: median {_median_ms(growing[-100:]):.1f} ms")
    resave: list[float] = []
    for case in random.Random(0).sample(cases, min(50, len(cases))):
        start = time.perf_counter()
        dataset.save(*case)
        resave.append(time.perf_counter() - start)
    start = time.perf_counter()
    reopened = Dataset.open(out)
    reopen_s = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(f"dataset: {len(reopened.records())} images, {size_mb:.0f} MB at {out}")
    print(f"first 100 saves: median {_median_ms(growing[:100]):.1f} ms per save")
    print(f"last 100 saves: median {_median_ms(growing[-100:]):.1f} ms per save")
    print(f"re-saving 50 images of the full dataset: median {_median_ms(resave):.1f} ms per save")
    print(f"reopening the full dataset: {reopen_s:.2f} s")


if __name__ == "__main__":
    main()
