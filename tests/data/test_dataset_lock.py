"""Several writers on one dataset folder: they take turns, lose nothing, never replace what a
person reviewed, and a writer killed while holding the lock blocks no one.

Other processes are started with a script that says (on stdout) when it holds the lock or is in
the middle of creating a dataset, and waits for its stdin to close before going on: the tests
wait on those lines and on process exit, never on time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.errors import DatasetError

#: Generous upper bound for another process to start and report (a loaded 2-core machine).
STARTUP_S = 300

_HOLD_LOCK = """
import sys
from pathlib import Path
from napari_fada.data.dataset_lock import DatasetLock
with DatasetLock(Path(sys.argv[1])).held():
    print("held", flush=True)
    sys.stdin.read()
"""

_PAUSE_WHILE_CREATING = """
import sys
from pathlib import Path
import napari_fada.data.dataset as module
real = module.write_text_atomic
def paused(path, text):
    real(path, text)
    if path.name == "data.yaml":
        print("creating", flush=True)
        sys.stdin.read()
module.write_text_atomic = paused
module.Dataset.open(Path(sys.argv[1]))
"""


def _script(code: str, root: Path, expected: str) -> subprocess.Popen[str]:
    """Start ``code`` on ``root`` and return once it printed ``expected``."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == expected
    return child


def _release(child: subprocess.Popen[str]) -> int:
    assert child.stdin is not None
    child.stdin.close()
    return child.wait(timeout=STARTUP_S)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (12, 16), dtype=np.uint8)


def _proposal(status: str = "proposed") -> Proposal:
    annotation = Annotation("head", box=(1, 1, 8, 6), status=status)  # type: ignore[arg-type]
    return Proposal(16, 12, annotations=[annotation])


def _save(dataset: Dataset, seed: int, name: str = "scan.png", status: str = "proposed") -> None:
    image = _image(seed)
    dataset.save(make_record(image, name), image, _proposal(status))


class _InThread:
    """Run ``work`` in a thread; ``waiting`` is set when it waits for the lock, or ends."""

    def __init__(self, work) -> None:
        self.waiting = threading.Event()
        self.error: BaseException | None = None
        self.result = None
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work(lambda _message: self.waiting.set())
        except BaseException as error:
            self.error = error
        finally:
            self.waiting.set()

    def join(self):
        self._thread.join(STARTUP_S)
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def test_two_writers_with_the_same_file_names_keep_every_image(tmp_path):
    first, second = Dataset.open(tmp_path / "ds"), Dataset.open(tmp_path / "ds")
    for index in range(5):
        _save(first, 2 * index, f"scan{index}.png")
        _save(second, 2 * index + 1, f"scan{index}.png")  # other folder, same names
    reopened = Dataset.open(tmp_path / "ds")
    assert len(reopened.records()) == 10
    assert len(list((tmp_path / "ds" / "annotations").glob("*.json"))) == 10
    assert len((tmp_path / "ds" / "manifest.csv").read_text().splitlines()) == 11
    assert len(second.records()) == 10  # each writer read the other's saves


def test_a_proposal_never_replaces_a_label_another_process_reviewed(tmp_path):
    prelabelling = Dataset.open(tmp_path / "ds")  # opened before the annotator saves
    _save(Dataset.open(tmp_path / "ds"), 1, status="accepted")
    image = _image(1)
    assert prelabelling.save_proposal(make_record(image, "scan.png"), image, _proposal()) is None
    stored = Dataset.open(tmp_path / "ds").load("scan")
    assert stored is not None and [a.status for a in stored[1].annotations] == ["accepted"]


def test_a_proposal_replaces_an_unreviewed_one(tmp_path):
    dataset = Dataset.open(tmp_path / "ds")
    _save(dataset, 1)
    image = _image(1)
    proposal = replace(_proposal(), annotations=[Annotation("abdomen", box=(0, 0, 4, 4))])
    assert dataset.save_proposal(make_record(image, "scan.png"), image, proposal) is not None
    stored = Dataset.open(tmp_path / "ds").load("scan")
    assert stored is not None and [a.label for a in stored[1].annotations] == ["abdomen"]


def test_a_second_writer_waits_for_the_first_then_saves(tmp_path):
    root = tmp_path / "ds"
    Dataset.open(root)
    holder = _script(_HOLD_LOCK, root, "held")
    messages: list[str] = []

    def save(on_wait):
        def tell(message: str) -> None:
            messages.append(message)
            on_wait(message)

        waiting = Dataset.open(root, on_wait=tell)
        _save(waiting, 3)
        return waiting

    writer = _InThread(save)
    writer.waiting.wait(STARTUP_S)
    assert writer.is_alive(), writer.error  # waiting for the lock, not finished or failed
    assert f"process {holder.pid}" in messages[0]
    assert _release(holder) == 0
    writer.join()
    assert [r.image_id for r in Dataset.open(root).records()] == ["scan"]


def test_a_writer_refuses_clearly_when_the_lock_stays_taken(tmp_path):
    root = tmp_path / "ds"
    dataset = Dataset.open(root, lock_timeout_s=0)
    holder = _script(_HOLD_LOCK, root, "held")
    try:
        with pytest.raises(DatasetError, match=rf"busy: process {holder.pid} on .* writing"):
            _save(dataset, 4)
    finally:
        _release(holder)
    _save(dataset, 4)  # free again
    assert len(Dataset.open(root).records()) == 1


def test_a_lock_left_by_a_killed_writer_is_recovered(tmp_path):
    root = tmp_path / "ds"
    dataset = Dataset.open(root, lock_timeout_s=0)
    holder = _script(_HOLD_LOCK, root, "held")
    os.kill(holder.pid, signal.SIGKILL)
    assert holder.wait(timeout=STARTUP_S) == -signal.SIGKILL
    _save(dataset, 5)  # no wait: the lock died with its holder
    assert len(Dataset.open(root).records()) == 1


def test_two_processes_creating_one_dataset_both_succeed(tmp_path):
    root = tmp_path / "new"
    creator = _script(_PAUSE_WHILE_CREATING, root, "creating")
    opener = _InThread(lambda on_wait: Dataset.open(root, on_wait=on_wait))
    opener.waiting.wait(STARTUP_S)
    assert opener.is_alive(), opener.error  # waits for the creator instead of refusing
    assert _release(creator) == 0
    _save(opener.join(), 6)
    assert len(Dataset.open(root).records()) == 1


def test_a_folder_with_other_files_is_still_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not a napari-fada dataset"):
        Dataset.open(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_opening_never_deletes_the_file_another_writer_is_writing(tmp_path):
    root = tmp_path / "ds"
    Dataset.open(root)
    in_progress = root / "images" / ".scan.png.0123abcd.tmp"
    in_progress.parent.mkdir()
    in_progress.write_bytes(b"half")
    holder = _script(_HOLD_LOCK, root, "held")
    try:
        Dataset.open(root, lock_timeout_s=0)
        assert in_progress.exists()  # its writer holds the lock: it is not a leftover
    finally:
        _release(holder)
    Dataset.open(root)
    assert not in_progress.exists()  # nobody writing: a killed writer's leftover
