"""Progress of a long command on one terminal line."""

from __future__ import annotations

import sys


def print_progress(message: str, fraction: float) -> None:
    """A :data:`~napari_fada.models.base.ProgressCallback` that rewrites one stderr line."""
    print(f"\r{fraction:6.1%} {message:<60}", end="", file=sys.stderr, flush=True)
