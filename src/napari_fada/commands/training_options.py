"""The options ``train`` and ``train-prompt`` share, defined once, and the run they ask for.

``--data --out --resume --minutes --batch-size --lr --holdout --seed --threads`` mean the same in
both; each command adds its own and builds its options dataclass with :func:`options_from`.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

OptionsT = TypeVar("OptionsT")


class RunDefaults(Protocol):
    """The defaults of a command's run, as its options dataclass has them."""

    @property
    def batch_size(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def threads(self) -> int: ...


def add_training_arguments(
    parser: argparse.ArgumentParser, defaults: RunDefaults, out_help: str
) -> None:
    """The shared options; ``out_help`` says what ``--out`` writes."""
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="DIR",
        help="dataset folders (images/, masks/, labels.json, manifest.csv)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help=out_help)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint <out>.ckpt of an interrupted run",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        help="time budget: the schedule anneals by the clock and training ends on time",
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate")
    parser.add_argument(
        "--holdout",
        nargs="+",
        default=[],
        metavar="SOURCE:N",
        help="keep the last N rows of a source dataset (manifest order) out of training as a "
        "held-out block of whole recordings, e.g. PSFHS:150",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=defaults.threads)


def options_from(cls: type[OptionsT], args: argparse.Namespace) -> OptionsT:
    """The ``cls`` run ``args`` ask for: its fields from the options of the same names (lists as
    tuples); a field no option sets keeps its default."""
    values: dict[str, Any] = {
        f.name: getattr(args, f.name)
        for f in fields(cls)  # type: ignore[arg-type]
        if hasattr(args, f.name)
    }
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
