"""A small known image and proposal whose every export is written out by hand in the tests."""

from __future__ import annotations

import numpy as np

from napari_fada.core.proposal import (
    Annotation,
    ImageRecord,
    ModelInfo,
    PlaneCall,
    Proposal,
)
from napari_fada.core.vocabulary import INTERPRETATION_KEYS

WIDTH, HEIGHT = 20, 10
MODEL = "fada-0.8b"
WEIGHTS = "a" * 64
CONFIG = "c" * 64
CREATED = "2026-01-02T03:04:05.000+00:00"
EDITED = "2026-01-02T03:05:00.000+00:00"


def case_image() -> np.ndarray:
    return (np.arange(HEIGHT * WIDTH, dtype=np.uint8) % 251).reshape(HEIGHT, WIDTH)


def case_record(image_id: str = "scan") -> ImageRecord:
    return ImageRecord(
        image_id=image_id,
        width=WIDTH,
        height=HEIGHT,
        sha256="f" * 64,
        source_path="/scans/scan.png",
        pixel_spacing_mm=(0.1, 0.1),
        source_dataset="clinic",
        split="train",
    )


def _annotation(
    ident: str, label: str, status: str, source: str = MODEL, **geometry: object
) -> Annotation:
    return Annotation(
        label=label,
        source=source,
        status=status,  # type: ignore[arg-type]
        id=ident,
        annotator="ann",
        created=CREATED,
        edited=EDITED if status != "proposed" else None,
        time_spent_s=1.5,
        score=0.9 if source == MODEL else None,
        **geometry,
    )


def case_annotations() -> list[Annotation]:
    """Accepted polygon, edited box-only, rejected, manual polygon, unreviewed, keypoints."""
    return [
        _annotation(
            "a1", "head", "accepted", box=(2.0, 2.0, 8.0, 6.0),
            polygon=[(2.0, 2.0), (8.0, 2.0), (8.0, 6.0), (2.0, 6.0)],
        ),
        _annotation("a2", "CSP", "edited", box=(10.0, 1.0, 14.0, 5.0)),
        _annotation(
            "a3", "LV", "rejected", box=(1.0, 1.0, 5.0, 5.0),
            polygon=[(1.0, 1.0), (5.0, 1.0), (3.0, 5.0)],
        ),
        _annotation(
            "a4", "Brain", "accepted", source="manual",
            polygon=[(12.0, 5.0), (18.0, 5.0), (18.0, 9.0), (12.0, 9.0)],
        ),
        _annotation("a5", "NT", "proposed", box=(0.0, 0.0, 4.0, 4.0)),
        _annotation(
            "a6", "CRL_KP", "accepted", source="manual",
            keypoints=[(3.0, 3.0, 2.0), (7.0, 5.0, 2.0)],
        ),
    ]  # fmt: skip


def case_interpretation() -> dict[str, object]:
    return {key: f"{key} text" for key in INTERPRETATION_KEYS}


def case_proposal() -> Proposal:
    annotations = case_annotations()
    annotations[1].parent_id = "p0"
    return Proposal(
        width=WIDTH,
        height=HEIGHT,
        annotations=annotations,
        plane=PlaneCall("BPD_PLANE", 0.8, {"BPD_PLANE": 0.8, "head": 0.2}, MODEL, "accepted"),
        interpretation=case_interpretation(),
        biometry={"hc_mm": 61.5},
        model=ModelInfo(MODEL, "scripted", WEIGHTS, CONFIG),
        raw_answers={"classify": '{"label": "BPD_PLANE"}'},
        timings_s={"classify": 0.25},
        issues=["clamped one box"],
        id="prop1",
    )
