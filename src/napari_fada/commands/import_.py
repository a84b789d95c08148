"""``napari-fada import``: a COCO, YOLO or label-PNG folder into a dataset folder to review."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from napari_fada.data.importers.to_dataset import import_steps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="COCO, YOLO or label-PNG folder with images")
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write into")
    parser.add_argument("--annotator", help="name recorded in the provenance")


def run(args: argparse.Namespace) -> int:
    done, total = 0, 0
    with tqdm(desc="importing", unit="image") as bar:
        for done, total in import_steps(args.source, args.out, args.annotator):  # noqa: B007
            bar.total = total
            bar.update(1)
    print(f"imported {done} of {total} image(s) into {args.out}; review them in the review queue")
    return 0
