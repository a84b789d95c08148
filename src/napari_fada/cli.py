"""The ``napari-fada`` command line: demo, propose, settings, evaluate and train.

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

#: subcommand -> (module, function adding its arguments, function running it, help)
_SUBCOMMANDS: dict[str, tuple[str, str, str, str]] = {
    "demo": (
        "napari_fada._napari.demo",
        "add_demo_arguments",
        "run_demo",
        "open napari on a sample image with the default model's proposals",
    ),
    "propose": (
        "napari_fada.propose",
        "add_propose_arguments",
        "run_propose",
        "run a model on images and save its proposals into a dataset folder",
    ),
    "settings": (
        "napari_fada.settings_command",
        "add_settings_arguments",
        "run_settings",
        "show or set the model backend, model files, threads and phases (shared with napari)",
    ),
    "prelabel": (
        "napari_fada.batch.prelabel",
        "add_prelabel_arguments",
        "run_prelabel",
        "propose on whole folders and clips, resumably, on all cores or a Dask cluster",
    ),
    "evaluate": (
        "napari_fada.evaluate",
        "add_evaluate_arguments",
        "run_evaluate",
        "score a model against a dataset with ground truth",
    ),
    "inspect": (
        "napari_fada.inspection.command",
        "add_inspect_arguments",
        "run_inspect",
        "report where models fail against a dataset with ground truth (worst cases, plots)",
    ),
    "import": (
        "napari_fada.data.importers.command",
        "add_import_arguments",
        "run_import",
        "import a COCO, YOLO or label-PNG folder as a dataset to review",
    ),
    "train": (
        "napari_fada.train",
        "add_train_arguments",
        "run_train",
        "train or fine-tune the embedded model on saved datasets",
    ),
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
    for name, (module_name, add_name, run_name, help_text) in _SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            getattr(module, add_name)(sub)
            sub.set_defaults(run=getattr(module, run_name))
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


if __name__ == "__main__":
    sys.exit(main())
