"""Pre-labelling runs with the embedded model: failures isolated and reported, reruns redo
nothing, clips give one record per frame, reviewed work is never overwritten."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from napari_fada.batch.prelabel import Progress, prelabel
from napari_fada.batch.report import REPORT_NAME, RunReport, write_report
from napari_fada.commands.main import main
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.data.readers import read_any
from napari_fada.models.base import CancelToken
from tests.batch.conftest import CLIP_FRAMES, EMBEDDED, SMALL_IMAGES


def _mtimes(dataset: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (dataset / "annotations").glob("*.json")}


def test_a_corrupt_file_is_reported_and_a_rerun_proposes_nothing_twice(
    images_folder: Path, tmp_path: Path
):
    out = tmp_path / "ds"
    report = prelabel([images_folder], out, EMBEDDED)
    assert (report.done, report.skipped, report.failed) == (4, 0, 1)
    assert [Path(f.path).name for f in report.failures] == ["broken.png"]
    assert report.startup_s is not None and 0 < report.saving_s < report.seconds
    dataset = Dataset.open(out)
    assert sorted(r.image_id for r in dataset.records()) == [Path(n).stem for n in SMALL_IMAGES]
    for record in dataset.records():
        _, proposal = dataset.load(record.image_id) or pytest.fail("not saved")
        assert proposal.annotations and {a.status for a in proposal.annotations} == {"proposed"}
        assert proposal.plane is not None
    manifest = (out / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 1 + len(SMALL_IMAGES)  # dataset-wide files written at the end
    before = _mtimes(out)

    again = prelabel([images_folder], out, EMBEDDED)
    assert (again.done, again.skipped, again.failed) == (0, 4, 1)
    assert _mtimes(out) == before
    runs = json.loads((out / REPORT_NAME).read_text())["runs"]
    assert [run["done"] for run in runs] == [4, 0]
    assert all(Path(run["failures"][0]["path"]).name == "broken.png" for run in runs)
    assert "truncated" in runs[0]["failures"][0]["error"]


@pytest.mark.parametrize("clip_fixture", ["cine_dicom", "cine_tiff"])
def test_every_frame_of_a_clip_is_a_record_with_its_clip_id_and_index(
    clip_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
):
    clip: Path = request.getfixturevalue(clip_fixture)
    report = prelabel([clip], tmp_path / "ds", EMBEDDED)
    assert (report.done, report.failed) == (CLIP_FRAMES, 0)
    records = Dataset.open(tmp_path / "ds").records()
    assert [r.frame_index for r in records] == list(range(CLIP_FRAMES))
    assert [r.image_id for r in records] == [f"sweep_f{i:05d}" for i in range(CLIP_FRAMES)]
    assert len({r.clip_id for r in records}) == 1 and records[0].clip_id
    assert {r.source_path for r in records} == {str(clip.resolve())}
    assert len({r.sha256 for r in records}) == CLIP_FRAMES


def test_the_same_pixels_from_another_file_never_overwrite_reviewed_labels(
    images_folder: Path, tmp_path: Path
):
    out = tmp_path / "ds"
    first = images_folder / SMALL_IMAGES[0]
    prelabel([first], out, EMBEDDED)
    dataset = Dataset.open(out)
    record, proposal = dataset.load(first.stem) or pytest.fail("not saved")
    reviewed = [a.with_status("accepted", "ana") for a in proposal.annotations]
    dataset.save(record, dataset.image(first.stem), replace(proposal, annotations=reviewed))
    copy = tmp_path / "renamed_copy.png"
    copy.write_bytes(first.read_bytes())

    report = prelabel([copy], out, EMBEDDED)
    assert (report.done, report.skipped) == (0, 1)
    _, kept = Dataset.open(out).load(first.stem) or pytest.fail("lost")
    assert {a.status for a in kept.annotations} == {"accepted"}


def test_the_command_prints_failures_and_a_summary(
    images_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "ds"
    args = ["prelabel", str(images_folder), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main(args) == 1
    printed = capsys.readouterr()
    assert "broken.png" in printed.err
    assert "4 done, 0 skipped" in printed.out and "1 failed" in printed.out
    assert "images/s" in printed.out
    assert main(args) == 1
    assert "0 done, 4 skipped" in capsys.readouterr().out


def test_cancel_stops_after_the_item_in_hand_and_progress_counts_every_frame(
    images_folder: Path, tmp_path: Path
):
    token, seen = CancelToken(), []

    def on_progress(progress: Progress) -> None:
        seen.append((progress.handled, progress.total, progress.failed))
        if progress.handled == 2:
            token.cancel()

    out = tmp_path / "ds"
    report = prelabel([images_folder], out, EMBEDDED, on_progress=on_progress, cancel=token)
    assert seen == [(1, 5, 1), (2, 5, 1)]  # broken.png is first by name
    assert (report.interrupted, report.done, report.failed) == (True, 1, 1)
    again = prelabel([images_folder], out, EMBEDDED)
    assert (again.interrupted, again.done, again.skipped) == (False, 3, 1)


def test_a_label_reviewed_by_another_process_during_the_run_is_never_overwritten(
    images_folder: Path, tmp_path: Path
):
    out, last = tmp_path / "ds", images_folder / SMALL_IMAGES[-1]

    def annotator_saves_the_last_image(progress: Progress) -> None:
        if progress.handled == 4:  # just before the run proposes on the last image
            image = np.asarray(read_any(last).data)
            label = Annotation("fetal_head", box=(10, 10, 50, 40), status="accepted")
            proposal = Proposal(image.shape[1], image.shape[0], annotations=[label])
            Dataset.open(out).save(make_record(image, last), image, proposal)

    report = prelabel([images_folder], out, EMBEDDED, on_progress=annotator_saves_the_last_image)
    assert (report.done, report.skipped, report.failed) == (3, 1, 1)
    _, kept = Dataset.open(out).load(last.stem) or pytest.fail("lost")
    assert [a.status for a in kept.annotations] == ["accepted"]


def test_two_runs_reporting_at_once_keep_both_entries(tmp_path: Path):
    root = tmp_path / "ds"
    Dataset.open(root)
    first, second = RunReport(["a"], "embedded", 1), RunReport(["b"], "embedded", 1)
    write_report(root, first)
    write_report(root, second)  # the second run started before the first wrote again
    first.done = 3
    write_report(root, first)
    runs = json.loads((root / REPORT_NAME).read_text())["runs"]
    assert [(run["inputs"], run["done"]) for run in runs] == [(["b"], 0), (["a"], 3)]
