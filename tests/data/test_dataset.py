"""The dataset folder: round trip, replacing instead of duplicating, ids, and clear errors."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from napari_fada.data.dataset import Dataset, make_record, pixel_sha256
from napari_fada.errors import DatasetError
from tests.data.dataset_case import case_image, case_proposal, case_record


def _saved(tmp_path: Path) -> Dataset:
    dataset = Dataset.open(tmp_path / "ds")
    dataset.save(case_record(), case_image(), case_proposal())
    return dataset


def test_reopened_dataset_gives_back_the_exact_record_and_proposal(tmp_path):
    _saved(tmp_path)
    reopened = Dataset.open(tmp_path / "ds", create=False)
    assert reopened.problems == []
    record, proposal = reopened.load("scan")
    assert record == case_record()
    assert proposal == case_proposal()
    assert [(a.id, a.status) for a in proposal.annotations] == [
        ("a1", "accepted"), ("a2", "edited"), ("a3", "rejected"),
        ("a4", "accepted"), ("a5", "proposed"), ("a6", "accepted"),
    ]  # fmt: skip
    assert reopened.records() == [case_record()]
    assert reopened.find_by_sha256("f" * 64) == case_record()
    assert reopened.find_by_sha256("0" * 64) is None
    assert reopened.load("never-saved") is None
    np.testing.assert_array_equal(reopened.image("scan"), case_image())


def test_folder_has_every_file_of_the_layout(tmp_path):
    root = _saved(tmp_path).root
    expected = {
        "dataset.json", "labels.json", "manifest.csv", "coco.json", "data.yaml", "planes.csv",
        "fada_finetune.jsonl", "images/scan.png", "masks/scan.png", "annotations/scan.json",
        "labels/scan.txt", "labels-detect/scan.txt", ".napari-fada.lock",
    }  # fmt: skip
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == expected
    info = json.loads((root / "dataset.json").read_text())
    assert (info["format"], info["version"], info["tool"]) == (
        "napari-fada-dataset", 1, "napari-fada 0.1.0",
    )  # fmt: skip


def test_manifest_row_has_shared_and_extra_columns(tmp_path):
    root = _saved(tmp_path).root
    rows = list(csv.DictReader((root / "manifest.csv").open()))
    assert len(rows) == 1
    row = rows[0]
    assert row.pop("updated")
    assert row == {
        "id": "scan", "image": "images/scan.png", "mask": "masks/scan.png",
        "source_dataset": "clinic", "source_file": "/scans/scan.png", "subject": "",
        "split": "train", "plane": "imaging_plane text", "fada_plane_label": "BPD_PLANE",
        "width": "20", "height": "10", "pixel_size_mm": "0.1", "head_circumference_mm": "61.5",
        "structures": "Brain;CRL_KP;CSP;head", "sha256": "f" * 64, "clip_id": "",
        "frame_index": "", "plane_score": "0.8", "plane_source": "fada-0.8b", "n_accepted": "4",
        "n_rejected": "1", "bpd_mm": "", "ofd_mm": "", "ga_weeks": "",
    }  # fmt: skip


def test_saving_again_replaces_everything_for_the_image(tmp_path):
    dataset = _saved(tmp_path)
    proposal = case_proposal()
    proposal.annotations = [replace(proposal.annotations[0], label="Brain")]
    dataset.save(case_record(), case_image(), proposal)
    dataset.save(case_record(), case_image(), proposal)
    root = dataset.root
    coco = json.loads((root / "coco.json").read_text())
    assert [i["fada_image_id"] for i in coco["images"]] == ["scan"]
    assert [(a["id"], a["category_id"]) for a in coco["annotations"]] == [(1, 3)]
    assert coco["rejected_annotations"] == []
    assert [r["id"] for r in csv.DictReader((root / "manifest.csv").open())] == ["scan"]
    assert (root / "planes.csv").read_text().count("scan") == 1
    tasks = [json.loads(line)["task"] for line in (root / "fada_finetune.jsonl").open()]
    assert tasks == ["classify", "detect", "segment", "interpret"]
    assert (root / "labels" / "scan.txt").read_text().count("\n") == 1
    assert Dataset.open(root).load("scan")[1] == proposal


def test_images_keep_their_order_and_grow_the_aggregates(tmp_path):
    dataset = Dataset.open(tmp_path / "ds")
    for name, shift in (("b", 1), ("a", 2), ("c", 3)):
        image = case_image() + shift
        dataset.save(replace(case_record(name), sha256=""), image, case_proposal())
    dataset.save(replace(case_record("a"), sha256=""), case_image() + 2, case_proposal())
    coco = json.loads((dataset.root / "coco.json").read_text())
    assert [i["fada_image_id"] for i in coco["images"]] == ["b", "a", "c"]
    assert [a["image_id"] for a in coco["annotations"]] == [1] * 4 + [2] * 4 + [3] * 4
    assert [a["id"] for a in coco["annotations"]] == list(range(1, 13))
    assert [a["id"] for a in coco["rejected_annotations"]] == [1, 2, 3]
    assert [r.image_id for r in Dataset.open(dataset.root).records()] == ["b", "a", "c"]


def test_same_pixels_keep_their_id_and_other_pixels_never_take_one(tmp_path):
    dataset = Dataset.open(tmp_path / "ds")
    first = dataset.save(replace(case_record(), sha256=""), case_image(), case_proposal())
    assert first.sha256 == pixel_sha256(case_image())
    renamed = replace(case_record("copy"), sha256="")
    assert dataset.save(renamed, case_image(), case_proposal()).image_id == "scan"
    other = dataset.save(replace(case_record(), sha256=""), case_image() + 1, case_proposal())
    assert other.image_id == f"scan_{other.sha256[:8]}"
    unsafe = replace(case_record("../x/a b"), sha256="")
    assert dataset.save(unsafe, case_image() + 2, case_proposal()).image_id == "x_a_b"
    assert [r.image_id for r in dataset.records()] == ["scan", other.image_id, "x_a_b"]
    assert (dataset.root / "annotations" / "x_a_b.json").is_file()


def test_reviewed_annotations_get_the_dataset_annotator(tmp_path):
    proposal = case_proposal()
    for annotation in proposal.annotations:
        annotation.annotator = None
    dataset = Dataset.open(tmp_path / "ds", annotator="alice")
    dataset.save(case_record(), case_image(), proposal)
    saved = dataset.load("scan")[1]
    assert [a.annotator for a in saved.annotations] == ["alice"] * 4 + [None, "alice"]
    assert all(a.annotator is None for a in proposal.annotations)


def test_make_record_names_files_and_frames_readably():
    image = case_image()
    record = make_record(image, Path("/data/my scan (1).png"), pixel_spacing_mm=(0.2, 0.2))
    assert (record.image_id, record.width, record.height) == ("my_scan_1", 20, 10)
    assert record.sha256 == pixel_sha256(image)
    assert record.source_path == "/data/my scan (1).png"
    frame = make_record(image, "/data/clip.mp4", clip_id="clip", frame_index=12)
    assert (frame.image_id, frame.clip_id, frame.frame_index) == ("clip_f00012", "clip", 12)
    assert make_record(image, None).image_id == f"image_{pixel_sha256(image)[:12]}"
    assert pixel_sha256(image) != pixel_sha256(image.reshape(10, 20).T.copy())


def test_non_dataset_folder_is_refused_and_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not a napari-fada dataset"):
        Dataset.open(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(DatasetError, match="No dataset"):
        Dataset.open(tmp_path / "missing", create=False)


def test_other_format_version_is_refused(tmp_path):
    root = _saved(tmp_path).root
    info = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps({**info, "version": 2}))
    with pytest.raises(DatasetError, match="version 2"):
        Dataset.open(root)
    (root / "dataset.json").write_text(json.dumps({**info, "format": "other"}))
    with pytest.raises(DatasetError, match="not a napari-fada dataset"):
        Dataset.open(root)


def test_corrupt_annotation_file_is_reported_and_the_others_still_load(tmp_path):
    dataset = _saved(tmp_path)
    dataset.save(replace(case_record("other"), sha256=""), case_image() + 1, case_proposal())
    broken = dataset.root / "annotations" / "scan.json"
    broken.write_text('{"record": {"image_id": "sc')
    reopened = Dataset.open(dataset.root)
    assert len(reopened.problems) == 1 and str(broken) in reopened.problems[0]
    assert reopened.load("other")[1] == case_proposal()
    with pytest.raises(DatasetError, match="corrupt"):
        reopened.load("scan")
    reopened.save(replace(case_record("third"), sha256=""), case_image() + 2, case_proposal())
    clash = reopened.save(replace(case_record(), sha256=""), case_image() + 3, case_proposal())
    assert clash.image_id == f"scan_{clash.sha256[:8]}"
    manifest = [r["id"] for r in csv.DictReader((dataset.root / "manifest.csv").open())]
    assert manifest == ["other", "third", clash.image_id, "scan"]
    assert broken.read_text() == '{"record": {"image_id": "sc'


def test_images_that_cannot_be_stored_are_refused_before_writing(tmp_path):
    dataset = Dataset.open(tmp_path / "ds")
    with pytest.raises(DatasetError, match="float64"):
        dataset.save(case_record(), case_image().astype(float), case_proposal())
    with pytest.raises(DatasetError, match="20 x 10"):
        dataset.save(case_record(), case_image()[:, :5], case_proposal())
    assert dataset.records() == [] and not (dataset.root / "annotations").exists()
