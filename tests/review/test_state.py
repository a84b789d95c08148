"""The review position saved in the dataset folder: round trip, defaults, and write failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_fada.errors import DatasetError
from napari_fada.review.state import STATE_FILE, ReviewState


def test_state_round_trips_through_the_dataset_folder(tmp_path: Path) -> None:
    state = ReviewState(current="scan7", order="confidence", status_filter="edited")
    state.compare_to = "/data/model-b"
    state.save(tmp_path)
    assert ReviewState.load(tmp_path) == state
    assert json.loads((tmp_path / STATE_FILE).read_text())["current"] == "scan7"


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"order": "alphabetical"}),
        json.dumps({"status_filter": "done"}),
        json.dumps({"current": 7}),
    ],
)
def test_a_bad_state_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    (tmp_path / STATE_FILE).write_text(text)
    assert ReviewState.load(tmp_path) == ReviewState()
    assert ReviewState.load(tmp_path / "missing") == ReviewState()


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text(json.dumps({"current": "a", "zoom": 3}))
    assert ReviewState.load(tmp_path) == ReviewState(current="a")


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "dataset"
    not_a_folder.write_text("a file where the dataset folder should be")
    with pytest.raises(DatasetError, match="Could not save the review position"):
        ReviewState(current="a").save(not_a_folder)
