"""The embedded model's routing speaks its own structure names: what it says it looks for on a
plane is what it proposes there (FADA's routing says Brain, CSP, LV where it finds the head)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.core.vocabulary import route
from napari_fada.models.embedded_backend import EmbeddedBackend


@pytest.fixture(scope="module")
def shipped() -> EmbeddedBackend:
    return EmbeddedBackend(threads=1)


def test_the_shipped_weights_route_by_their_own_table(shipped) -> None:
    assert shipped.route("trans-thalamic").detect == ("head", "Brain", "CSP", "LV")
    assert shipped.route("transperineal").segment == ("fetal_head", "pubic_symphysis")
    assert shipped.route("abdomen").detect == ()  # a plane it has no outlines for
    assert "head" not in route("trans-thalamic").detect  # FADA's group for it: the brain


def test_what_the_model_proposes_is_what_its_routing_names(shipped, samples_dir: Path) -> None:
    pixels = np.asarray(Image.open(samples_dir / "images" / "hc18_010_HC.png"))
    proposal = shipped.propose(pixels)
    assert proposal.plane is not None and proposal.annotations
    routed = shipped.route(proposal.plane.label, proposal.interpretation).detect
    assert {a.label for a in proposal.annotations} <= set(routed)
