"""FADA fine-tuning samples: one chat per image and task, answers in the contract's JSON form.

A task gets a sample only when a person's review says what its answer is:

- classify: the plane call was accepted or edited;
- detect: some annotation was reviewed (kept or rejected). The prompt names the reviewed
  labels; the answer lists the kept instances, so a label that was only rejected teaches
  "not there";
- segment: as detect, over labels whose kept instances all have a polygon or keypoints (a
  label with a kept box-only instance would be answered incompletely, so it is left out);
- interpret: the interpretation has FADA's eight keys.
"""

from __future__ import annotations

import json
from typing import Any

from napari_fada.core.fada_format import (
    classify_answer,
    detect_answer,
    interpret_answer,
    segment_answer,
)
from napari_fada.core.prompts import (
    classify_prompt,
    detect_prompt,
    interpret_prompt,
    segment_prompt,
)
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.core.vocabulary import INTERPRETATION_KEYS, structure_id


def _labels(annotations: list[Annotation]) -> list[str]:
    return sorted({a.label for a in annotations}, key=structure_id)


def _sample(record: ImageRecord, task: str, prompt: str, answer: str) -> dict[str, Any]:
    image = {"type": "image", "image": f"images/{record.image_id}.png"}
    return {
        "messages": [
            {"role": "user", "content": [image, {"type": "text", "text": prompt}]},
            {"role": "assistant", "content": answer},
        ],
        "image_id": record.image_id,
        "task": task,
    }


def _segmentable(annotation: Annotation) -> bool:
    return bool((annotation.polygon and len(annotation.polygon) >= 3) or annotation.keypoints)


def finetune_samples(record: ImageRecord, proposal: Proposal) -> list[dict[str, Any]]:
    """The image's samples in task order: classify, detect, segment, interpret."""
    w, h = proposal.width, proposal.height
    samples = []
    plane = proposal.plane
    if plane is not None and plane.status in ("accepted", "edited"):
        samples.append(_sample(record, "classify", classify_prompt(), classify_answer(plane.label)))
    kept = proposal.kept()
    reviewed = kept + [a for a in proposal.annotations if a.status == "rejected"]
    if reviewed:
        labels = _labels(reviewed)
        samples.append(_sample(record, "detect", detect_prompt(labels), detect_answer(kept, w, h)))
        incomplete = {a.label for a in kept if not _segmentable(a)}
        labels = [label for label in labels if label not in incomplete]
        if labels:
            answer = segment_answer([a for a in kept if a.label in labels], w, h)
            samples.append(_sample(record, "segment", segment_prompt(labels), answer))
    interpretation = proposal.interpretation
    if interpretation is not None and set(interpretation) == set(INTERPRETATION_KEYS):
        answer = interpret_answer(interpretation)
        samples.append(_sample(record, "interpret", interpret_prompt(), answer))
    return samples


def jsonl_lines(record: ImageRecord, proposal: Proposal) -> tuple[str, ...]:
    return tuple(
        json.dumps(s, ensure_ascii=False) + "\n" for s in finetune_samples(record, proposal)
    )
