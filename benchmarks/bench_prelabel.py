"""Benchmark ``napari-fada prelabel``: images per second for 1, 2 and N workers.

    python benchmarks/bench_prelabel.py [--data DIR] [--frames 500] [--workers 1 2 4]
                                        [--on pool dask]

Runs the embedded model over the shared sample images and over a generated cine sweep (the
package's own sample generator, written as a multi-frame DICOM into a temporary folder), each
time into a new dataset, as the command does: worker start-up, model loading, reading, proposing
and saving are all in the time, and the rate after start-up is printed too. N is the number of
cores. ``--on pool dask`` also runs them on a Dask LocalCluster of as many worker processes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from machine import cpu_name

from napari_fada.batch.prelabel import default_workers, prelabel, threads_per_worker
from napari_fada.batch.work import BackendSpec
from napari_fada.samples import cine_clip
from napari_fada.samples.files import write_cine_dicom

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fetal-us-samples"


def make_cine(folder: Path, frames: int) -> Path:
    started = time.perf_counter()
    path = write_cine_dicom(cine_clip(n_frames=frames), folder / "sweep.dcm")
    print(f"generated a {frames}-frame cine DICOM in {time.perf_counter() - started:.0f} s")
    return path


def run(inputs: list[Path], workers: int, scheduler: str | None, scratch: Path) -> str:
    threads = threads_per_worker(workers) if scheduler is None else 1
    spec = BackendSpec.of("embedded", threads=threads)
    out = Path(tempfile.mkdtemp(dir=scratch)) / "ds"
    report = prelabel(inputs, out, spec, workers=workers, scheduler=scheduler)
    where = "dask LocalCluster" if scheduler else "process pool" if workers > 1 else "in process"
    steady = report.steady_images_per_s or float("nan")
    return (
        f"{workers:>3} worker(s) x {threads} thread(s), {where:<17} {report.done:>4} images "
        f"in {report.seconds:6.1f} s = {report.images_per_s:5.2f} images/s; after "
        f"{report.startup_s or 0:4.1f} s start-up {steady:5.2f} images/s; "
        f"saving {report.saving_s:5.1f} s" + (f" ({report.failed} failed)" if report.failed else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--frames", type=int, default=500, help="frames of the generated cine")
    parser.add_argument("--workers", type=int, nargs="+", help="worker counts (default 1 2 N)")
    parser.add_argument(
        "--on", nargs="+", choices=("pool", "dask"), default=["pool"], help="where to run"
    )
    args = parser.parse_args()
    cores = default_workers()
    counts = args.workers or sorted({1, 2, cores})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {cpu_name()}, {cores} cores, load average {load:.1f} at start")
    schedulers = [None if where == "pool" else "local" for where in args.on]
    with tempfile.TemporaryDirectory(prefix="bench-prelabel-") as scratch:
        cine = make_cine(Path(scratch), args.frames)
        sets = {
            f"shared samples ({args.data.name}/images)": [args.data / "images"],
            f"generated cine ({args.frames} frames, 400x300)": [cine],
        }
        for name, inputs in sets.items():
            print(name)
            for scheduler in schedulers:
                for workers in counts:
                    print("  " + run(inputs, workers, scheduler, Path(scratch)), flush=True)


if __name__ == "__main__":
    main()
