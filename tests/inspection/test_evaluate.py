"""The evaluate workflow: any backend or saved proposals, scored against either dataset layout."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.commands.main import main
from napari_fada.core.proposal import PlaneCall, Proposal
from napari_fada.data.shared_layout import iter_reference, reference_proposal, reference_record
from napari_fada.errors import DatasetError
from napari_fada.inspection.evaluate import dataset_items, evaluate_backend, evaluate_proposals
from napari_fada.models.base import Backend, CancelToken, ProgressCallback, ProposeRequest
from tests.scripted_backend import ScriptedBackend

REQUIRED_KEYS = {
    "dice", "mean_dice", "ap50", "map50", "plane_accuracy", "hc_mae_mm", "n_images",
    "plane_confusion", "per_image", "iou",
}  # fmt: skip


class AnsweringBackend(Backend):
    """Answers prepared proposals in the order the images come (the dataset's order)."""

    def __init__(self, answers: list[Proposal]) -> None:
        self.answers = deque(answers)
        self.info = ScriptedBackend().info

    def propose(
        self,
        image: np.ndarray,
        request: ProposeRequest | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Proposal:
        answer = self.answers.popleft()
        assert (answer.width, answer.height) == (image.shape[1], image.shape[0])
        return answer


def truth_answer(sample, plane: str | None) -> Proposal:
    proposal = reference_proposal(sample)
    proposal.plane = PlaneCall(plane) if plane else None
    return proposal


@pytest.fixture(scope="module")
def sample_truths(samples_dir: Path) -> list[tuple[object, Proposal]]:
    return [(s, reference_proposal(s)) for s in iter_reference(samples_dir)]


def write_shared_layout(root: Path) -> Path:
    """Two 100 x 100 images with masks whose scores against ScriptedBackend are hand-computed."""
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    names = {"1": "head", "2": "LV", "3": "fetal_head"}
    (root / "labels.json").write_text(json.dumps({"structures": names}))
    first = np.zeros((100, 100), np.uint8)
    first[15:85, 20:80] = 1  # head: the box (20, 15, 80, 85) around ScriptedBackend's diamond
    first[30:38, 30:42] = 2  # LV: exactly ScriptedBackend's square (30, 30)-(42, 38)
    second = np.zeros((100, 100), np.uint8)
    second[10:50, 10:50] = 3  # fetal_head only
    rows = ["id,image,mask,split,plane,fada_plane_label,pixel_size_mm,head_circumference_mm"]
    planes = [("trans-thalamic", "BPD_PLANE", "0.5", "100"), ("transperineal", "", "", "")]
    for index, (mask, plane) in enumerate(zip((first, second), planes, strict=True)):
        image_id = f"img{index}"
        Image.fromarray(np.full((100, 100), 40, np.uint8)).save(root / "images" / f"{image_id}.png")
        Image.fromarray(mask).save(root / "masks" / f"{image_id}.png")
        rows.append(f"{image_id},images/{image_id}.png,masks/{image_id}.png,val,{','.join(plane)}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_ground_truth_answers_score_perfectly(samples_dir: Path, sample_truths) -> None:
    answers = [truth_answer(sample, sample.plane) for sample, _ in sample_truths]
    report = evaluate_backend(AnsweringBackend(answers), samples_dir)
    assert report.n_images == 20
    assert set(report.dice) == {"pubic_symphysis", "fetal_head", "head", "Brain", "CSP", "LV"}
    assert all(value == pytest.approx(1.0) for value in report.dice.values())
    assert report.mean_dice == pytest.approx(1.0)
    assert report.map50 == pytest.approx(1.0)
    assert report.plane_accuracy == 1.0
    # HC of the ellipse fitted to the true head masks against HC18's published values.
    assert report.hc_mae_mm is not None and report.hc_mae_mm < 1.5
    assert all(r.hc_predicted_mm is not None for r in report.per_image if r.hc_reference_mm)


def test_fada_plane_labels_count_as_right(samples_dir: Path, sample_truths) -> None:
    answers = [truth_answer(s, s.fada_plane_label or s.plane) for s, _ in sample_truths]
    report = evaluate_backend(AnsweringBackend(answers), samples_dir, limit=8)
    assert report.n_images == 8
    assert report.plane_accuracy == 1.0
    assert report.plane_confusion["trans-thalamic"] == {"BPD_PLANE": 7}


def test_scripted_backend_gets_hand_computed_scores(tmp_path: Path) -> None:
    root = write_shared_layout(tmp_path / "data")
    report = evaluate_backend(ScriptedBackend(), root)
    assert report.n_images == 2
    # head: diamond in its bounding rectangle (Dice 2/3, IoU 1/2), then invented (0);
    # LV: exact, then invented; fetal_head: missed. CSP is a box only, and not in the truth.
    assert report.dice == pytest.approx({"LV": 0.5, "fetal_head": 0.0, "head": 1 / 3}, abs=0.01)
    assert report.iou == pytest.approx({"LV": 0.5, "fetal_head": 0.0, "head": 0.25}, abs=0.01)
    assert report.mean_dice == pytest.approx((0.5 + 1 / 3) / 3, abs=0.01)
    # Boxes: head and LV found in the first image (ranked first) and invented in the second:
    # precision 1 up to recall 1, so AP 1; fetal_head never found.
    assert report.ap50 == pytest.approx({"LV": 1.0, "fetal_head": 0.0, "head": 1.0})
    assert report.map50 == pytest.approx(2 / 3)
    assert report.plane_accuracy == 0.5
    assert report.plane_confusion == {
        "trans-thalamic": {"BPD_PLANE": 1},
        "transperineal": {"BPD_PLANE": 1},
    }
    first, second = report.per_image
    assert first.plane_correct and not second.plane_correct
    assert second.dice == {"LV": 0.0, "fetal_head": 0.0, "head": 0.0}
    assert first.hc_predicted_mm is not None and second.hc_reference_mm is None
    assert report.hc_mae_mm == pytest.approx(abs(first.hc_predicted_mm - 100.0))


def test_scripted_backend_on_the_samples(samples_dir: Path) -> None:
    report = evaluate_backend(ScriptedBackend(), samples_dir)
    # BPD_PLANE is right for the 7 HC18 and 3 brain images, wrong for the 10 PSFHS ones.
    assert report.plane_accuracy == 0.5
    assert report.dice["pubic_symphysis"] == report.dice["fetal_head"] == 0.0
    assert report.ap50["pubic_symphysis"] == report.ap50["fetal_head"] == 0.0
    # head is proposed on every image, but only HC18 labels it: it is scored on those 7 only
    # (the other sources leave the skull unlabelled, so a head there is not counted wrong).
    hc18 = [r.dice["head"] for r in report.per_image if r.hc_reference_mm is not None]
    assert len(hc18) == 7 and 0.3 < np.mean(hc18) < 1.0
    assert report.dice["head"] == pytest.approx(np.mean(hc18))
    assert sum("head" in r.dice for r in report.per_image) == 7
    assert 0.0 < report.mean_dice < 0.2


def test_cli_writes_json_report(tmp_path: Path, monkeypatch, capsys) -> None:
    root = write_shared_layout(tmp_path / "data")
    monkeypatch.setattr("napari_fada.commands.evaluate.load_model", lambda args: ScriptedBackend())
    out = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(root), "--split", "val", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report.keys() >= REQUIRED_KEYS
    assert report["n_images"] == 2
    assert report["map50"] == pytest.approx(2 / 3)
    assert len(report["per_image"]) == 2
    table = capsys.readouterr().out
    assert "plane accuracy" in table and "fetal_head" in table


def test_cli_reports_bad_data_without_traceback(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--data", str(tmp_path)]) == 2
    assert "no manifest.csv" in capsys.readouterr().err
    root = write_shared_layout(tmp_path / "data")
    assert main(["evaluate", "--data", str(root), "--split", "test"]) == 2
    assert "no images in split 'test'" in capsys.readouterr().err


def test_saved_dataset_is_scored_from_its_annotation_files(tmp_path: Path, sample_truths) -> None:
    from napari_fada.data.dataset import Dataset

    dataset = Dataset.open(tmp_path / "saved")
    chosen = [sample_truths[i] for i in (0, 7, 17)]  # one HC18, one PSFHS, one brain image
    for sample, truth in chosen:
        dataset.save(reference_record(sample), sample.image, truth)
    truths = {sample.image_id: truth for sample, truth in chosen}
    order = [item.image_id for item in dataset_items(tmp_path / "saved")]
    assert sorted(order) == sorted(truths)
    report = evaluate_backend(AnsweringBackend([truths[i] for i in order]), tmp_path / "saved")
    assert report.n_images == 3
    assert all(value == pytest.approx(1.0) for value in report.dice.values())
    assert report.map50 == pytest.approx(1.0)
    # The plane truth is the accepted plane call: BPD_PLANE for two, none for PSFHS.
    assert report.plane_accuracy == 1.0
    assert sum(r.plane_correct is not None for r in report.per_image) == 2
    assert report.hc_mae_mm is not None and report.hc_mae_mm < 1.5


def test_saved_proposals_are_scored_against_a_dataset(tmp_path: Path) -> None:
    root = write_shared_layout(tmp_path / "data")
    image = np.zeros((100, 100), np.uint8)
    predictions = {"img0": ScriptedBackend().propose(image)}
    report = evaluate_proposals(predictions, root)
    assert report.n_images == 1 and report.n_skipped == 1
    assert report.dice["LV"] == pytest.approx(1.0, abs=0.01)  # traced outlines cut corners
    assert "1 references without a prediction" in report.format_table()
    with pytest.raises(DatasetError, match="image ids"):
        evaluate_proposals({"other": predictions["img0"]}, root)
    wrong_size = {"img0": ScriptedBackend().propose(np.zeros((50, 60), np.uint8))}
    with pytest.raises(DatasetError, match="60x50"):
        evaluate_proposals(wrong_size, root)


def _plane_only_folder(root: Path, planes: list[tuple[str, str]]) -> Path:
    """The fetal-us-planes layout: images/ and a manifest with a plane per row, no masks."""
    (root / "images").mkdir(parents=True)
    lines = ["id,image,source_dataset,split,plane"]
    for index, (source, plane) in enumerate(planes):
        image = np.random.default_rng(index).integers(0, 255, (40, 50), dtype=np.uint8)
        Image.fromarray(image).save(root / "images" / f"p{index}.png")
        lines.append(f"p{index},images/p{index}.png,{source},val,{plane}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def test_a_plane_only_dataset_scores_planes_spurious_shapes_and_calibration(tmp_path: Path):
    """ScriptedBackend calls every image BPD_PLANE at 0.88 and draws a head, CSP and LV on it."""
    root = _plane_only_folder(
        tmp_path / "planes",
        [("A", "abdomen"), ("A", "brain"), ("B", "femur"), ("B", "brain"), ("B", "other")],
    )
    report = evaluate_backend(ScriptedBackend(plane="trans-thalamic"), root)
    # "brain" is any head plane: trans-thalamic is right there, wrong elsewhere.
    assert report.plane_accuracy == pytest.approx(2 / 5)
    assert report.plane_confusion["brain"] == {"trans-thalamic": 2}
    # Shapes on the abdomen, the femur and the other view are spurious; brains may have them.
    assert report.spurious_rate == 1.0
    assert [r.spurious for r in report.per_image] == [3, None, 3, None, 3]
    assert report.dice == {}  # nothing is outlined in a plane-only folder
    assert report.ece == pytest.approx(abs(0.88 - 2 / 5))
    assert report.per_source["A"]["plane_accuracy"] == 0.5
    assert report.per_source["B"]["n_images"] == 3
    figures = json.loads(report.to_json())
    assert {"plane_confusion", "spurious_rate", "ece", "per_source"} <= set(figures)
