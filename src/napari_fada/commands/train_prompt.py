"""``napari-fada train-prompt``: train the prompt model (box and clicks to a mask).

The options are :class:`~napari_fada.prompting.train.PromptTrainOptions`' fields; the work is
:func:`~napari_fada.prompting.train.train_prompt_model`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_fada.prompting.train import PromptTrainOptions, train_prompt_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = PromptTrainOptions(data=(), out=Path())
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="DIR",
        help="dataset folders (images/, masks/, labels.json, manifest.csv)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="weights file to write (.pt); its checkpoint is <out>.ckpt",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint <out>.ckpt of an interrupted run",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        help="time budget: the schedule anneals by the clock and ends on time",
    )
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate")
    parser.add_argument(
        "--max-clicks",
        type=int,
        default=defaults.max_clicks,
        help="most simulated clicks fed back before each training step",
    )
    parser.add_argument("--val-every", type=int, default=defaults.val_every, metavar="STEPS")
    parser.add_argument(
        "--holdout",
        nargs="+",
        default=[],
        metavar="SOURCE:N",
        help="keep the last N rows of a source out of training, e.g. PSFHS:150",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=defaults.threads)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; returns the exit code. Raises DatasetError / ModelLoadError."""
    options = PromptTrainOptions(
        data=tuple(args.data),
        out=args.out,
        minutes=args.minutes,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        max_clicks=args.max_clicks,
        val_every=args.val_every,
        holdout=tuple(args.holdout),
        seed=args.seed,
        resume=args.resume,
        threads=args.threads,
    )
    train_prompt_model(options, lambda line: print(line, flush=True))
    return 0
