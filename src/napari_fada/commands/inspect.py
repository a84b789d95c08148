"""``napari-fada inspect``: the failure report of one or more models on a dataset with ground truth.

``napari-fada inspect --data DIR [--predictions DIR ...] [model options] [--out DIR] [--worst N]
[--format markdown|html] [--export-dataset DIR] [--show [--screenshot FILE]]`` scores saved
predictions (folders written by ``napari-fada propose``), or the model of the model options
(default: the saved settings) run now when no predictions are given (or ``--backend`` or
``--model`` is), writes the report of the worst cases with the summary plots, and with ``--show``
opens napari with the inspection dock on every case.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_fada.commands.options import NOT_GIVEN, add_model_arguments, load_model
from napari_fada.commands.progress import print_progress
from napari_fada.errors import DatasetError
from napari_fada.inspection.export import export_dataset, export_report
from napari_fada.inspection.per_image import Inspection, load_predictions

DEFAULT_WORST = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="ground truth")
    parser.add_argument(
        "--predictions",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="folders of saved proposals, one per model (from 'napari-fada propose')",
    )
    add_model_arguments(parser, phases=False)
    parser.add_argument("--split", help="only this split of the manifest, e.g. val")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N images")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write the report here")
    parser.add_argument(
        "--worst", type=int, default=DEFAULT_WORST, metavar="N", help="cases in the report"
    )
    parser.add_argument("--format", choices=["markdown", "html"], default="markdown")
    parser.add_argument(
        "--export-dataset", type=Path, metavar="DIR", help="also save those cases' ground truth"
    )
    parser.add_argument(
        "--show", action="store_true", help="open napari with the inspection dock on the cases"
    )
    parser.add_argument(
        "--screenshot", type=Path, metavar="FILE", help="with --show: save the window and quit"
    )


def run(args: argparse.Namespace) -> int:
    for flag in ("limit", "worst"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise DatasetError(f"--{flag} must be at least 1, not {value}.")
    if args.out is None and not args.show:
        raise DatasetError("Say where the report goes (--out DIR) or open napari (--show).")
    inspection = Inspection.open(args.data, args.split, args.limit)
    for folder in args.predictions:
        predictions, problems = load_predictions(folder)
        for problem in problems:
            print(f"napari-fada inspect: skipped: {problem}", file=sys.stderr)
        inspection.add_predictions(predictions)
    if args.backend is not None or args.model is not NOT_GIVEN or not args.predictions:
        backend = load_model(args)
        try:
            inspection.add_predictions(inspection.predict(backend, progress=print_progress))
        finally:
            backend.close()
        print(file=sys.stderr)
    worst = inspection.worst_first()[: args.worst]
    for rank, case in enumerate(worst, start=1):
        dice = "-" if case.mean_dice is None else f"{case.mean_dice:.3f}"
        print(f"{rank:>3}  {case.image_id:<40} {case.model_id:<24} mean Dice {dice}")
    if args.out is not None:
        path = export_report(inspection, worst, args.out, args.format)
        print(f"report written to {path}")
    if args.export_dataset is not None:
        saved = export_dataset(inspection, worst, args.export_dataset)
        print(f"{len(saved)} images saved with their ground truth into {args.export_dataset}")
    if args.show:
        from napari_fada._napari.inspection.widget import open_inspection

        open_inspection(inspection, args.screenshot)
    return 0
