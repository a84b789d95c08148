"""The exports load in the tools people train with: pycocotools (COCO) and supervision (YOLO)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import supervision as sv
from pycocotools.coco import COCO
from scipy.ndimage import binary_dilation

from napari_fada.core.fada_format import annotation_box
from napari_fada.core.polygon_fill import fill_polygon
from napari_fada.core.vocabulary import structure_id
from napari_fada.data.dataset import Dataset
from napari_fada.data.shared_layout import iter_reference, reference_proposal, reference_record
from tests.data.dataset_case import case_image, case_proposal, case_record


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Dataset:
    """The known case plus every fourth real sample (HC18 heads, PSFHS symphysis and head)."""
    dataset = Dataset.open(tmp_path_factory.mktemp("tools") / "ds")
    dataset.save(case_record(), case_image(), case_proposal())
    for sample in list(iter_reference(samples_dir))[::4]:
        dataset.save(reference_record(sample), sample.image, reference_proposal(sample))
    return dataset


def _kept(dataset: Dataset) -> dict[str, list]:
    return {r.image_id: dataset.load(r.image_id)[1].kept() for r in dataset.records()}


def test_pycocotools_reads_every_instance_and_rasterizes_our_polygons(dataset):
    coco = COCO(str(dataset.root / "coco.json"))
    kept = _kept(dataset)
    assert sorted(img["fada_image_id"] for img in coco.imgs.values()) == sorted(kept)
    for image in coco.imgs.values():
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        expected = kept[image["fada_image_id"]]
        assert [a["category_id"] for a in annotations] == [structure_id(a.label) for a in expected]
        for ann, annotation in zip(annotations, expected, strict=True):
            x0, y0, x1, y1 = annotation_box(annotation)
            assert ann["bbox"] == pytest.approx([x0, y0, x1 - x0, y1 - y0], abs=1e-3)
            if annotation.polygon:
                mask = fill_polygon(annotation.polygon, image["width"], image["height"])
                np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), mask)
    assert coco.getCatIds(catNms=["head"]) == [27]
    assert len(coco.getAnnIds(catIds=[27])) == 1 + 2  # the case's head and two HC18 heads


def _sv_dataset(dataset: Dataset, labels: str, force_masks: bool) -> dict[str, sv.Detections]:
    loaded = sv.DetectionDataset.from_yolo(
        images_directory_path=str(dataset.root / "images"),
        annotations_directory_path=str(dataset.root / labels),
        data_yaml_path=str(dataset.root / "data.yaml"),
        force_masks=force_masks,
    )
    assert loaded.classes[26] == "head" and len(loaded.classes) == 36
    return {Path(path).stem: detections for path, _, detections in loaded}


@pytest.mark.parametrize("force_masks", [False, True])
def test_supervision_reads_yolo_detect_boxes(dataset, force_masks):
    loaded = _sv_dataset(dataset, "labels-detect", force_masks)
    for image_id, kept in _kept(dataset).items():
        detections = loaded[image_id]
        assert detections.class_id.tolist() == [structure_id(a.label) - 1 for a in kept]
        boxes = [annotation_box(a) for a in kept]
        np.testing.assert_allclose(detections.xyxy, boxes, atol=1.0)
        assert (detections.mask is not None) == force_masks


@pytest.mark.parametrize("force_masks", [False, True])
def test_supervision_reads_yolo_segments_within_a_pixel(dataset, force_masks):
    loaded = _sv_dataset(dataset, "labels", force_masks)
    for image_id, kept in _kept(dataset).items():
        polygons = [a for a in kept if a.polygon]
        detections = loaded[image_id]
        assert detections.class_id.tolist() == [structure_id(a.label) - 1 for a in polygons]
        np.testing.assert_allclose(detections.xyxy, [annotation_box(a) for a in polygons], atol=1)
        for mask, annotation in zip(detections.mask, polygons, strict=True):
            ours = fill_polygon(annotation.polygon, mask.shape[1], mask.shape[0])
            square = np.ones((3, 3), dtype=bool)
            assert not (ours & ~binary_dilation(mask, square)).any()
            assert not (mask & ~binary_dilation(ours, square)).any()
