"""The captions on the shapes: one per annotation, gone when it is rejected, never on top of
each other."""

from __future__ import annotations

import numpy as np
import pytest

from napari_fada._napari.annotator.review_session import ReviewSession
from napari_fada._napari.widgets.proposal_layers import ProposalLayers, add_proposal_layers
from napari_fada.core.proposal import Annotation, Proposal

WIDTH, HEIGHT = 800, 540
MODEL = "a-model-1"


def ellipse(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


def brain_plane() -> Proposal:
    """A brain plane as a model answers it: head and Brain nearly share their top-left corner."""
    head = Annotation(
        "head", (100, 60, 700, 500), ellipse(400, 280, 300, 220), score=0.9, source=MODEL
    )
    brain = Annotation(
        "Brain", (110, 66, 690, 494), ellipse(400, 280, 290, 214), score=0.8, source=MODEL
    )
    csp = Annotation("CSP", (380, 250, 420, 280), score=0.7, source=MODEL)
    lv = Annotation("LV", (500, 200, 600, 260), ellipse(550, 230, 50, 30), score=0.6, source=MODEL)
    return Proposal(WIDTH, HEIGHT, [head, brain, csp, lv])


@pytest.fixture
def shown(make_napari_viewer) -> tuple[ProposalLayers, Proposal]:
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((HEIGHT, WIDTH), dtype=np.uint8))
    proposal = brain_plane()
    return add_proposal_layers(viewer, proposal, image, "brain"), proposal


def shown_captions(layers: ProposalLayers) -> dict[str, tuple[float, float]]:
    """Each caption on screen, at the top-left corner of its shape (row, column)."""
    shapes = layers.shapes
    return {
        str(text): tuple(np.asarray(shapes.data[i]).min(axis=0))
        for i, text in enumerate(shapes.text.values)
        if text
    }


def test_captions_do_not_overlap(shown) -> None:
    layers, _ = shown
    captions = shown_captions(layers)
    assert set(captions) == {"head 0.90, Brain 0.80", "CSP 0.70", "LV 0.60"}
    corners = list(captions.values())
    for i, (row, column) in enumerate(corners):
        for other_row, other_column in corners[i + 1 :]:
            assert abs(row - other_row) >= 0.04 * HEIGHT or abs(column - other_column) >= 120


def test_captions_follow_the_status(shown) -> None:
    layers, proposal = shown
    session = ReviewSession(layers, proposal, "head")
    head, _, csp, lv = proposal.annotations
    session.reject([lv.id, head.id])
    assert set(shown_captions(layers)) == {"Brain 0.80", "CSP 0.70"}
    session.accept([csp.id])
    assert set(shown_captions(layers)) == {"Brain 0.80", "CSP 0.70"}
