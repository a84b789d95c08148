"""``napari-fada evaluate-interactive --data DIR [--json FILE] [--max-clicks 20]
[--start box|click]``: simulate an annotator prompting every labelled object of a dataset
(:mod:`napari_fada.prompting.evaluate`) and report Dice after the box and after 1, 3 and 5
clicks, NoC@85, NoC@90 and milliseconds per prompt, per structure."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from napari_fada.commands.progress import print_progress
from napari_fada.core.atomic import write_text_atomic
from napari_fada.errors import DatasetError
from napari_fada.prompting.evaluate import REPORTED_CLICKS, evaluate_interactive
from napari_fada.prompting.session import PromptPredictor
from napari_fada.prompting.targets import SPLITS, load_targets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument(
        "--max-clicks", type=int, default=20, help="clicks per object at most (the NoC cap)"
    )
    parser.add_argument(
        "--start",
        choices=("box", "click"),
        default="box",
        help="begin each object with its box, or with a click at its centre",
    )
    parser.add_argument(
        "--weights", type=Path, metavar="FILE", help="prompt model file (default: the shipped one)"
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="which rows: all, or the train / val split training uses, or the --holdout block",
    )
    parser.add_argument(
        "--holdout", nargs="+", default=[], metavar="SOURCE:N", help="as train-prompt's"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    if args.max_clicks < max(REPORTED_CLICKS):
        raise DatasetError(f"--max-clicks must be at least {max(REPORTED_CLICKS)}")
    torch.set_num_threads(max(1, args.threads))
    targets = load_targets([args.data], args.holdout, (args.split,))[args.split]
    predictor = PromptPredictor.load(args.weights)
    report = evaluate_interactive(
        predictor,
        targets,
        args.max_clicks,
        args.start,
        on_object=lambda done, total: print_progress(f"object {done} of {total}", done / total),
    )
    print(file=sys.stderr)
    print(f"model {predictor.model_id}, start {args.start}, max {args.max_clicks} clicks")
    print(report.table())
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(report.to_json(), indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0
