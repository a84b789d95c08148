"""Training the embedded model: a few steps on a dataset saved by the plugin, resume, fine-tune,
and the clear errors for broken datasets and weights."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from napari_fada.commands.train import add_arguments, run
from napari_fada.core.proposal import Annotation, PlaneCall, Proposal
from napari_fada.data.dataset import Dataset, make_record
from napari_fada.data.formats.label_png import label_mask
from napari_fada.errors import DatasetError, ModelLoadError
from napari_fada.models.embedded_backend import EmbeddedBackend
from napari_fada.models.embedded_weights import MODEL_VERSION, load_weights
from napari_fada.training.loop import segmentation_loss

SIZE = 64


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> list[tuple[float, float]]:
    return [
        (cx + rx * math.cos(2 * math.pi * k / n), cy + ry * math.sin(2 * math.pi * k / n))
        for k in range(n)
    ]


def _scene(index: int) -> tuple[np.ndarray, Proposal]:
    """A dark speckled frame with bright structures: a skull ellipse (trans-thalamic) or a fetal
    head and a pubic symphysis (transperineal), labelled as a reviewer would accept them."""
    rng = np.random.default_rng(index)
    image = rng.integers(0, 40, (SIZE, SIZE)).astype(np.uint8)
    if index % 2 == 0:
        shapes = [("head", _ellipse(32 + index % 5, 32, 20, 14))]
        plane = "trans-thalamic"
    else:
        shapes = [
            ("fetal_head", _ellipse(38, 38, 16, 16)),
            ("pubic_symphysis", _ellipse(14 + index % 3, 12, 8, 3)),
        ]
        plane = "transperineal"
    annotations = [
        Annotation(label=label, polygon=polygon, status="accepted") for label, polygon in shapes
    ]
    proposal = Proposal(
        width=SIZE,
        height=SIZE,
        annotations=annotations,
        plane=PlaneCall(plane, status="accepted"),
    )
    image[label_mask(proposal) > 0] += 150
    return image, proposal


def _saved_dataset(root: Path, count: int = 12) -> Path:
    dataset = Dataset.open(root)
    for index in range(count):
        image, proposal = _scene(index)
        dataset.save(make_record(image, f"scan{index}.png"), image, proposal)
    return root


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([*argv, "--threads", "1", "--batch-size", "4", "--size", "32"])


def _train(*argv: str) -> str:
    """Run training and return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run(_args(*argv)) == 0
    return out.getvalue()


def _epoch_losses(printed: str) -> list[float]:
    return [float(v) for v in re.findall(r"^epoch \d+: loss=([\d.]+)", printed, re.MULTILINE)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("train")
    data = _saved_dataset(root / "dataset")
    out = root / "model.pt"
    printed = _train(
        "--data", str(data), "--out", str(out), "--epochs", "6", "--lr", "0.01", "--patience", "6",
        "--cache-dir", str(root / "cache"),
    )  # fmt: skip
    return data, out, printed


def test_a_few_steps_lower_the_loss_and_the_file_proposes(trained):
    data, out, printed = trained
    losses = _epoch_losses(printed)
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert "before:" in printed and "after:" in printed
    image, _ = _scene(0)
    proposal = EmbeddedBackend(out).propose(image)
    assert proposal.plane.label in {"trans-thalamic", "transperineal", "trans-ventricular"}
    assert proposal.model.model_id == f"fada-embedded-{MODEL_VERSION}"
    weights = load_weights(out)
    assert set(weights.validation_metrics) >= {"score", "plane_accuracy"}
    assert str(data.resolve()) in weights.training_data


def test_fine_tuning_starts_from_the_given_weights(trained, tmp_path):
    data, out, _ = trained
    printed = _train(
        "--data", str(data), "--init", str(out), "--out", str(tmp_path / "tuned.pt"),
        "--epochs", "1", "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    before = float(re.search(r"before: .*score=([\d.]+)", printed).group(1))
    assert before == pytest.approx(load_weights(out).validation_metrics["score"], abs=0.02)
    tuned = load_weights(tmp_path / "tuned.pt")
    assert tuned.structures == load_weights(out).structures
    # A fine-tune is not the model it started from: its id says so.
    assert tuned.model_version.startswith(f"{MODEL_VERSION}-ft-")
    assert EmbeddedBackend(tmp_path / "tuned.pt").model_id != EmbeddedBackend(out).model_id


def test_resume_continues_after_the_last_finished_epoch(trained, tmp_path):
    data, _, _ = trained
    common = ["--data", str(data), "--out", str(tmp_path / "m.pt")]
    _train(*common, "--epochs", "2")
    first = torch.load(tmp_path / "m.pt.ckpt", weights_only=True)["state"]
    assert first["epoch"] >= 1
    printed = _train(*common, "--epochs", "3", "--resume")
    assert f"resumed after epoch {first['epoch']}" in printed
    assert f"epoch {first['epoch']}:" not in printed
    assert (tmp_path / "m.pt").is_file()


def test_resume_without_a_checkpoint(tmp_path, trained):
    data, _, _ = trained
    with pytest.raises(ModelLoadError, match="nothing to resume"):
        _train("--data", str(data), "--out", str(tmp_path / "m.pt"), "--resume")


def test_corrupt_init_weights(trained, tmp_path):
    data, _, _ = trained
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="not a readable"):
        _train("--data", str(data), "--init", str(bad), "--out", str(tmp_path / "m.pt"))


def test_init_weights_of_another_version(trained, tmp_path):
    data, out, _ = trained
    payload = torch.load(out, weights_only=True)
    payload["format_version"] = 0
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.raises(ModelLoadError, match="format 0"):
        _train("--data", str(data), "--init", str(old), "--out", str(tmp_path / "m.pt"))


# -- dataset errors, on folders in the shared layout -------------------------------------------


def _layout(root: Path, mask_value: int = 3, plane: str = "trans-thalamic") -> Path:
    """A valid two-image folder in the shared layout, for breaking one thing at a time."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "labels.json").write_text(json.dumps({"structures": {"3": "head", "9": "stomach"}}))
    lines = ["id,image,mask,split,plane"]
    for index in range(2):
        image, _ = _scene(2 * index)
        mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
        mask[20:40, 20:40] = mask_value
        Image.fromarray(image).save(root / "images" / f"s{index}.png")
        Image.fromarray(mask).save(root / "masks" / f"s{index}.png")
        # split "train": a hashed 10% split could put both rows in validation
        lines.append(f"s{index},images/s{index}.png,masks/s{index}.png,train,{plane}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def _train_on(folder: Path, tmp_path: Path) -> None:
    _train("--data", str(folder), "--out", str(tmp_path / "m.pt"), "--epochs", "1")


def test_a_valid_layout_trains(tmp_path):
    _train_on(_layout(tmp_path / "ok"), tmp_path)
    assert (tmp_path / "m.pt").is_file()


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        _train_on(tmp_path / "nowhere", tmp_path)


def test_empty_dataset(tmp_path):
    folder = _layout(tmp_path / "ds")
    (folder / "manifest.csv").write_text("id,image,mask,split,plane\n")
    with pytest.raises(DatasetError, match="empty"):
        _train_on(folder, tmp_path)


def test_structure_unknown_to_the_model(tmp_path):
    with pytest.raises(DatasetError, match=r"'stomach'.*does not know"):
        _train_on(_layout(tmp_path / "ds", mask_value=9), tmp_path)


def test_mask_id_not_in_labels_json(tmp_path):
    with pytest.raises(DatasetError, match=r"label id 7.*labels.json does not name"):
        _train_on(_layout(tmp_path / "ds", mask_value=7), tmp_path)


def test_plane_unknown_to_the_model(tmp_path):
    with pytest.raises(DatasetError, match=r"'nuchal translucency'.*unknown to this model"):
        _train_on(_layout(tmp_path / "ds", plane="nuchal translucency"), tmp_path)


def test_image_and_mask_of_different_sizes(tmp_path):
    folder = _layout(tmp_path / "ds")
    Image.fromarray(np.zeros((10, 12), dtype=np.uint8)).save(folder / "masks" / "s1.png")
    with pytest.raises(DatasetError, match=r"s1.png is 64x64 but its mask .* is 12x10"):
        _train_on(folder, tmp_path)


# -- the loss for partially labelled images ----------------------------------------------------


def test_unlabelled_nested_structures_cost_nothing_as_background():
    """Logits calling every pixel "Brain" on a background-only mask: no cost where Brain may be
    unlabelled (a head image), a high cost where its absence is known."""
    logits = torch.full((2, 7, 4, 4), -10.0)
    logits[:, 4] = 10.0
    masks = torch.zeros((2, 4, 4), dtype=torch.long)
    annotated = torch.ones((2, 7), dtype=torch.bool)
    annotated[0, 4] = False
    weights = torch.ones(7)
    unlabelled = segmentation_loss(logits[:1], masks[:1], annotated[:1], weights)
    labelled = segmentation_loss(logits[1:], masks[1:], annotated[1:], weights)
    assert float(unlabelled) < 1e-3
    assert float(labelled) > 10.0


def test_a_saved_datasets_plane_description_is_not_a_class(tmp_path):
    """FADA's interpretation describes the plane in words (the manifest's `plane` column of a
    saved dataset); only the accepted plane call is a class to learn."""
    from napari_fada.training.data import read_dataset

    root = _saved_dataset(tmp_path / "ds", count=2)
    dataset = Dataset.open(root)
    image, proposal = _scene(0)
    proposal.interpretation = {"imaging_plane": "Standard trans-thalamic plane of the fetal head"}
    proposal.plane = None  # the reviewer left the plane open: nothing to learn for it
    dataset.save(make_record(image, "scan0.png"), image, proposal)
    planes = ("trans-thalamic", "transperineal", "trans-ventricular")
    assert [s.planes for s in read_dataset(root, planes)] == [(), (1,)]


def _plane_folder(root: Path, planes: list[str], split: str = "train") -> Path:
    """Plane labels only (the fetal-us-planes layout): no masks, no labels.json."""
    (root / "images").mkdir(parents=True)
    lines = ["id,image,split,plane,source_dataset"]
    for index, plane in enumerate(planes):
        image = np.random.default_rng(100 + index).integers(0, 90, (SIZE, SIZE), dtype=np.uint8)
        Image.fromarray(image).save(root / "images" / f"p{index}.png")
        lines.append(f"p{index},images/p{index}.png,{split},{plane},planes")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def test_plane_only_images_and_made_up_negatives_train_the_whole_scan(tmp_path):
    """Masks from one folder, planes from another (a coarse "brain" among them), made-up
    non-ultrasound images as "other": the model learns all planes and keeps its routing."""
    masks = _layout(tmp_path / "masks")
    planes = _plane_folder(tmp_path / "planes", ["abdomen", "femur", "brain", "thorax"] * 2)
    printed = _train(
        "--data", str(masks), str(planes), "--out", str(tmp_path / "m.pt"), "--epochs", "2",
        "--negatives", "8",
    )  # fmt: skip
    assert "(+8 / 2 made-up non-ultrasound images)" in printed
    weights = load_weights(tmp_path / "m.pt")
    assert "abdomen" in weights.planes and "other" in weights.planes
    assert weights.plane_structures["transperineal"] == ("fetal_head", "pubic_symphysis")
    assert "abdomen" not in weights.plane_structures and weights.min_plane_score > 0
    assert "+8 made-up non-ultrasound images" in weights.training_data
    assert {"plane_accuracy", "plane_ece"} <= set(weights.validation_metrics)


def test_a_held_out_tail_keeps_whole_recordings_apart():
    from napari_fada.data.shared_layout import ReferenceSample
    from napari_fada.training.data import HOLDOUT_GAP, Sample, hold_out_tail, split_samples

    def sample(index: int, source: str) -> Sample:
        reference = ReferenceSample(
            f"{source}{index}", Path("i.png"), None, {}, None, None, "", "", None, None,
            "val" if index % 10 == 0 else "train", source, "",
        )  # fmt: skip
        return Sample(reference, (), f"{source}{index}")

    samples = [sample(i, "PSFHS") for i in range(100)] + [sample(i, "HC18") for i in range(5)]
    kept = hold_out_tail(samples, "PSFHS", 30)
    held = [s.reference.image_id for s in kept if s.split == "holdout"]
    assert held == [f"PSFHS{i}" for i in range(70, 100)]
    assert len(kept) == len(samples) - HOLDOUT_GAP
    train, val = split_samples(kept)
    ids = {s.reference.image_id for s in train + val}
    assert not ids & {f"PSFHS{i}" for i in range(70 - HOLDOUT_GAP, 100)}
    with pytest.raises(DatasetError, match="cannot hold out"):
        hold_out_tail(samples, "HC18", 3)


def test_a_dataset_without_val_rows_validates_on_other_images_or_refuses(tmp_path):
    from napari_fada.data.shared_layout import ReferenceSample
    from napari_fada.training.data import Sample, split_samples, too_small

    def sample(group: str, width: int = 64) -> Sample:
        reference = ReferenceSample(
            group, Path("i.png"), None, {}, width, 64, "", "", None, None, "", "", ""
        )
        return Sample(reference, (), group)

    train, val = split_samples([sample("clip1"), sample("clip2")])
    assert len(train) == len(val) == 1 and train[0].group != val[0].group
    with pytest.raises(DatasetError, match="one clip or file"):
        split_samples([sample("clip1"), sample("clip1")])
    assert too_small(sample("icon", width=8)) and not too_small(sample("scan"))


def test_tiny_images_are_left_out_of_training(tmp_path):
    folder = _saved_dataset(tmp_path / "ds", count=6)
    tiny = np.full((8, 8), 90, dtype=np.uint8)
    _, proposal = _scene(0)
    Dataset.open(folder).save(
        make_record(tiny, "icon.png"), tiny, Proposal(8, 8, plane=proposal.plane)
    )
    printed = _train("--data", str(folder), "--out", str(tmp_path / "m.pt"), "--epochs", "1")
    assert "left out 1 image(s) under 32 px on a side: icon" in printed


def test_a_temperature_fit_that_fails_leaves_the_probabilities_as_they_are():
    from napari_fada.training.loop import fit_temperature

    separated = torch.tensor([[50.0, -50.0], [-50.0, 50.0]])
    allowed = torch.tensor([[True, False], [False, True]])
    assert 0.05 <= fit_temperature(separated, allowed) <= 20.0
    assert fit_temperature(torch.full((2, 2), float("nan")), allowed) == 1.0
