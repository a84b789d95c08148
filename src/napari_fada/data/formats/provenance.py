"""Where one annotation came from: the same record in annotations/<id>.json and in COCO."""

from __future__ import annotations

from typing import Any

from napari_fada.core.proposal import Annotation, ImageRecord, Proposal


def provenance(annotation: Annotation, record: ImageRecord, proposal: Proposal) -> dict[str, Any]:
    """Image hash, source, status, model and its hashes, score, who, when, how long, parent.

    Model fields are None for manual annotations: no model produced them. A mask made from a
    person's prompts names the prompt model and keeps the prompts (box, signed points).
    """
    from_model = not annotation.is_manual and not annotation.is_prompted
    model = proposal.model
    prompted = annotation.prompt_model
    return {
        "annotation_id": annotation.id,
        "parent_id": annotation.parent_id,
        "proposal_id": proposal.id,
        "image_sha256": record.sha256,
        "source": annotation.source,
        "status": annotation.status,
        "model_id": model.model_id if from_model else prompted,
        "backend": model.backend if from_model else ("prompt" if prompted else None),
        "weights_sha256": model.weights_sha256 if from_model else None,
        "config_sha256": model.config_sha256 if from_model else None,
        "score": annotation.score,
        "annotator": annotation.annotator,
        "created": annotation.created,
        "edited": annotation.edited,
        "time_spent_s": annotation.time_spent_s,
        "flags": list(annotation.flags),
        "prompts": annotation.prompts,
    }
