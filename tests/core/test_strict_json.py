"""Every JSON file and line we write is strict JSON: NaN and Infinity become null."""

from __future__ import annotations

import json

import numpy as np

from napari_fada.core.atomic import write_json_atomic
from napari_fada.core.proposal import Annotation, Proposal
from napari_fada.data.dataset import Dataset, make_record


def _strict(text: str) -> object:
    def refuse(constant: str) -> float:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_are_written_as_null(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": [float("nan"), 1.5, {"y": float("-inf")}]})
    assert _strict((tmp_path / "a.json").read_text()) == {"x": [None, 1.5, {"y": None}]}


def test_a_saved_dataset_holds_no_nan_whatever_the_model_said(tmp_path):
    image = np.zeros((10, 20), dtype=np.uint8)
    head = Annotation("head", box=(1, 1, 8, 6), score=float("nan"), status="accepted")
    proposal = Proposal(20, 10, annotations=[head], biometry={"bpd_mm": float("inf")})
    Dataset.open(tmp_path / "ds").save(make_record(image, "scan.png"), image, proposal)
    written = [*tmp_path.glob("ds/*.json"), *tmp_path.glob("ds/annotations/*.json")]
    for path in written:
        _strict(path.read_text())
    for line in (tmp_path / "ds" / "fada_finetune.jsonl").read_text().splitlines():
        _strict(line)
    assert len(written) == 4  # labels, coco, dataset and the annotation file
