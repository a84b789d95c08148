"""Exact contents of every export of the small known case (tests/data/dataset_case.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.core.prompts import (
    classify_prompt,
    detect_prompt,
    interpret_prompt,
    segment_prompt,
)
from napari_fada.core.vocabulary import STRUCTURES
from napari_fada.data.dataset import Dataset
from tests.data.dataset_case import (
    CONFIG,
    CREATED,
    EDITED,
    MODEL,
    WEIGHTS,
    case_image,
    case_interpretation,
    case_proposal,
    case_record,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dataset = Dataset.open(tmp_path / "ds")
    dataset.save(case_record(), case_image(), case_proposal())
    return dataset.root


def _provenance(ident: str, status: str, source: str, parent: str | None = None) -> dict:
    from_model = source == MODEL
    return {
        "annotation_id": ident, "parent_id": parent, "proposal_id": "prop1",
        "image_sha256": "f" * 64, "source": source, "status": status,
        "model_id": MODEL if from_model else None, "backend": "scripted" if from_model else None,
        "weights_sha256": WEIGHTS if from_model else None,
        "config_sha256": CONFIG if from_model else None, "score": 0.9 if from_model else None,
        "annotator": "ann", "created": CREATED, "edited": EDITED, "time_spent_s": 1.5,
        "flags": [], "prompts": None,
    }  # fmt: skip


def test_coco_holds_kept_instances_and_rejected_ones_apart(root):
    coco = json.loads((root / "coco.json").read_text())
    assert coco["images"] == [
        {
            "id": 1, "file_name": "images/scan.png", "width": 20, "height": 10,
            "fada_image_id": "scan", "sha256": "f" * 64, "plane": "BPD_PLANE",
            "plane_score": 0.8, "plane_source": MODEL, "plane_status": "accepted",
            "pixel_spacing_mm": [0.1, 0.1], "source_path": "/scans/scan.png", "clip_id": None,
            "frame_index": None, "split": "train",
        }
    ]  # fmt: skip
    base = {"image_id": 1, "iscrowd": 0}
    assert coco["annotations"] == [
        {"id": 1, **base, "category_id": 27, "bbox": [2.0, 2.0, 6.0, 4.0],
         "segmentation": [[2.0, 2.0, 8.0, 2.0, 8.0, 6.0, 2.0, 6.0]], "area": 24.0, "score": 0.9,
         "provenance": _provenance("a1", "accepted", MODEL)},
        {"id": 2, **base, "category_id": 7, "bbox": [10.0, 1.0, 4.0, 4.0], "segmentation": [],
         "area": 16.0, "score": 0.9, "provenance": _provenance("a2", "edited", MODEL, "p0")},
        {"id": 3, **base, "category_id": 3, "bbox": [12.0, 5.0, 6.0, 4.0],
         "segmentation": [[12.0, 5.0, 18.0, 5.0, 18.0, 9.0, 12.0, 9.0]], "area": 24.0,
         "score": None, "provenance": _provenance("a4", "accepted", "manual")},
        {"id": 4, **base, "category_id": 6, "bbox": [3.0, 3.0, 4.0, 2.0], "segmentation": [],
         "area": 8.0, "score": None, "keypoints": [3.0, 3.0, 2.0, 7.0, 5.0, 2.0],
         "num_keypoints": 2, "provenance": _provenance("a6", "accepted", "manual")},
    ]  # fmt: skip
    assert coco["rejected_annotations"] == [
        {"id": 1, **base, "category_id": 11, "bbox": [1.0, 1.0, 4.0, 4.0],
         "segmentation": [[1.0, 1.0, 5.0, 1.0, 3.0, 5.0]], "area": 8.0, "score": 0.9,
         "provenance": _provenance("a3", "rejected", MODEL)},
    ]  # fmt: skip
    assert coco["categories"] == [
        {"id": i, "name": name, "supercategory": "fetal_ultrasound"}
        for i, name in enumerate(STRUCTURES, start=1)
    ]


def test_annotation_file_keeps_provenance_of_every_annotation(root):
    document = json.loads((root / "annotations" / "scan.json").read_text())
    assert document["provenance"] == [
        _provenance("a1", "accepted", MODEL),
        _provenance("a2", "edited", MODEL, "p0"),
        _provenance("a3", "rejected", MODEL),
        _provenance("a4", "accepted", "manual"),
        {**_provenance("a5", "proposed", MODEL), "edited": None},
        _provenance("a6", "accepted", "manual"),
    ]
    assert document["proposal"]["issues"] == ["clamped one box"]
    assert document["proposal"]["raw_answers"] == {"classify": '{"label": "BPD_PLANE"}'}


def test_yolo_segment_and_detect_labels(root):
    assert (root / "labels" / "scan.txt").read_text() == (
        "26 0.100000 0.200000 0.400000 0.200000 0.400000 0.600000 0.100000 0.600000\n"
        "2 0.600000 0.500000 0.900000 0.500000 0.900000 0.900000 0.600000 0.900000\n"
    )
    assert (root / "labels-detect" / "scan.txt").read_text() == (
        "26 0.250000 0.400000 0.300000 0.400000\n"
        "6 0.600000 0.300000 0.200000 0.400000\n"
        "2 0.750000 0.700000 0.300000 0.400000\n"
        "5 0.250000 0.400000 0.200000 0.200000\n"
    )
    data_yaml = (root / "data.yaml").read_text()
    assert data_yaml.startswith("path: .\ntrain: images\nval: images\nnc: 36\nnames:\n  0: AB\n")
    assert "\n  26: head\n" in data_yaml and data_yaml.endswith("  35: vein\n")


def test_label_png_paints_kept_polygons_only(root):
    expected = np.zeros((10, 20), dtype=np.uint8)
    expected[2:6, 2:8] = 27  # head
    expected[5:9, 12:18] = 3  # Brain (manual); CSP is a box, LV rejected, CRL_KP keypoints
    np.testing.assert_array_equal(np.asarray(Image.open(root / "masks" / "scan.png")), expected)
    labels = json.loads((root / "labels.json").read_text())["structures"]
    assert labels == {str(i): name for i, name in enumerate(STRUCTURES, start=1)}


def test_planes_csv(root):
    assert (root / "planes.csv").read_text() == (
        "image_id,plane_label,score,source,status\nscan,BPD_PLANE,0.8,fada-0.8b,accepted\n"
    )


def test_fada_jsonl_has_one_chat_per_task_in_the_contract_form(root):
    samples = [json.loads(line) for line in (root / "fada_finetune.jsonl").open()]
    reviewed = ["Brain", "CRL_KP", "CSP", "LV", "head"]
    segmented = ["Brain", "CRL_KP", "LV", "head"]  # CSP was kept as a box only
    expected = [
        ("classify", classify_prompt(), '{"label": "BPD_PLANE"}'),
        (
            "detect",
            detect_prompt(reviewed),
            '[{"bbox_2d": [100, 200, 400, 600], "label": "head"}, '
            '{"bbox_2d": [500, 100, 700, 500], "label": "CSP"}, '
            '{"bbox_2d": [600, 500, 900, 900], "label": "Brain"}, '
            '{"bbox_2d": [150, 300, 350, 500], "label": "CRL_KP"}]',
        ),
        (
            "segment",
            segment_prompt(segmented),
            '[{"bbox_2d": [100, 200, 400, 600], "label": "head", '
            '"mask": [[100, 200], [400, 200], [400, 600], [100, 600]]}, '
            '{"bbox_2d": [600, 500, 900, 900], "label": "Brain", '
            '"mask": [[600, 500], [900, 500], [900, 900], [600, 900]]}, '
            '{"bbox_2d": [150, 300, 350, 500], "label": "CRL_KP", '
            '"keypoints": [[150, 300, 2], [350, 500, 2]]}]',
        ),
        ("interpret", interpret_prompt(), json.dumps(case_interpretation())),
    ]
    assert samples == [
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "image": "images/scan.png"},
                        {"type": "text", "text": prompt},
                    ],
                },
                {"role": "assistant", "content": answer},
            ],
            "image_id": "scan",
            "task": task,
        }
        for task, prompt, answer in expected
    ]


def test_unreviewed_proposal_gives_no_finetuning_samples(tmp_path):
    proposal = case_proposal()
    proposal.plane.status = "proposed"
    proposal.interpretation = {"imaging_plane": "trans-thalamic"}
    for annotation in proposal.annotations:
        annotation.status = "proposed"
    dataset = Dataset.open(tmp_path / "ds")
    dataset.save(case_record(), case_image(), proposal)
    assert (dataset.root / "fada_finetune.jsonl").read_text() == ""
    assert (dataset.root / "labels" / "scan.txt").read_text() == ""
    assert not np.asarray(Image.open(dataset.root / "masks" / "scan.png")).any()
    planes = (dataset.root / "planes.csv").read_text()
    assert planes.endswith("\nscan,BPD_PLANE,0.8,fada-0.8b,proposed\n")
