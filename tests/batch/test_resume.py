"""A run stopped by Ctrl-C or killed outright loses nothing it saved, and the same command
finishes the job without proposing those frames again."""

from __future__ import annotations

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

FRAMES = 16
SAVED_BEFORE_STOP = 2


@pytest.fixture
def long_clip(tmp_path: Path) -> Path:
    """A TIFF stack of distinct small frames, long enough to stop a run in the middle."""
    rng = np.random.default_rng(7)
    path = tmp_path / "long.tif"
    tifffile.imwrite(path, rng.integers(0, 256, (FRAMES, 96, 128), dtype=np.uint8))
    return path


def _start(clip: Path, out: Path, config: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "napari_fada", "prelabel", str(clip), "--out", str(out)]
    return subprocess.Popen(
        [*command, "--workers", "1", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NAPARI_FADA_CONFIG_DIR": str(config)},
    )


def _saved(out: Path) -> list[Path]:
    folder = out / "annotations"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_a_stopped_run_resumes_without_redoing_saved_frames(
    stop: signal.Signals, long_clip: Path, tmp_path: Path
):
    out = tmp_path / "ds"
    child = _start(long_clip, out, tmp_path / "config")
    deadline = time.monotonic() + 120
    while len(_saved(out)) < SAVED_BEFORE_STOP and child.poll() is None:
        assert time.monotonic() < deadline, "the run saved nothing in two minutes"
        time.sleep(0.01)
    child.send_signal(stop)
    stdout, stderr = child.communicate(timeout=60)
    if stop == signal.SIGINT:
        assert child.returncode == INTERRUPTED, stderr
        assert "prelabel interrupted" in stdout
        assert json.loads((out / REPORT_NAME).read_text())["runs"][-1]["interrupted"] is True
    else:
        assert child.returncode == -signal.SIGKILL

    kept = Dataset.open(out).records()  # opening brings the dataset-wide files up to date
    assert len((out / "manifest.csv").read_text().splitlines()) == 1 + len(kept)
    assert SAVED_BEFORE_STOP <= len(kept) < FRAMES
    before = {p.name: p.stat().st_mtime_ns for p in _saved(out)}
    report = prelabel([long_clip], out, EMBEDDED)
    assert (report.done, report.skipped, report.failed) == (FRAMES - len(kept), len(kept), 0)
    assert [r.frame_index for r in Dataset.open(out).records()] == list(range(FRAMES))
    assert {p.name: p.stat().st_mtime_ns for p in _saved(out) if p.name in before} == before
