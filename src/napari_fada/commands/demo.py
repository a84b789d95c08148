"""``napari-fada demo``: napari on a sample image, the annotator docked, the default model's
proposals on it, ready for review.

``--screenshot FILE`` saves the window once the proposals are shown and closes napari.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_fada._napari.annotator.demo import SAMPLES, open_demo, screenshot_when_done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sample", choices=SAMPLES, default="head", help="which sample to open (default: head)"
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="save a screenshot of the window once the proposals are shown, then quit",
    )


def run(args: argparse.Namespace) -> int:
    import napari

    viewer = napari.Viewer(title="napari-fada demo")
    viewer.window.resize(1500, 950)
    widget = open_demo(viewer, args.sample)
    if args.screenshot is not None:
        screenshot_when_done(viewer, widget, args.screenshot)
    napari.run()
    return 0
