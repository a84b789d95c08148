"""A prompted mask is saved with its prompt model and its prompts, and read back the same."""

from __future__ import annotations

import json
from dataclasses import replace

from napari_fada.core.proposal import PROMPTED_PREFIX, Annotation
from napari_fada.data.dataset import Dataset
from tests.data.dataset_case import MODEL, case_image, case_proposal, case_record

PROMPTS = {
    "model": "fada-prompt-1.0-abc",
    "box": [1.0, 1.0, 9.0, 7.0],
    "points": [{"x": 4.5, "y": 3.5, "positive": True}, {"x": 8.5, "y": 6.5, "positive": False}],
    "from_proposal": True,
}


def test_prompts_and_the_prompt_model_round_trip_through_a_dataset(tmp_path):
    prompted = Annotation(
        label="head",
        polygon=[(1.0, 1.0), (9.0, 1.0), (9.0, 7.0), (1.0, 7.0)],
        source=PROMPTED_PREFIX + "fada-prompt-1.0-abc",
        status="edited",
        parent_id="a1",
        prompts=PROMPTS,
        id="pr1",
    )
    proposal = case_proposal()
    proposal = replace(proposal, annotations=[*proposal.annotations, prompted])
    dataset = Dataset.open(tmp_path / "ds")
    dataset.save(case_record(), case_image(), proposal)

    _, loaded = Dataset.open(tmp_path / "ds").load("scan")
    back = next(a for a in loaded.annotations if a.id == "pr1")
    assert back.prompts == PROMPTS and back.is_prompted and not back.is_manual
    assert back.prompt_model == "fada-prompt-1.0-abc"

    document = json.loads((tmp_path / "ds" / "annotations" / "scan.json").read_text())
    record = next(p for p in document["provenance"] if p["annotation_id"] == "pr1")
    assert record["source"] == "prompted:fada-prompt-1.0-abc"
    assert record["model_id"] == "fada-prompt-1.0-abc" and record["backend"] == "prompt"
    assert record["weights_sha256"] is None  # the proposal model's hashes are not its
    assert record["prompts"] == PROMPTS and record["status"] == "edited"
    assert record["parent_id"] == "a1"
    others = [p for p in document["provenance"] if p["annotation_id"] != "pr1"]
    assert all(p["prompts"] is None for p in others)
    assert {p["model_id"] for p in others} == {MODEL, None}
