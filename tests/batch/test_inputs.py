"""INPUT... becomes work items: folders, globs, clips in chunks, and what is done left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_fada.batch import inputs
from napari_fada.batch.inputs import WorkItem, expand_inputs, frame_key
from tests.batch.conftest import CLIP_FRAMES, SMALL_IMAGES


def test_a_folder_gives_its_images_in_name_order_and_ignores_other_files(images_folder: Path):
    expansion = expand_inputs([images_folder])
    names = [item.path.name for item in expansion.items]
    assert names == ["broken.png", *SMALL_IMAGES]
    assert all(item.frames is None and item.path.is_absolute() for item in expansion.items)
    assert (expansion.frames, expansion.skipped, expansion.failures) == (5, 0, [])


def test_globs_expand_and_each_file_is_taken_once(images_folder: Path):
    pattern = str(images_folder / "psfhs_*.png")
    expansion = expand_inputs([pattern, images_folder / SMALL_IMAGES[0], images_folder])
    names = [item.path.name for item in expansion.items]
    assert names == [*SMALL_IMAGES, "broken.png"]


def test_inputs_that_name_nothing_readable_are_reported_not_fatal(
    images_folder: Path, tmp_path: Path
):
    empty = tmp_path / "empty"
    empty.mkdir()
    given = [
        images_folder / "missing.png",
        images_folder / "notes.txt",
        str(tmp_path / "*.jpg"),
        empty,
        images_folder / SMALL_IMAGES[1],
    ]
    expansion = expand_inputs(given)
    assert [item.path.name for item in expansion.items] == [SMALL_IMAGES[1]]
    reasons = {Path(f.path).name: f.error for f in expansion.failures}
    assert set(reasons) == {"missing.png", "notes.txt", "*.jpg", "empty"}
    assert "does not exist" in reasons["missing.png"]
    assert "matches no file" in reasons["*.jpg"]


def test_a_clip_is_split_into_chunks_of_the_frames_not_yet_done(
    cine_dicom: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(inputs, "CHUNK_FRAMES", 2)
    path = cine_dicom.resolve()
    assert expand_inputs([cine_dicom]).items == [
        WorkItem(path, (0, 1)),
        WorkItem(path, (2, 3)),
        WorkItem(path, (4,)),
    ]
    done = {frame_key(cine_dicom, 1), frame_key(cine_dicom, 2)}
    expansion = expand_inputs([cine_dicom], done)
    assert expansion.items == [WorkItem(path, (0, 3)), WorkItem(path, (4,))]
    assert (expansion.frames, expansion.skipped) == (CLIP_FRAMES - 2, 2)


def test_a_clip_that_cannot_be_opened_is_a_failure(cine_dicom: Path, tmp_path: Path):
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(cine_dicom.read_bytes()[:200])
    expansion = expand_inputs([truncated])
    assert expansion.items == []
    assert len(expansion.failures) == 1
    assert "truncated.dcm" in expansion.failures[0].error
