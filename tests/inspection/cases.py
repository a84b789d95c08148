"""Constructed inspection cases with known answers: rectangles on small blank images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_fada.core.proposal import Annotation, ModelInfo, PlaneCall, Proposal
from napari_fada.core.scoring import Reference
from napari_fada.inspection.evaluate import DatasetItem
from napari_fada.inspection.per_image import Inspection

WIDTH, HEIGHT = 40, 30
PLANE = "trans-thalamic"


def rectangle(
    label: str, x0: int, y0: int, x1: int, y1: int, score: float | None = None
) -> Annotation:
    """A rectangle on pixel edges: it covers columns x0..x1-1 and rows y0..y1-1 exactly."""
    polygon = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return Annotation(
        label,
        box=(x0, y0, x1, y1),
        polygon=[(float(x), float(y)) for x, y in polygon],
        score=score,
        source="m",
    )


def rectangle_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def reference(image_id: str, annotations: list[Annotation]) -> Reference:
    truth = [a.with_status("accepted") for a in annotations]
    return Reference(image_id, WIDTH, HEIGHT, truth, plane=PLANE)


def prediction(
    annotations: list[Annotation], plane: str = PLANE, model_id: str = "model-a"
) -> Proposal:
    return Proposal(
        WIDTH,
        HEIGHT,
        annotations=annotations,
        plane=PlaneCall(plane, score=0.9),
        model=ModelInfo(model_id=model_id),
        raw_answers={"segment": f'{{"answer": "{model_id}"}}'},
        interpretation={"imaging_plane": plane},
    )


def memory_inspection(references: list[Reference], source: str = "synthetic") -> Inspection:
    """An inspection over in-memory references, each image a different gradient."""
    gradient = np.tile(np.arange(WIDTH, dtype=np.uint8) * 6, (HEIGHT, 1))
    items = {
        r.image_id: DatasetItem(r.image_id, None, lambda r=r: r, lambda i=i: gradient + i)
        for i, r in enumerate(references)
    }
    return Inspection(Path("memory"), items, {r.image_id: source for r in references})


#: The truth of every image of the known set: one head rectangle.
HEAD = (4, 5, 24, 25)


def known_set() -> tuple[Inspection, dict[str, Proposal], list[str]]:
    """Four images whose predictions fail by known amounts, and their worst-first order:
    nothing found (Dice 0), half the head (Dice 2/3), the head right but the plane wrong, and
    a perfect answer."""
    head = rectangle("head", *HEAD, score=0.9)
    x0, y0, x1, y1 = HEAD
    inspection = memory_inspection(
        [reference(i, [rectangle("head", *HEAD)]) for i in ("perfect", "half", "plane", "missed")]
    )
    predictions = {
        "perfect": prediction([head]),
        "half": prediction([rectangle("head", x0, y0, (x0 + x1) // 2, y1, score=0.8)]),
        "plane": prediction([head], plane="transperineal"),
        "missed": prediction([]),
    }
    return inspection, predictions, ["missed", "half", "plane", "perfect"]
