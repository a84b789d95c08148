"""``napari-fada evaluate --data DIR [model options] [--split val] [--limit N] [--json FILE]``:
score a model against a dataset with ground truth (:mod:`napari_fada.inspection.evaluate`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_fada.commands.options import add_model_arguments, load_model
from napari_fada.commands.progress import print_progress
from napari_fada.core.atomic import write_text_atomic
from napari_fada.errors import DatasetError
from napari_fada.inspection.evaluate import dataset_items, negative_items, score_items


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    add_model_arguments(parser, phases=False)
    parser.add_argument("--split", help="score only this split of the manifest, e.g. val")
    parser.add_argument("--limit", type=int, metavar="N", help="score at most N images")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    parser.add_argument(
        "--negatives",
        type=int,
        default=0,
        metavar="N",
        help="also score N made-up non-ultrasound images (photos, drawings, blank frames), whose "
        "truth is the 'other' plane with no structure",
    )


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise DatasetError(f"--limit must be at least 1, not {args.limit}.")
    if args.negatives < 0:
        raise DatasetError(f"--negatives must be 0 or more, not {args.negatives}.")
    items = dataset_items(args.data, args.split, args.limit)  # fail fast, before the model loads
    items += negative_items(args.negatives)
    backend = load_model(args)
    try:
        report = score_items(backend, items, progress=print_progress)
    finally:
        backend.close()
    print(file=sys.stderr)
    print(report.format_table())
    if args.json is not None:
        write_text_atomic(args.json, report.to_json())
        print(f"report written to {args.json}")
    return 0
