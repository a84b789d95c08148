"""``napari-fada prelabel``: propose on whole folders and clips, resumably, on many cores or a
cluster (:func:`~napari_fada.batch.prelabel.prelabel`), and save everything for review."""

from __future__ import annotations

import argparse
import sys

from napari_fada.batch.prelabel import (
    INTERRUPTED,
    default_workers,
    prelabel,
    settings_request,
    worker_spec,
)
from napari_fada.commands.options import add_propose_arguments, apply_model_arguments, positive_int
from napari_fada.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_propose_arguments(parser)
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=default_workers(),
        help="model processes on this machine, or in the LocalCluster (default: one per core); "
        "each uses --threads threads (default: cores / workers here, 1 on Dask); with "
        "--backend openai, images in flight at once",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786), or 'local' for a "
        "Dask LocalCluster of --workers processes (default: a process pool, no Dask)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=1,
        help="images each worker proposes together (transformers and llama backends; "
        "default 1): transformers decodes their independent phases as one batch, llama.cpp as "
        "parallel sequences, image after image; the answers are those of one at a time",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    settings = apply_model_arguments(Settings.load(), args)
    spec = worker_spec(settings, args.workers, args.scheduler, args.threads)
    request = settings_request(settings, args.structures)
    report = prelabel(
        args.inputs,
        args.out,
        spec,
        workers=args.workers,
        scheduler=args.scheduler,
        request=request,
        annotator=args.annotator,
        progress=not args.no_progress,
        folder_clips=args.folder_as_clip,
        batch_size=args.batch_size,
    )
    for failure in report.failures:
        frame = "" if failure.frame_index is None else f" frame {failure.frame_index}"
        print(f"failed: {failure.path}{frame}: {failure.error}", file=sys.stderr)
    print(report.summary(args.out))
    if report.interrupted:
        return INTERRUPTED
    return 1 if report.failed or report.write_error else 0
