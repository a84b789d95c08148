"""Benchmark the annotator's keyboard loop over a folder: key presses and UI latency per image.

    xvfb-run -a python benchmarks/bench_annotator_loop.py [--data ../shared/data/fetal-us-samples]
        [--json FILE]

Copies the sample images into a temporary folder, opens it in a napari viewer with the FADA
annotator docked (the embedded default model, proposing on each image as it is shown) and runs
the loop with key presses on the canvas, as a person would when the proposals are right:

1. first look: Shift+Right through every image without deciding; each image is proposed as it
   is shown (latency: key press to the next image's proposals on screen, model call included);
2. back: Shift+Left through every image (the same, answered from the cache);
3. review: on every image Ctrl+Shift+Y (accept everything, plane call included, and save) then
   Shift+Right.

Reports key presses per image and the latency of each step (median, 90th percentile, max), and
checks that the dataset ends with one record per image, each accepted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from machine import report
from qt_events import wait_until

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "fetal-us-samples"


def summary(seconds: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(seconds)
    return {
        "median_ms": round(float(np.median(ms)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def run_loop(images: Path, dataset: Path) -> dict[str, Any]:
    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from napari_fada._napari.annotator.widget import AnnotatorWidget
    from napari_fada.data.folders import folder_images
    from napari_fada.models.embedded_backend import EmbeddedBackend

    shift = Qt.KeyboardModifier.ShiftModifier
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | shift
    paths = folder_images(images)
    viewer = napari.Viewer(show=False)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    app = QApplication.instance()
    canvas = viewer.window._qt_viewer.canvas.native
    widget.annotator_edit.setText("benchmark")
    widget.open_dataset(dataset)
    started = time.perf_counter()
    widget.set_backend(EmbeddedBackend())
    load_s = time.perf_counter() - started
    presses = 0

    def press(key: Qt.Key, modifiers: Qt.KeyboardModifier) -> float:
        """Press a key on the canvas; returns when the press was handled."""
        nonlocal presses
        presses += 1
        started = time.perf_counter()
        QTest.keyClick(canvas, key, modifiers)
        return time.perf_counter() - started

    def shown(path: Path) -> Callable[[], bool]:
        def check() -> bool:
            image = widget.image
            return image is not None and image.source_path == path and widget.session is not None

        return check

    def step(key: Qt.Key, target: Path) -> float:
        """Key press to ``target``'s proposals on screen."""
        started = time.perf_counter()
        press(key, shift)
        wait_until(app, shown(target))
        return time.perf_counter() - started

    started = time.perf_counter()
    widget.open_sequence(images)
    wait_until(app, shown(paths[0]))
    first_s = time.perf_counter() - started
    look = [step(Qt.Key.Key_Right, path) for path in paths[1:]]
    back = [step(Qt.Key.Key_Left, path) for path in reversed(paths[:-1])]
    presses_before_review = presses
    accept, forward = [], []
    for following in [*paths[1:], None]:
        accept.append(press(Qt.Key.Key_Y, ctrl_shift))
        if following is not None:
            forward.append(step(Qt.Key.Key_Right, following))
    records = widget.dataset.records() if widget.dataset else []
    decisions = [widget.dataset.load(r.image_id)[1].decision for r in records]  # type: ignore[union-attr,index]
    assert len(records) == len(paths) and set(decisions) == {"accepted"}, decisions
    viewer.close()
    review_presses = presses - presses_before_review
    return {
        "images": len(paths),
        "model_load_s": round(load_s, 2),
        "open_folder_to_first_proposals_ms": round(1000 * first_s, 1),
        "first_look_next_image_no_cache": summary(look),
        "back_previous_image_cached": summary(back),
        "review_accept_and_save": summary(accept),
        "review_next_image_cached": summary(forward),
        "review_key_presses_per_image": round(review_presses / len(paths), 2),
        "review_ui_seconds_per_image": round((sum(accept) + sum(forward)) / len(paths), 3),
        "records": len(records),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SAMPLES, help="folder with images/")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["NAPARI_FADA_CONFIG_DIR"] = str(Path(folder) / "config")
        images = Path(folder) / "images"
        shutil.copytree(args.data / "images", images)
        figures = {
            "load_average": os.getloadavg()[0],
            **run_loop(images, Path(folder) / "dataset"),
        }
    report(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
