"""The ``napari-fada`` command line: one subcommand per module of this package.

Each subcommand's module is imported only when that subcommand runs, so ``napari-fada --help``
stays instant and commands that need no GUI never import napari or Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from napari_fada import __version__
from napari_fada.errors import FadaError

#: subcommand -> (module in this package with ``add_arguments`` and ``run``, help)
_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "open napari on a sample image with the default model's proposals"),
    "propose": ("propose", "run a model on images and save its proposals into a dataset folder"),
    "settings": (
        "settings",
        "show or set the model backend, model files, threads and phases (shared with napari)",
    ),
    "prelabel": (
        "prelabel",
        "propose on whole folders and clips, resumably, on all cores or a Dask cluster",
    ),
    "evaluate": ("evaluate", "score a model against a dataset with ground truth"),
    "evaluate-interactive": (
        "evaluate_interactive",
        "simulate an annotator prompting with a box and clicks (Dice, NoC@85/90, ms per prompt)",
    ),
    "inspect": (
        "inspect",
        "report where models fail against a dataset with ground truth (worst cases, plots)",
    ),
    "import": ("import_", "import a COCO, YOLO or label-PNG folder as a dataset to review"),
    "train": ("train", "train or fine-tune the embedded model on saved datasets"),
    "train-prompt": ("train_prompt", "train the prompt model (a box or clicks to a mask)"),
}


def _build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-fada",
        description="Fetal ultrasound pre-labelling, review and export with a local FADA model.",
    )
    parser.add_argument("--version", action="version", version=f"napari-fada {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Only the chosen subcommand's module is imported; the others get a plain help line.
    chosen = next((a for a in argv if a in _SUBCOMMANDS), None)
    for name, (module_name, help_text) in _SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(f"napari_fada.commands.{module_name}")
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args))
    except FadaError as exc:
        print(f"napari-fada {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the library reads or writes outside a dataset (--json...)
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"napari-fada {args.command}: error: {exc.strerror or exc}{where}. Check that the "
            "folder is writable and the disk has space; files written before are intact.",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"napari-fada {args.command}: interrupted", file=sys.stderr)
        return 130
