"""The prompt model shipped with the plugin loads, fits the package budget and outlines a head
it never trained on from its box alone."""

from __future__ import annotations

import numpy as np

from napari_fada.prompting.clicks import dice
from napari_fada.prompting.session import PromptPredictor, PromptSession
from napari_fada.prompting.targets import instances
from napari_fada.prompting.weights import SHIPPED_PROMPT_WEIGHTS

#: The package's budget for its weights (the default model and this one together).
BUDGET_BYTES = 15 * 2**20


def test_the_shipped_weights_fit_the_budget():
    files = SHIPPED_PROMPT_WEIGHTS.parent.glob("*.pt")
    assert sum(f.stat().st_size for f in files) <= BUDGET_BYTES
    assert SHIPPED_PROMPT_WEIGHTS.stat().st_size <= 5 * 2**20


def test_the_shipped_model_outlines_a_validation_head_from_its_box(train_dir):
    from PIL import Image

    predictor = PromptPredictor.load()
    assert predictor.model_id.startswith("fada-prompt-1.0-")
    image_id = "hc18_002_HC"  # a validation subject
    pixels = np.asarray(Image.open(train_dir / "images" / f"{image_id}.png"))
    ((_, truth),) = instances(
        np.asarray(Image.open(train_dir / "masks" / f"{image_id}.png")), {3: "head"}
    )
    rows, cols = np.nonzero(truth)
    box = (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))
    mask = PromptSession(predictor, predictor.encode(pixels)).set_box(box)
    assert dice(truth, mask) > 0.9
