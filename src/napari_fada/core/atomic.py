"""Crash-safe file writes: a temporary file beside the target, fsync, then ``os.replace``.

A process killed mid-write leaves either the old file or the new one, never a truncated mix;
at worst a stray temporary file (named ``.<name>.<random>.tmp``) that :func:`remove_stale_temps`
cleans up.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from napari_fada.core import strict_json
from napari_fada.errors import WriteError

TEMP_SUFFIX = ".tmp"


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new temporary file next to ``path``, open for writing, with the permissions the user's
    umask gives new files (so a team sharing a folder can read it), not ``mkstemp``'s 0600."""
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue


def write_bytes_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace ``path`` with ``data``, given whole or in chunks (large files need no copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.writelines([data] if isinstance(data, bytes) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str | Iterable[str]) -> None:
    chunks = [text] if isinstance(text, str) else text
    write_bytes_atomic(path, (chunk.encode("utf-8") for chunk in chunks))


def write_json_atomic(path: Path, value: Any) -> None:
    write_text_atomic(path, strict_json.dumps(value, ensure_ascii=False, indent=1) + "\n")


@contextmanager
def writing(root: Path, what: str) -> Iterator[None]:
    """Turn a failed write (read-only folder, full disk) into a WriteError that says so."""
    try:
        yield
    except OSError as error:
        raise WriteError(
            f"Could not write {what} in {root}: {error.strerror or error}. Check that the folder "
            "is writable and the disk has space; what was saved before is intact."
        ) from error


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_png_atomic(path: Path, array: np.ndarray) -> None:
    write_bytes_atomic(path, png_bytes(array))


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files a killed writer left under ``folder``; returns how many."""
    removed = 0
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        try:
            path.unlink()
            removed += 1
        except OSError:  # a read-only dataset is still readable
            pass
    return removed
