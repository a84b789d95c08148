"""``napari-fada train-prompt``: train the prompt model (box and clicks to a mask).

The options are :class:`~napari_fada.prompting.train.PromptTrainOptions`' fields; the work is
:func:`~napari_fada.prompting.train.train_prompt_model`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_fada.commands.training_options import add_training_arguments, options_from
from napari_fada.prompting.train import PromptTrainOptions, train_prompt_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = PromptTrainOptions(data=(), out=Path())
    add_training_arguments(
        parser, defaults, "weights file to write (.pt); its checkpoint is <out>.ckpt"
    )
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument(
        "--max-clicks",
        type=int,
        default=defaults.max_clicks,
        help="most simulated clicks fed back before each training step",
    )
    parser.add_argument("--val-every", type=int, default=defaults.val_every, metavar="STEPS")


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; returns the exit code. Raises DatasetError / ModelLoadError."""
    options = options_from(PromptTrainOptions, args)
    train_prompt_model(options, lambda line: print(line, flush=True))
    return 0
