"""Fit the head outline's logit offset so that head circumferences come out unbiased.

Class-weighted training pushes outlines outwards: measured on the upsampled full-resolution
mask, heads come out a few millimetres too large. A constant added to the ``head`` logit before
the softmax moves that class's boundary alone. It is chosen on *training* images with a
reference HC (never on validation images) as the offset that makes the mean signed HC error
zero there: the error grows with the offset, so a bisection finds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from napari_fada.core.biometry import HEAD_STRUCTURE
from napari_fada.models.base import ProposeRequest
from napari_fada.models.embedded_backend import EmbeddedBackend
from napari_fada.models.embedded_weights import EmbeddedWeights
from napari_fada.training.data import Sample

#: Images used for the fit (evenly spaced over the training rows with a reference HC).
FIT_IMAGES = 60
#: Fewer images than this and the offset is left as it is.
MIN_IMAGES = 10
SEARCH = (-4.0, 2.0)
STEPS = 8


def _cases(samples: Sequence[Sample]) -> list[tuple[np.ndarray, tuple[float, float], float]]:
    rows = [
        s.reference
        for s in samples
        if s.reference.head_circumference_mm and s.reference.pixel_spacing_mm
    ]
    if len(rows) < MIN_IMAGES:
        return []
    spaced = np.linspace(0, len(rows) - 1, min(FIT_IMAGES, len(rows))).astype(int)
    chosen = [rows[i] for i in spaced]
    return [
        (r.image, r.pixel_spacing_mm, r.head_circumference_mm)
        for r in chosen
        if r.pixel_spacing_mm and r.head_circumference_mm
    ]


def _bias_mm(
    weights: EmbeddedWeights,
    offset: float,
    cases: Sequence[tuple[np.ndarray, tuple[float, float], float]],
) -> float | None:
    """Mean (measured - reference) HC over the cases the model measures, with ``offset``."""
    backend = EmbeddedBackend(
        replace(weights, logit_offsets={**weights.logit_offsets, "head": offset})
    )
    errors = []
    for image, spacing, reference in cases:
        request = ProposeRequest(structures=(HEAD_STRUCTURE,), pixel_spacing_mm=spacing)
        measured = backend.propose(image, request).biometry.get("hc_mm")
        if measured is not None:
            errors.append(measured - reference)
    return float(np.mean(errors)) if errors else None


def fit_head_offset(weights: EmbeddedWeights, samples: Sequence[Sample]) -> float | None:
    """The ``head`` logit offset that zeroes the mean HC error on ``samples`` (training rows),
    or None when the model has no head class or too few rows carry a reference HC."""
    cases = _cases(samples)
    if HEAD_STRUCTURE not in weights.structures or not cases:
        return None
    low, high = SEARCH
    for _ in range(STEPS):
        middle = (low + high) / 2
        bias = _bias_mm(weights, middle, cases)
        if bias is None:  # no head found at all: the offset is far too low
            low = middle
        elif bias > 0:
            high = middle
        else:
            low = middle
    return (low + high) / 2
