"""SHA-256 of model files, for provenance: every proposal names the exact weights it came from.

Weights run to gigabytes, so a hash is computed once per file version (path, size, mtime) in a
process; a file changed on disk is hashed again.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path


def files_sha256(paths: Sequence[Path]) -> str:
    """One hash over the bytes of ``paths`` in order (of a single file: that file's sha256)."""
    versions = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    return _sha256_of(versions)


def file_sha256(path: Path) -> str:
    return files_sha256([Path(path)])


@functools.lru_cache(maxsize=16)
def _sha256_of(versions: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _size, _mtime in versions:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()
