"""Calibrate shape scores: a shape's score becomes the probability that it is right as it stands.

"Right" is Dice >= 0.9 against the reference outline. The model's raw score for a shape is the
soft Dice it expects (see the embedded backend); a logistic map of its log-odds, with one slope
and an intercept per structure drawn towards the common one (few validation images show the
brain structures), turns it into that probability. The map is fitted on *validation* images,
each structure asked for by name (so the plane's routing, which multiplies the score later, does
not enter the fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from napari_fada.core.metrics import segmentation_scores
from napari_fada.data.shared_layout import reference_proposal
from napari_fada.models.base import ProposeRequest
from napari_fada.models.embedded_backend import EmbeddedBackend
from napari_fada.models.embedded_weights import ANY_STRUCTURE, EmbeddedWeights
from napari_fada.training.data import Sample

#: A shape is right when its Dice with the reference reaches this.
RIGHT_DICE = 0.9
#: Fewer shapes than this, or only right or only wrong ones: no calibration is fitted.
MIN_SHAPES = 20
#: Weight of the penalty drawing each structure's intercept to the common one.
SHRINKAGE = 1.0


@dataclass(frozen=True)
class ShapeOutcome:
    """One proposed shape on a validation image: its raw score and whether it was right."""

    structure: str
    expected_dice: float
    right: bool


def shape_outcomes(weights: EmbeddedWeights, samples: Sequence[Sample]) -> list[ShapeOutcome]:
    """Propose the structures each labelled sample shows and judge the best-scored shape of each
    (a structure missed outright has no shape, hence no score, and is not an outcome)."""
    backend = EmbeddedBackend(replace(weights, shape_calibration={}))
    outcomes = []
    for sample in samples:
        if not sample.reference.has_mask:
            continue
        truth = reference_proposal(sample.reference)
        labelled = sorted({a.label for a in truth.annotations} & set(weights.structures))
        if not labelled:
            continue
        request = ProposeRequest(structures=tuple(labelled))
        proposal = backend.propose(sample.reference.image, request)
        for name in labelled:
            shapes = [a for a in proposal.annotations if a.label == name and a.score is not None]
            if not shapes:
                continue
            scores = segmentation_scores(
                shapes, truth.annotations, truth.width, truth.height, structures=(name,)
            )
            best = max(a.score for a in shapes if a.score is not None)
            outcomes.append(ShapeOutcome(name, best, scores[name][0] >= RIGHT_DICE))
    return outcomes


def fit_shape_calibration(outcomes: Sequence[ShapeOutcome]) -> dict[str, tuple[float, float]]:
    """``{structure: (slope, intercept)}`` plus :data:`ANY_STRUCTURE`'s common map; empty when
    the outcomes cannot support a fit (too few, or all right or all wrong)."""
    rights = [o.right for o in outcomes]
    if len(outcomes) < MIN_SHAPES or all(rights) or not any(rights):
        return {}
    names = sorted({o.structure for o in outcomes})
    clipped = np.clip([o.expected_dice for o in outcomes], 1e-4, 1 - 1e-4)
    x = torch.tensor(np.log(clipped / (1 - clipped)), dtype=torch.float64)
    y = torch.tensor(rights, dtype=torch.float64)
    which = torch.tensor([names.index(o.structure) for o in outcomes])
    slope = torch.ones((), dtype=torch.float64, requires_grad=True)
    common = torch.zeros((), dtype=torch.float64, requires_grad=True)
    offsets = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([slope, common, offsets], lr=0.5, max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = slope * x + common + offsets[which]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum")
        loss = loss + SHRINKAGE * (offsets**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    a, b = float(slope.detach()), float(common.detach())
    if not all(np.isfinite([a, b, *offsets.detach().tolist()])):
        return {}
    fitted = {name: (a, b + float(offsets[i].detach())) for i, name in enumerate(names)}
    return {**fitted, ANY_STRUCTURE: (a, b)}
