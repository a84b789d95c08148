"""`napari-fada demo`: a sample, the annotator docked and the embedded model's proposals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Shapes
from PIL import Image as PILImage

from napari_fada._napari.annotator.demo import open_demo
from napari_fada._napari.annotator.widget import AnnotatorWidget


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_demo_shows_the_embedded_models_proposals_on_the_head_sample(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = open_demo(viewer, "head")
    assert isinstance(widget, AnnotatorWidget)
    qtbot.waitUntil(lambda: widget.job is None and widget.session is not None, timeout=60_000)
    assert widget.backend is not None and widget.backend.model_id.startswith("fada-embedded")
    assert widget.plane_label.text().startswith("Plane: trans-thalamic")
    shapes = next(layer for layer in viewer.layers if isinstance(layer, Shapes))
    assert shapes.name == "synthetic_head_plane shapes"  # an image with no file: its layer name
    features = shapes.features
    assert "head" in set(features["label"])
    assert set(features["source"]) == {widget.backend.model_id}
    assert set(features["status"]) == {"proposed"}


def test_demo_command_saves_a_screenshot_of_the_window(tmp_path: Path):
    """The README's two-command promise: the command opens napari and draws the proposals."""
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X server (run the tests under xvfb-run, as `make test` does)")
    screenshot = tmp_path / "demo.png"
    env = {**os.environ, "NAPARI_FADA_CONFIG_DIR": str(tmp_path / "config")}
    done = subprocess.run(
        [sys.executable, "-m", "napari_fada", "demo", "--screenshot", str(screenshot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = np.asarray(PILImage.open(screenshot).convert("RGB"))
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600
    # Not a black or blank grab: the ultrasound image and the widget give many distinct colours.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
