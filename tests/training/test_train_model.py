"""The callable training API behind the CLI and the napari dock: progress events, the result,
and a cancel that leaves a checkpoint the next run resumes from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_fada.errors import Cancelled, DatasetError
from napari_fada.models.base import CancelToken
from napari_fada.models.embedded_backend import EmbeddedBackend
from napari_fada.models.embedded_weights import load_weights
from napari_fada.training.loop import MIRRORED_PLANES, train_model
from napari_fada.training.options import TrainOptions, TrainProgress, TrainResult
from tests.training.test_train import _saved_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return _saved_dataset(tmp_path_factory.mktemp("train-api") / "dataset")


def _options(dataset: Path, out: Path, **changes) -> TrainOptions:
    base = TrainOptions(
        data=(dataset,), out=out, epochs=3, batch_size=4, lr=0.01, size=32, threads=1,
        cache_dir=out.parent / "cache",
    )  # fmt: skip
    return replace(base, **changes)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> tuple[list[TrainProgress], TrainResult]:
    events: list[TrainProgress] = []
    out = tmp_path_factory.mktemp("trained") / "m.pt"
    return events, train_model(_options(dataset, out), events.append)


def test_events_and_result(trained):
    events, result = trained
    infos = [e.message for e in events if e.stage == "info"]
    assert infos[0].endswith("validation images, input 32x32")
    assert infos[1].startswith("before: ") and infos[-2].startswith("after:  ")
    # too few validation shapes to calibrate their scores: the run says so and fits nothing
    assert infos[-1].startswith("shape scores left uncalibrated: 1 validation shapes")
    assert load_weights(result.out).shape_calibration == {}
    steps = [e for e in events if e.stage == "step"]
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert all(0.0 < e.fraction <= 1.0 and e.loss is not None and e.loss > 0 for e in steps)
    assert steps[-1].fraction == pytest.approx(1.0)
    epochs = [e for e in events if e.stage == "epoch"]
    assert [e.epoch for e in epochs] == [1, 2, 3] and result.epochs == 3
    assert all(e.message.startswith(f"epoch {e.epoch}: loss=") for e in epochs)
    assert all("score" in e.metrics for e in epochs)
    assert result.steps == steps[-1].step
    assert result.before == next(e.metrics for e in events if e.message.startswith("before"))
    assert load_weights(result.out).validation_metrics == pytest.approx(result.after)
    mirrored = load_weights(result.out).mirrored_planes  # trained mirrored: averaged at test time
    assert mirrored and set(mirrored) <= set(MIRRORED_PLANES) - {"transperineal"}


def test_a_fine_tune_that_only_gets_worse_keeps_the_starting_weights(dataset, trained, tmp_path):
    _, start = trained
    events: list[TrainProgress] = []
    options = _options(dataset, tmp_path / "tuned.pt", init=start.out, lr=5.0, epochs=2)
    result = train_model(options, events.append)
    assert all(e.metrics["score"] < result.before["score"] for e in events if e.stage == "epoch")
    assert any(e.message.startswith("no epoch beat the starting weights") for e in events)
    tuned, initial = load_weights(result.out).state_dict, load_weights(start.out).state_dict
    assert all(torch.equal(tuned[name], initial[name]) for name in initial)
    assert result.after["score"] == pytest.approx(result.before["score"])


def test_a_fine_tune_at_another_input_size_learns_at_that_size(dataset, trained, tmp_path):
    _, start = trained
    events: list[TrainProgress] = []
    options = _options(dataset, tmp_path / "finer.pt", init=start.out, size=48, epochs=1)
    result = train_model(options, events.append)
    assert events[0].message.endswith("validation images, input 48x48")
    tuned, initial = load_weights(result.out), load_weights(start.out)
    assert (tuned.preprocess.size, initial.preprocess.size) == ((48, 48), (32, 32))
    assert tuned.structures == initial.structures and tuned.planes == initial.planes
    proposal = EmbeddedBackend(result.out).propose(np.zeros((60, 80), dtype=np.uint8))
    assert proposal.plane.label in tuned.planes


def test_an_input_size_the_network_cannot_halve_is_refused(dataset, trained, tmp_path):
    _, start = trained
    with pytest.raises(DatasetError, match="multiple of 16, got 40"):
        train_model(_options(dataset, tmp_path / "m.pt", init=start.out, size=40))


def test_comparison_lists_each_metric_before_and_after():
    result = TrainResult(
        out=Path("m.pt"), before={"score": 0.5, "dice_head": 0.25}, after={"score": 0.75},
        epochs=1, steps=1, n_train=1, n_val=1, plane_temperature=1.0,
    )  # fmt: skip
    lines = result.comparison().splitlines()
    assert lines[1].split() == ["score", "0.5000", "0.7500", "+0.2500"]
    assert lines[2].split() == ["dice_head", "0.2500", "-"]


def test_cancel_leaves_a_checkpoint_that_resume_continues(dataset, tmp_path):
    out = tmp_path / "m.pt"
    token = CancelToken()

    def cancel_at_step_3(event: TrainProgress) -> None:
        if event.stage == "step" and event.step == 3:
            token.cancel()

    with pytest.raises(Cancelled, match=r"cancelled at step 3.*m\.pt\.ckpt.*resume"):
        train_model(_options(dataset, out, epochs=50), cancel_at_step_3, token)
    assert not out.exists()
    assert _options(dataset, out).checkpoint.is_file()

    events: list[TrainProgress] = []
    train_model(_options(dataset, out, epochs=3, resume=True), events.append)
    resumed = [e for e in events if e.message.startswith("resumed after epoch")]
    assert len(resumed) == 1 and resumed[0].epoch >= 1  # the step-3 cancel came after epoch 1
    steps = [e.step for e in events if e.stage == "step"]
    assert steps[:1] == [4], [e.message for e in events]  # the first step after the checkpoint
    assert out.is_file()
