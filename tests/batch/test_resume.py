"""A run stopped by Ctrl-C or killed outright loses nothing it saved, and the same command
finishes the job without proposing those frames again."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_fada.batch.prelabel import INTERRUPTED, prelabel
from napari_fada.batch.report import REPORT_NAME
from napari_fada.data.dataset import Dataset
from tests.batch.conftest import EMBEDDED

pytestmark = pytest.mark.slow  # a subprocess and a model per test

FRAMES = 8


@pytest.fixture
def clips(tmp_path: Path) -> tuple[Path, Path]:
    """Two TIFF stacks of distinct small frames."""
    rng = np.random.default_rng(7)
    paths = tmp_path / "first.tif", tmp_path / "second.tif"
    for path in paths:
        tifffile.imwrite(path, rng.integers(0, 256, (FRAMES, 96, 128), dtype=np.uint8))
    return paths


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child before it starts: Ctrl-C does what it does in a terminal. A test run
    started in the background of a non-interactive shell ignores SIGINT, and a program
    inherits that, so the run would never be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(inputs: list[Path], out: Path, config: Path, workers: int = 1) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "napari_fada", "prelabel", *map(str, inputs)]
    return subprocess.Popen(
        [*command, "--out", str(out), "--workers", str(workers), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NAPARI_FADA_CONFIG_DIR": str(config)},
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )


def _wait_for_reader(gate: Path, child: subprocess.Popen[str]) -> int:
    """Open the write end of the FIFO ``gate`` once ``child`` opens it to read; return it."""
    deadline = time.monotonic() + 300  # an upper bound, not a timing
    while True:
        try:
            return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: nobody reads it yet
                raise
        assert time.monotonic() < deadline, "the run never reached the gate"
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=0.05)
        assert child.returncode is None, child.communicate()


def _wait_until_delivered(pid: int, stop: signal.Signals) -> None:
    """Wait until no thread of ``pid`` has ``stop`` pending any more: the signal has reached the
    run (its handler's flag is set), whichever thread the system handed it to."""
    bit = 1 << (int(stop) - 1)
    deadline = time.monotonic() + 300  # an upper bound, not a timing
    while True:
        pending = 0
        for status in Path(f"/proc/{pid}").glob("task/*/status"):
            with contextlib.suppress(OSError):
                for line in status.read_text().splitlines():
                    if line.startswith(("SigPnd:", "ShdPnd:")):
                        pending |= int(line.split()[1], 16)
        if not pending & bit:
            return
        assert time.monotonic() < deadline, "the signal was never delivered"
        time.sleep(0.01)  # polling the kernel's pending set


def _saved(out: Path) -> list[Path]:
    folder = out / "annotations"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_a_stopped_run_resumes_without_redoing_saved_frames(
    stop: signal.Signals, clips: tuple[Path, Path], tmp_path: Path
):
    """The run is stopped while it waits to read a named pipe placed between the two clips:
    it has saved the first clip and cannot finish before the signal arrives."""
    out, gate = tmp_path / "ds", tmp_path / "gate.png"
    os.mkfifo(gate)
    child = _start([clips[0], gate, clips[1]], out, tmp_path / "config")
    writer = _wait_for_reader(gate, child)
    try:
        child.send_signal(stop)
        if stop == signal.SIGINT:
            _wait_until_delivered(child.pid, stop)
    finally:
        # End of file for the reader: a SIGINT that the system handed to another thread of
        # the run (a model thread) takes effect once its main thread is back from the read;
        # it was delivered first, so the read's end cannot win the race.
        os.close(writer)
    stdout, stderr = child.communicate(timeout=120)
    if stop == signal.SIGINT:
        assert child.returncode == INTERRUPTED, stderr
        assert "prelabel interrupted" in stdout
        assert json.loads((out / REPORT_NAME).read_text())["runs"][-1]["interrupted"] is True
    else:
        assert child.returncode == -signal.SIGKILL

    kept = Dataset.open(out).records()  # opening brings the dataset-wide files up to date
    assert len((out / "manifest.csv").read_text().splitlines()) == 1 + len(kept)
    assert [Path(r.source_path or "").name for r in kept] == ["first.tif"] * FRAMES
    before = {p.name: p.stat().st_mtime_ns for p in _saved(out)}
    report = prelabel(list(clips), out, EMBEDDED)
    assert (report.done, report.skipped, report.failed) == (FRAMES, FRAMES, 0)
    assert [r.frame_index for r in Dataset.open(out).records()] == [*range(FRAMES)] * 2
    assert {p.name: p.stat().st_mtime_ns for p in _saved(out) if p.name in before} == before


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state_and_parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(state_and_parent[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="lists processes from /proc")
def test_worker_processes_exit_when_the_run_is_killed(samples_dir: Path, tmp_path: Path):
    """A worker blocked reading a named pipe would live on forever if it outlived its parent."""
    gate = tmp_path / "gate.png"
    os.mkfifo(gate)
    image = samples_dir / "images" / "psfhs_03744.png"
    child = _start([gate, image], tmp_path / "ds", tmp_path / "config", workers=2)
    writer = _wait_for_reader(gate, child)  # a worker is up and reading
    workers = _children(child.pid)
    try:
        assert workers
        child.kill()
        assert child.wait(timeout=120) == -signal.SIGKILL
        deadline = time.monotonic() + 120  # an upper bound, not a timing
        while any(_running(pid) for pid in workers):
            assert time.monotonic() < deadline, "worker processes outlived the killed run"
            time.sleep(0.05)
    finally:
        os.close(writer)
        for pid in filter(_running, workers):  # only if the test failed: they hold its pipes
            os.kill(pid, signal.SIGKILL)
        child.communicate()
