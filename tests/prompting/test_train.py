"""train-prompt's library side: targets from a dataset, a run that writes loadable weights, and a
cancel that leaves a checkpoint the next run resumes from."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from napari_fada.errors import Cancelled, DatasetError
from napari_fada.models.base import CancelToken
from napari_fada.prompting.frame import Pyramid
from napari_fada.prompting.simulate import STARTS, draw_episode
from napari_fada.prompting.targets import instances, load_targets
from napari_fada.prompting.train import PromptTrainOptions, train_prompt_model
from napari_fada.prompting.weights import load_prompt_weights
from tests.prompting.conftest import TINY


def test_each_connected_instance_is_a_target():
    labels = np.zeros((20, 20), dtype=np.uint8)
    labels[1:6, 1:8] = 6
    labels[10:16, 10:18] = 6  # a second ventricle
    labels[0, 19] = 6  # a speck
    found = instances(labels, {6: "LV"})
    assert [(name, int(mask.sum())) for name, mask in found] == [("LV", 35), ("LV", 48)]


def test_targets_follow_the_manifest_split(tiny_dataset):
    sets = load_targets([tiny_dataset], splits=("train", "val", "all"))
    assert len(sets["train"].images) == 6 and len(sets["val"].images) == 2
    assert len(sets["all"].targets) == 16
    assert sets["all"].structures() == ["CSP", "head"]


def test_a_folder_without_masks_is_refused(tmp_path):
    with pytest.raises(DatasetError):
        load_targets([tmp_path / "nothing"])


@pytest.mark.parametrize("start", list(STARTS))
def test_every_start_makes_a_consistent_episode(tiny_dataset, start):
    sets = load_targets([tiny_dataset], splits=("all",))
    target = sets["all"].targets[0]
    episode = draw_episode(
        target, Pyramid(sets["all"].images[0]), TINY, np.random.default_rng(1), start
    )
    assert episode.image.shape == episode.box.shape == episode.previous.shape == (32, 32)
    assert episode.truth.any()
    assert bool(episode.box.any()) == (start == "box")
    for col, row, positive in episode.clicks:  # each click tells the truth about its pixel
        assert episode.truth[round(row), round(col)] == positive


def _options(dataset, out, **changes) -> PromptTrainOptions:
    base = PromptTrainOptions(
        data=(dataset,), out=out, steps=4, batch_size=4, val_every=2, threads=1, config=TINY
    )
    return replace(base, **changes)


def test_a_run_writes_weights_with_its_validation_figures(tiny_dataset, tmp_path):
    lines: list[str] = []
    out = tmp_path / "prompt.pt"
    weights = train_prompt_model(_options(tiny_dataset, out), lines.append)
    loaded = load_prompt_weights(out)
    assert loaded.model_id == weights.model_id
    assert "score" in loaded.validation_metrics and "head_box_0" in loaded.validation_metrics
    assert "4 steps of 4" in loaded.training_data
    assert [line.split(":")[0] for line in lines[1:3]] == ["step 2", "step 4"]


class _CancelAfter(CancelToken):
    """Cancelled once ``count`` log lines were written (the run validates, then cancels)."""

    def __init__(self, lines: list[str], count: int) -> None:
        super().__init__()
        self.lines, self.count = lines, count

    @property
    def cancelled(self) -> bool:
        return len(self.lines) >= self.count


def test_a_cancelled_run_resumes_from_its_checkpoint(tiny_dataset, tmp_path):
    out = tmp_path / "prompt.pt"
    lines: list[str] = []
    with pytest.raises(Cancelled, match="keeps the run"):
        train_prompt_model(
            _options(tiny_dataset, out, steps=6), lines.append, _CancelAfter(lines, 2)
        )
    assert not out.exists() and (tmp_path / "prompt.pt.ckpt").is_file()
    resumed: list[str] = []
    train_prompt_model(_options(tiny_dataset, out, steps=6, resume=True), resumed.append)
    assert resumed[1] == "resumed at step 2"
    assert [line.split(":")[0] for line in resumed[2:4]] == ["step 4", "step 6"]
    assert out.is_file()
