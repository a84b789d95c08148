"""One writer at a time per dataset folder, across processes and machines sharing the folder.

Every write to a dataset (a save, the aggregate files, creating the folder) happens while its
process holds an exclusive lock on ``<dataset>/.napari-fada.lock``. The operating system drops
the lock when the process ends, however it ends (a crash, ``kill -9``), so a lock left by a dead
writer never blocks anyone: the next writer simply gets it. The file itself stays; it says which
process last held the lock (pid and host, for the message a waiting writer shows) and counts the
writes, so a writer knows when others have written since it last looked.

A second writer waits for the lock, saying who holds it, and gives up with a DatasetError after
:data:`LOCK_TIMEOUT_S` (or the ``timeout_s`` given). Writers hold the lock only while writing
one image or the aggregate files, so two runs into one folder take turns and both finish.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from napari_fada.errors import DatasetError


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


LOCK_FILE = ".napari-fada.lock"
#: How long a writer waits for another to finish writing before giving up.
LOCK_TIMEOUT_S = 120.0
#: Longest pause between two tries to take a lock held by another process.
_MAX_POLL_S = 0.25


def _holder(text: str) -> dict[str, object]:
    try:
        info = json.loads(text)
    except ValueError:  # written at this moment, or by something else
        return {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict[str, object]) -> str:
    pid, host = info.get("pid"), info.get("host")
    if pid is None:
        return "another process"
    return f"process {pid} on {host}" if host else f"process {pid}"


class DatasetLock:
    """The write lock of the dataset at ``root``; ``on_wait`` hears (once) that it is waiting."""

    def __init__(
        self,
        root: Path,
        timeout_s: float = LOCK_TIMEOUT_S,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(root) / LOCK_FILE
        self.timeout_s = timeout_s
        self.on_wait = on_wait

    @contextmanager
    def held(self, count: bool = True) -> Iterator[int]:
        """Hold the lock for the block; yields how many writes the dataset had before this one
        (counting this one in the file unless ``count`` is false: a block that writes nothing).

        Raises DatasetError if another process keeps it longer than ``timeout_s``, and OSError
        if the lock file cannot be created (a read-only folder).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            self._acquire(fd)
            try:
                writes = self._record(fd) if count else self._writes(fd)
                yield writes
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int) -> None:
        if _try_lock(fd):
            return
        holder = _describe(_holder(self.path.read_text(encoding="utf-8", errors="replace")))
        if self.on_wait is not None:
            self.on_wait(
                f"Waiting for {holder}, which is writing to the dataset {self.path.parent}..."
            )
        deadline = time.monotonic() + self.timeout_s
        pause = 0.01
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise DatasetError(
                    f"The dataset {self.path.parent} is busy: {holder} has been writing to it "
                    f"for more than {self.timeout_s:g} s. Wait for it to finish, or save into "
                    "another folder."
                )
            time.sleep(pause)
            pause = min(pause * 2, _MAX_POLL_S)

    @staticmethod
    def _writes(fd: int) -> int:
        writes = _holder(os.pread(fd, 4096, 0).decode("utf-8", errors="replace")).get("writes")
        return writes if isinstance(writes, int) else 0

    @classmethod
    def _record(cls, fd: int) -> int:
        """Count this write and name its writer in the lock file; return the count before."""
        count = cls._writes(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "writes": count + 1}
        data = json.dumps(info).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return count
