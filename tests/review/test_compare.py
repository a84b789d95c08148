"""Disagreement between two labelings of an image, exactly, and comparisons loaded from folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.core.proposal import Annotation, ImageRecord, PlaneCall, Proposal
from napari_fada.data.dataset import Dataset, pixel_sha256
from napari_fada.errors import DatasetError
from napari_fada.review.compare import disagreement, load_comparison


def labels(*annotations: Annotation, plane: str | None = None, size: int = 100) -> Proposal:
    call = PlaneCall(plane) if plane else None
    return Proposal(size, size, annotations=list(annotations), plane=call)


def head(x0: float, x1: float, **kw) -> Annotation:
    return Annotation("head", box=(x0, 0.0, x1, 10.0), **kw)


def test_identical_labels_agree_and_disjoint_ones_disagree() -> None:
    assert disagreement(labels(head(0, 10)), labels(head(0, 10))) == 0.0
    assert disagreement(labels(head(0, 10)), labels(head(50, 60))) == 1.0
    assert disagreement(labels(head(0, 10)), labels(Annotation("CSP", box=(0, 0, 10, 10)))) == 1.0
    assert disagreement(labels(), labels()) == 0.0


def test_overlap_and_plane_count_exactly() -> None:
    # boxes 0..10 and 5..15 on a 100-pixel image: 100 and 100 canvas pixels sharing 50 -> 1/3
    assert disagreement(labels(head(0, 10)), labels(head(5, 15))) == pytest.approx(2 / 3)
    mixed = disagreement(labels(head(0, 10), plane="head"), labels(head(5, 15), plane="AC_PLANE"))
    assert mixed == pytest.approx(1 - (1 / 3 + 0) / 2)
    same_plane = disagreement(labels(plane="head"), labels(plane="head"))
    assert same_plane == 0.0


def test_polygons_compare_by_area_and_rejected_labels_do_not_count() -> None:
    square = Annotation("Brain", polygon=[(0, 0), (20, 0), (20, 20), (0, 20)])
    half = Annotation("Brain", polygon=[(0, 0), (10, 0), (10, 20), (0, 20)])
    assert disagreement(labels(square), labels(half)) == pytest.approx(0.5)
    rejected = head(50, 60, status="rejected")
    assert disagreement(labels(square, rejected), labels(square)) == 0.0


def test_images_of_another_size_compare_on_the_common_canvas() -> None:
    small = labels(Annotation("head", box=(0, 0, 10, 10)), size=100)
    large = labels(Annotation("head", box=(0, 0, 20, 20)), size=200)
    assert disagreement(small, large) == 0.0


def write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_comparison_from_a_dataset_and_from_a_coco_folder_finds_images_by_pixels(
    tmp_path: Path,
) -> None:
    pixels = np.arange(100, dtype=np.uint8).reshape(10, 10)
    dataset = Dataset.open(tmp_path / "model-b")
    dataset.save(ImageRecord("scan", 10, 10), pixels, labels(head(0, 5), size=10))
    found = load_comparison(tmp_path / "model-b")
    assert found.find(ImageRecord("renamed", 10, 10, pixel_sha256(pixels))) is not None
    assert found.find(ImageRecord("scan", 10, 10, "0" * 64)) is not None  # by id
    assert found.find(ImageRecord("other", 10, 10, "0" * 64)) is None

    coco = tmp_path / "coco"
    write_png(coco / "images" / "x.png", pixels)
    document = {
        "images": [{"id": 7, "file_name": "images/x.png", "width": 10, "height": 10}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [0, 0, 5, 10]}],
        "categories": [{"id": 3, "name": "head"}],
    }
    (coco / "instances.json").write_text(json.dumps(document))
    theirs = load_comparison(coco).find(ImageRecord("renamed", 10, 10, pixel_sha256(pixels)))
    assert theirs is not None
    assert [(a.label, a.box) for a in theirs.annotations] == [("head", (0.0, 0.0, 5.0, 10.0))]


def test_comparing_with_an_empty_or_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        load_comparison(tmp_path / "missing")
    Dataset.open(tmp_path / "empty")
    with pytest.raises(DatasetError, match="no labelled images"):
        load_comparison(tmp_path / "empty")
