"""``napari-fada propose IMAGE... --out DATASET``: a model's proposals saved for review.

Runs :func:`~napari_fada.batch.propose.propose_into`: inputs are read as ``prelabel`` reads them
(a folder is a clip only with ``--folder-as-clip``). The model options default to the saved
settings (``napari-fada settings``).
"""

from __future__ import annotations

import argparse
import sys

from napari_fada.batch.propose import propose_into
from napari_fada.commands.options import add_propose_arguments, apply_model_arguments
from napari_fada.models.base import PHASES
from napari_fada.models.registry import load_backend
from napari_fada.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_propose_arguments(parser)


def run(args: argparse.Namespace) -> int:
    settings = apply_model_arguments(Settings.load(), args)
    backend = load_backend(settings.backend, **settings.backend_arguments())
    for note in backend.notes:
        print(f"{backend.model_id}: {note}", file=sys.stderr)
    structures = tuple(args.structures) if args.structures else None
    phases = tuple(settings.phases) if settings.phases else PHASES
    try:
        summary = propose_into(
            backend, args.inputs, args.out, structures, args.annotator, phases, args.folder_as_clip
        )
    finally:
        backend.close()
    for message in summary.failures:
        print(f"skipped {message}", file=sys.stderr)
    kept = summary.kept_reviewed
    print(
        f"saved proposals for {summary.saved} image(s) into {args.out}"
        + (f"; left {kept} reviewed image(s) as they were" if kept else "")
    )
    if summary.write_error:
        print(f"stopped: {summary.write_error}")
    return 1 if summary.failures or summary.write_error else 0
