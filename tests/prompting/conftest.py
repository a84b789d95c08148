"""A tiny labelled dataset in the shared layout and a tiny prompt model, made per test session."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from napari_fada.prompting.net import PromptNet, PromptNetConfig
from napari_fada.prompting.weights import PromptWeights, save_prompt_weights

TINY = PromptNetConfig(crop=32, channels=(4, 8, 8))
FIELDS = (
    "id", "image", "mask", "source_dataset", "source_file", "subject", "split", "plane",
    "fada_plane_label", "width", "height", "pixel_size_mm", "head_circumference_mm", "structures",
)  # fmt: skip


def write_dataset(root: Path, count: int = 8, seed: int = 0) -> Path:
    """``count`` 64x48 images, each a bright ellipse (head, id 3) and a small square (CSP, id 5)
    on speckle; the last quarter of the subjects are the ``val`` split."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "labels.json").write_text(json.dumps({"structures": {"3": "head", "5": "CSP"}}))
    rows = []
    yy, xx = np.mgrid[:48, :64]
    for index in range(count):
        cx, cy = rng.uniform(24, 40), rng.uniform(18, 30)
        head = ((xx - cx) / 14) ** 2 + ((yy - cy) / 10) ** 2 <= 1
        labels = np.where(head, 3, 0).astype(np.uint8)
        labels[4:10, 50:56] = 5
        image = rng.normal(60, 10, (48, 64)) + 120 * head + 90 * (labels == 5)
        name = f"img{index:02d}"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / f"images/{name}.png")
        Image.fromarray(labels).save(root / f"masks/{name}.png")
        split = "val" if index >= count * 3 // 4 else "train"
        rows.append(
            {
                "id": name, "image": f"images/{name}.png", "mask": f"masks/{name}.png",
                "source_dataset": "TINY", "source_file": f"{name}.png", "subject": name,
                "split": split, "plane": "trans-thalamic", "fada_plane_label": "",
                "width": 64, "height": 48, "pixel_size_mm": "", "head_circumference_mm": "",
                "structures": "head;CSP",
            }
        )  # fmt: skip
    with open(root / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("prompt-data") / "dataset")


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny prompt model with random weights, saved as train-prompt saves one."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("prompt-model") / "tiny.pt"
    save_prompt_weights(PromptWeights(TINY, PromptNet(TINY).state_dict()), path)
    return path
