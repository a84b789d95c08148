"""A writer killed at any moment loses at most the save in progress."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from napari_fada.core.proposal import Proposal
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.errors import DatasetError
from tests.data.dataset_case import case_image, case_proposal, case_record

IDS = 12

#: Saves image ``img<i % IDS>`` with annotation ``a<i>`` for i = start, start + 1, ... printing
#: "<i>" after each save returns; fsync is slowed so that kills land inside writes.
CHILD = f"""
import os, sys, time
from pathlib import Path
import numpy as np
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.errors import DatasetError

real_fsync = os.fsync
os.fsync = lambda fd: (time.sleep(0.003), real_fsync(fd))[1]
dataset = Dataset.open(Path(sys.argv[1]))
print("ready", flush=True)
for i in range(int(sys.argv[2]), 10**6):
    k = i % {IDS}
    box = (float(k), float(i % 7), float(k + 5), float(i % 7 + 5))
    polygon = [(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])]
    annotation = Annotation("head", box, polygon, status="accepted", id=f"a{{i}}", created="t")
    proposal = Proposal(32, 16, [annotation], id=f"p{{i}}")
    record = ImageRecord(f"img{{k:02d}}", 32, 16)
    dataset.save(record, np.full((16, 32), k, dtype=np.uint8), proposal)
    print(i, flush=True)
"""


def _run_and_kill(root: Path, start: int, rng: random.Random) -> list[int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(start)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    done = [int(child.stdout.readline()) for _ in range(rng.randint(3, 8))]
    time.sleep(rng.uniform(0.0, 0.05))  # into the middle of a later save
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    return done + [int(line) for line in child.stdout.read().split()]


def test_killed_writer_keeps_every_completed_save(tmp_path):
    rng = random.Random(7)
    root = tmp_path / "ds"
    completed: list[int] = []
    #: Saves cut by a kill: each may or may not have reached the disk.
    cut: set[int] = set()
    for _ in range(3):
        start = completed[-1] + 2 if completed else 0  # skip the save that may have been cut
        done = _run_and_kill(root, start, rng)
        completed += done
        dataset = Dataset.open(root)
        assert dataset.problems == []
        assert not list(root.rglob("*.tmp"))
        last = {f"img{i % IDS:02d}": i for i in completed}
        cut.add(completed[-1] + 1)
        for image_id, i in last.items():
            annotation = dataset.load(image_id)[1].annotations[0]
            saved = int(annotation.id[1:])
            assert saved == i or (saved in cut and saved > i and saved % IDS == i % IDS)
            assert annotation.box == (float(saved % IDS), float(saved % 7), *annotation.box[2:])
        coco = json.loads((root / "coco.json").read_text())
        ids = {r.image_id for r in dataset.records()}
        assert {image["fada_image_id"] for image in coco["images"]} == ids
        assert {row["id"] for row in csv.DictReader((root / "manifest.csv").open())} == ids
        assert set(last) <= ids


def test_crash_before_the_aggregates_is_repaired_on_open(tmp_path, monkeypatch):
    dataset = Dataset.open(tmp_path / "ds")
    dataset.save(case_record("first"), case_image(), case_proposal())

    def power_cut(self: Dataset) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(Dataset, "_write_aggregates", power_cut)
    with pytest.raises(RuntimeError):
        dataset.save(replace(case_record("second"), sha256=""), case_image() + 1, case_proposal())
    monkeypatch.undo()
    (dataset.root / "masks" / ".first.png.x1y2.tmp").write_bytes(b"half a png")
    reopened = Dataset.open(dataset.root)
    assert [r.image_id for r in reopened.records()] == ["first", "second"]
    rows = list(csv.DictReader((dataset.root / "manifest.csv").open()))
    assert [row["id"] for row in rows] == ["first", "second"]
    coco = json.loads((dataset.root / "coco.json").read_text())
    assert [image["fada_image_id"] for image in coco["images"]] == ["first", "second"]
    assert not (dataset.root / "masks" / ".first.png.x1y2.tmp").exists()


def test_full_disk_is_a_clear_error_and_loses_nothing(tmp_path, monkeypatch):
    dataset = Dataset.open(tmp_path / "ds")
    dataset.save(case_record(), case_image(), case_proposal())
    before = (dataset.root / "annotations" / "scan.json").read_text()

    def disk_full(path: Path, value: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("napari_fada.data.dataset.write_json_atomic", disk_full)
    edited = case_proposal()
    edited.annotations = edited.annotations[:1]
    with pytest.raises(DatasetError, match=r"labels of scan.*No space left on device"):
        dataset.save(case_record(), case_image(), edited)
    monkeypatch.undo()
    assert (dataset.root / "annotations" / "scan.json").read_text() == before
    assert Dataset.open(dataset.root).load("scan")[1] == case_proposal()


def test_dataset_files_follow_the_umask_so_a_team_can_read_them(tmp_path):
    previous = os.umask(0o027)
    try:
        dataset = Dataset.open(tmp_path / "ds")
        image = np.zeros((10, 20), dtype=np.uint8)
        dataset.save(make_record(image, "scan.png"), image, Proposal(20, 10))
    finally:
        os.umask(previous)
    files = [p for p in (tmp_path / "ds").rglob("*") if p.is_file()]
    assert files and {p.stat().st_mode & 0o777 for p in files} == {0o640}
