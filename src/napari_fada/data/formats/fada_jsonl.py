"""FADA fine-tuning samples: one chat per image and task, answers in the contract's JSON form.

A task gets a sample only when a person's review says what its answer is:

- classify: the plane call was accepted or edited;
- detect: some annotation was reviewed (kept or rejected). The prompt names the reviewed
  labels; the answer lists the kept instances, so a label that was only rejected teaches
  "not there";
- segment: as detect, over labels whose kept instances all have a polygon or keypoints (a
  label with a kept box-only instance would be answered incompletely, so it is left out);
- interpret: the interpretation has FADA's eight keys.

Segment polygons are simplified to about one unit of the answer's 0..1000 grid
(:data:`SEGMENT_TOLERANCE`): a pixel-exact outline of a thousand vertices would not fit in the
model's answer length, and the grid cannot hold the detail anyway.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from napari_fada.core import strict_json
from napari_fada.core.fada_format import (
    classify_answer,
    detect_answer,
    interpret_answer,
    segment_answer,
)
from napari_fada.core.polygon_simplify import simplify_polygon
from napari_fada.core.prompts import (
    classify_prompt,
    detect_prompt,
    interpret_prompt,
    segment_prompt,
)
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.core.vocabulary import INTERPRETATION_KEYS, structure_id

#: Largest distance (in 0..1000 units, along the finer axis) a simplified vertex may move.
SEGMENT_TOLERANCE = 1.0


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


def simplified(annotation: Annotation, width: int, height: int) -> Annotation:
    """The annotation with its polygon simplified to :data:`SEGMENT_TOLERANCE`."""
    if not annotation.polygon:
        return annotation
    tolerance = SEGMENT_TOLERANCE * min(width, height) / 1000.0
    return replace(annotation, polygon=simplify_polygon(annotation.polygon, tolerance))


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
            chosen = [simplified(a, w, h) for a in kept if a.label in labels]
            answer = segment_answer(chosen, w, h)
            samples.append(_sample(record, "segment", segment_prompt(labels), answer))
    interpretation = proposal.interpretation
    if interpretation is not None and set(interpretation) == set(INTERPRETATION_KEYS):
        answer = interpret_answer(interpretation)
        samples.append(_sample(record, "interpret", interpret_prompt(), answer))
    return samples


def jsonl_lines(samples: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(strict_json.dumps(s, ensure_ascii=False) + "\n" for s in samples)
