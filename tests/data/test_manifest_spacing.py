"""A plain image's pixel size from the manifest.csv of its folder (the shared layout's, ours)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.data.readers import read_any

HEAD = "hc18_010_HC"
HEAD_SIZE = 0.0799351646787


def test_a_shared_sample_opens_with_its_manifest_pixel_size(samples_dir: Path) -> None:
    loaded = read_any(samples_dir / "images" / f"{HEAD}.png")
    assert loaded.pixel_spacing_mm == pytest.approx((HEAD_SIZE, HEAD_SIZE))
    # the manifest gives none for the transperineal images: unknown, not guessed
    assert read_any(samples_dir / "images" / "psfhs_03744.png").pixel_spacing_mm is None


def write_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(path)
    return path


def write_manifest(folder: Path, text: str, stamp: int) -> None:
    manifest = folder / "manifest.csv"
    manifest.write_text(text, encoding="utf-8")
    os.utime(manifest, ns=(stamp, stamp))  # a distinct change time, however fast the writes


def test_a_manifest_beside_the_images_counts_and_is_read_again_when_changed(tmp_path) -> None:
    image = write_png(tmp_path / "a.png")
    assert read_any(image).pixel_spacing_mm is None
    write_manifest(tmp_path, "id,image,pixel_size_mm\na,a.png,0.2\n", 10**18)
    assert read_any(image).pixel_spacing_mm == (0.2, 0.2)
    write_manifest(tmp_path, "id,image,pixel_size_mm\na,a.png,0.3\n", 2 * 10**18)
    assert read_any(image).pixel_spacing_mm == (0.3, 0.3)


@pytest.mark.parametrize(
    "text",
    [
        "\x00\xff garbage",
        "id,image\na,images/a.png\n",  # no pixel size column
        "id,image,pixel_size_mm\na,images/a.png,not a number\n",
        "id,image,pixel_size_mm\na,images/a.png,-1\n",
        "id,image,pixel_size_mm\nb,images/b.png,0.2\n",  # another image
    ],
)
def test_a_manifest_that_does_not_say_leaves_the_size_unknown(tmp_path, text: str) -> None:
    image = write_png(tmp_path / "images" / "a.png")
    write_manifest(tmp_path, text, 10**18)
    loaded = read_any(image)
    assert loaded.pixel_spacing_mm is None and loaded.data.shape == (6, 8)
