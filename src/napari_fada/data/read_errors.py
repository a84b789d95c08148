"""One wording for every "this file cannot be read" message: which file, why, what to do."""

from __future__ import annotations

from pathlib import Path

from napari_fada.errors import ImageReadError

DEFAULT_HINT = "Check that the file was copied completely, or export it again from the scanner."


def read_error(path: Path, reason: object, hint: str = DEFAULT_HINT) -> ImageReadError:
    """An :class:`ImageReadError` naming the file, the cause and a next step."""
    return ImageReadError(f"Cannot read {path.name} ({path}): {reason}. {hint}")
