"""COCO, YOLO and label-PNG folders imported into a dataset as proposals to review."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.core.polygon_fill import fill_polygon
from napari_fada.core.proposal import Annotation, ImageRecord, PlaneCall, Proposal
from napari_fada.data.dataset import Dataset
from napari_fada.data.importers.coco import COCO_SOURCE
from napari_fada.data.importers.label_png import LABEL_PNG_SOURCE
from napari_fada.data.importers.to_dataset import import_folder, import_steps
from napari_fada.data.importers.yolo import YOLO_SOURCE
from napari_fada.errors import DatasetError
from napari_fada.review.queue import ReviewQueue

HEAD = "hc18_010_HC"


def write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def gray(value: int, height: int = 20, width: int = 30) -> np.ndarray:
    return (np.arange(height * width).reshape(height, width) % 200 + value).astype(np.uint8)


def loaded(dataset: Dataset, image_id: str) -> Proposal:
    found = dataset.load(image_id)
    assert found is not None
    return found[1]


def test_the_shared_samples_import_as_unreviewed_proposals(tmp_path: Path, samples_dir) -> None:
    steps = list(import_steps(samples_dir, tmp_path / "review", annotator="ana"))
    assert steps[-1] == (20, 20)
    dataset = Dataset.open(tmp_path / "review")
    assert len(dataset.records()) == 20
    assert ReviewQueue(dataset).counts()["unreviewed"] == 20
    record, proposal = dataset.load(HEAD)  # type: ignore[misc]
    assert (record.width, record.height, record.split) == (800, 540, "sample")
    assert record.pixel_spacing_mm == pytest.approx((0.0799351646787,) * 2)
    source = np.asarray(Image.open(samples_dir / "images" / f"{HEAD}.png"))
    assert np.array_equal(dataset.image(HEAD), source)
    assert proposal.plane == PlaneCall("BPD_PLANE", source=LABEL_PNG_SOURCE)
    assert {(a.label, a.status, a.source) for a in proposal.annotations} == {
        ("head", "proposed", LABEL_PNG_SOURCE)
    }
    mask = np.asarray(Image.open(samples_dir / "masks" / f"{HEAD}.png"))
    drawn = np.zeros(mask.shape, dtype=bool)
    for annotation in proposal.annotations:
        drawn |= fill_polygon(annotation.polygon or [], 800, 540)
    assert np.array_equal(drawn, mask == 3)  # 3 is "head" in labels.json


def test_reimporting_resumes_and_never_undoes_review_work(tmp_path: Path, samples_dir) -> None:
    source = tmp_path / "labels"
    for folder in ("images", "masks"):
        for image_id in (HEAD, "psfhs_03744"):
            target = source / folder / f"{image_id}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(samples_dir / folder / f"{image_id}.png", target)
    shutil.copy(samples_dir / "labels.json", source / "labels.json")  # no manifest: paired
    dataset = import_folder(source, tmp_path / "review")
    assert sorted(r.image_id for r in dataset.records()) == [HEAD, "psfhs_03744"]
    assert {a.label for a in loaded(dataset, "psfhs_03744").annotations} == {
        "fetal_head",
        "pubic_symphysis",
    }
    record, proposal = dataset.load(HEAD)  # type: ignore[misc]
    reviewed = [a.with_status("accepted") for a in proposal.annotations]
    dataset.save(record, dataset.image(HEAD), Proposal(800, 540, annotations=reviewed))
    again = import_folder(source, tmp_path / "review")
    assert {a.status for a in loaded(again, HEAD).annotations} == {"accepted"}
    assert len(again.records()) == 2


def coco_document() -> dict:
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 30, "height": 20, "plane": "head"},
            {"id": 2, "file_name": "scans/b.png", "width": 30, "height": 20},
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 3,
                "bbox": [2, 3, 10, 8],
                "segmentation": [[2, 3, 12, 3, 12, 11], [20, 1, 21, 1, 21, 2]],
                "score": 0.25,
            },
            {
                "id": 11,
                "image_id": 1,
                "category_id": 5,
                "bbox": [0, 0, 4, 4],
                "segmentation": {"size": [20, 30], "counts": "abc"},
                "keypoints": [1, 2, 2, 3, 4, 1],
            },
        ],
        "categories": [{"id": 3, "name": "head"}, {"id": 5, "name": "CSP"}],
    }


def test_coco_boxes_polygons_keypoints_scores_and_plane(tmp_path: Path) -> None:
    source = tmp_path / "coco"
    write_png(source / "images" / "a.png", gray(1))
    write_png(source / "elsewhere" / "b.png", gray(2))  # found by its file name
    (source / "annotations").mkdir()
    (source / "annotations" / "instances.json").write_text(json.dumps(coco_document()))
    dataset = import_folder(source, tmp_path / "review")
    assert [r.image_id for r in dataset.records()] == ["a", "b"]
    first = loaded(dataset, "a")
    assert first.plane == PlaneCall("head", source=COCO_SOURCE)
    head, csp = first.annotations
    assert (head.label, head.box, head.score) == ("head", (2, 3, 12, 11), 0.25)
    assert head.source == COCO_SOURCE
    assert head.polygon == [(2, 3), (12, 3), (12, 11)]  # the largest part
    assert head.flags == ["coco_polygon_parts_dropped"]
    assert (csp.polygon, csp.keypoints) == (None, [(1, 2, 2), (3, 4, 1)])
    assert csp.flags == ["coco_rle_mask_not_imported"]
    assert loaded(dataset, "b").annotations == []


def test_coco_listing_a_missing_image_names_it(tmp_path: Path) -> None:
    document = coco_document()
    document["images"] = document["images"][1:]
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "labels.json").write_text(json.dumps(document))
    with pytest.raises(DatasetError, match=r"scans/b\.png"):
        import_folder(tmp_path / "coco", tmp_path / "review")


def test_yolo_boxes_with_confidence_polygons_and_class_names(tmp_path: Path) -> None:
    source = tmp_path / "yolo"
    write_png(source / "images" / "train" / "a.png", gray(1, height=20, width=40))
    write_png(source / "images" / "val" / "b.png", gray(2))
    (source / "labels" / "train").mkdir(parents=True)
    (source / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.25 0.5 0.75\n\n2 0.1 0.1 0.6 0.1 0.6 0.9\n"
    )
    (source / "data.yaml").write_text("names:\n  0: head\n  1: CSP\n  2: Brain\n")
    dataset = import_folder(source, tmp_path / "review")
    records = {r.image_id: r for r in dataset.records()}
    assert (records["a"].split, records["b"].split) == ("train", "val")
    box, brain = loaded(dataset, "a").annotations
    assert (box.label, box.box, box.score) == ("head", (15, 5, 25, 15), 0.75)
    assert box.source == YOLO_SOURCE
    assert brain.label == "Brain"
    assert np.allclose(brain.polygon or [], [(4, 2), (24, 2), (24, 18)])
    assert loaded(dataset, "b").annotations == []


def test_a_malformed_yolo_line_names_its_file_and_line(tmp_path: Path) -> None:
    source = tmp_path / "yolo"
    write_png(source / "images" / "a.png", gray(1))
    (source / "labels").mkdir()
    (source / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.5 0.5\n")
    with pytest.raises(DatasetError, match=r"a\.txt is malformed \(line 2"):
        import_folder(source, tmp_path / "review")
    assert not (tmp_path / "review" / "annotations").exists()  # nothing half imported


def exported_dataset(tmp_path: Path) -> Dataset:
    """A dataset of ours with a kept polygon and box, to export and import back."""
    dataset = Dataset.open(tmp_path / "ours")
    annotations = [
        Annotation("Brain", polygon=[(2, 2), (20, 3), (18, 15)], status="accepted"),
        Annotation("CSP", box=(5, 6, 9, 12), status="edited", score=0.5),
    ]
    dataset.save(ImageRecord("scan", 30, 20), gray(3), Proposal(30, 20, annotations=annotations))
    return dataset


@pytest.mark.parametrize("layout", ["coco", "yolo"])
def test_our_own_exports_import_back(tmp_path: Path, layout: str) -> None:
    ours = exported_dataset(tmp_path).root
    source = tmp_path / layout
    shutil.copytree(ours / "images", source / "images")
    if layout == "coco":
        shutil.copy(ours / "coco.json", source / "coco.json")
    else:
        shutil.copytree(ours / "labels-detect", source / "labels")
        shutil.copy(ours / "data.yaml", source / "data.yaml")
    imported = loaded(import_folder(source, tmp_path / "review"), "scan").annotations
    boxes = {a.label: a.box for a in imported}
    assert boxes["Brain"] == pytest.approx((2, 2, 20, 15), abs=1e-3)
    assert boxes["CSP"] == pytest.approx((5, 6, 9, 12), abs=1e-3)
    if layout == "coco":
        brain = next(a for a in imported if a.label == "Brain")
        assert brain.polygon == [(2, 2), (20, 3), (18, 15)]


def test_folders_that_cannot_be_imported_say_why(tmp_path: Path, samples_dir) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a labelled folder"):
        import_folder(tmp_path / "empty", tmp_path / "review")
    with pytest.raises(DatasetError, match="open it as it is"):
        import_folder(exported_dataset(tmp_path).root, tmp_path / "review")
    with pytest.raises(DatasetError, match="outside it"):
        import_folder(samples_dir, samples_dir / "review")
