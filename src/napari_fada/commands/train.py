"""``napari-fada train``: train or fine-tune the embedded model on dataset folders.

The options are :class:`~napari_fada.training.options.TrainOptions`' fields; the work is
:func:`~napari_fada.training.loop.train_model`, shown here as a progress bar per epoch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tqdm import tqdm

from napari_fada.commands.training_options import add_training_arguments
from napari_fada.commands.training_options import options_from as training_options
from napari_fada.training.loop import train_model
from napari_fada.training.options import NEW_MODEL_SIZE, TrainOptions, TrainProgress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainOptions(data=(), out=Path())
    add_training_arguments(parser, defaults, "weights file to write (.pt)")
    parser.add_argument(
        "--init",
        type=Path,
        metavar="FILE",
        help="fine-tune from this weights file instead of training from scratch",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument(
        "--size",
        type=int,
        help=f"input side in pixels, a multiple of 16 (a new model: {NEW_MODEL_SIZE}; with --init: "
        "the file's own, or this one to fine-tune it at another resolution)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=defaults.patience,
        help="stop after this many epochs without a better validation score",
    )
    parser.add_argument(
        "--planes",
        nargs="+",
        metavar="PLANE",
        help="the planes the model tells apart (default: the whole scan for a new model, the "
        "file's planes with --init; naming others with --init gives it a new plane classifier)",
    )
    parser.add_argument(
        "--negatives",
        type=int,
        default=defaults.negatives,
        metavar="N",
        help="add N made-up non-ultrasound images (photos, drawings, blank frames) as the "
        "'other' plane with no structure (and N/4 to validation)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=defaults.cache_dir,
        help="where resized training arrays are cached",
    )


def options_from(args: argparse.Namespace) -> TrainOptions:
    """The run ``args`` ask for."""
    return training_options(TrainOptions, args)


class _TerminalProgress:
    """The CLI's view of a run: a tqdm bar per epoch and the log lines printed."""

    def __init__(self) -> None:
        self.bar: tqdm[Any] | None = None

    def __call__(self, event: TrainProgress) -> None:
        if event.stage == "step":
            if self.bar is None:
                self.bar = tqdm(total=event.steps_per_epoch, desc=f"epoch {event.epoch}")
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{event.loss:.3f}")
            return
        self.close()
        print(event.message, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; returns the exit code. Raises DatasetError / ModelLoadError."""
    terminal = _TerminalProgress()
    try:
        result = train_model(options_from(args), terminal)
    finally:
        terminal.close()
    print(f"wrote {result.out}")
    return 0
