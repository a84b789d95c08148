"""A deterministic backend for tests: it answers with FADA-style items fixed in 0..1000 space.

It is test-only: the package ships no fake model.
"""

from __future__ import annotations

import numpy as np

from napari_fada.core.geometry import norm_to_px
from napari_fada.core.proposal import Annotation, ModelInfo, PlaneCall, Proposal
from napari_fada.models.base import Backend, CancelToken, ProgressCallback, ProposeRequest

#: (label, box in 0..1000, polygon in 0..1000 or None, score)
Item = tuple[str, tuple[float, ...], list[tuple[float, float]] | None, float]
DEFAULT_ITEMS: tuple[Item, ...] = (
    ("head", (200, 150, 800, 850), [(500, 150), (800, 500), (500, 850), (200, 500)], 0.93),
    ("CSP", (450, 400, 550, 480), None, 0.61),
    ("LV", (300, 300, 420, 380), [(300, 300), (420, 300), (420, 380), (300, 380)], 0.42),
)


class ScriptedBackend(Backend):
    """Proposes the same items, scaled to each image, with a fixed plane class."""

    def __init__(self, items=DEFAULT_ITEMS, plane: str = "BPD_PLANE", model_id: str = "scripted-1"):
        self.items = items
        self.plane = plane
        self.info = ModelInfo(
            model_id=model_id, backend="scripted", weights_sha256="0" * 64, config_sha256="1" * 64
        )
        self.calls = 0

    def propose(
        self,
        image: np.ndarray,
        request: ProposeRequest | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Proposal:
        self.calls += 1
        height, width = image.shape[:2]
        wanted = request.structures if request and request.structures else None
        annotations = []
        for label, box, polygon, score in self.items:
            if wanted is not None and label not in wanted:
                continue
            if cancel is not None:
                cancel.raise_if_cancelled()
            x0, y0 = norm_to_px(box[0], box[1], width, height)
            x1, y1 = norm_to_px(box[2], box[3], width, height)
            poly = [norm_to_px(x, y, width, height) for x, y in polygon] if polygon else None
            annotations.append(
                Annotation(
                    label=label,
                    box=(x0, y0, x1, y1),
                    polygon=poly,
                    score=score,
                    source=self.info.model_id,
                )
            )
            if progress is not None:
                progress(f"proposed {label}", len(annotations) / len(self.items))
        return Proposal(
            width=width,
            height=height,
            annotations=annotations,
            plane=PlaneCall(self.plane, 0.88, {self.plane: 0.88, "Other": 0.12}, self.model_id),
            interpretation={"imaging_plane": "trans-thalamic plane"},
            model=self.info,
        )
