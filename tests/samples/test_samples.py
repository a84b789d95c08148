"""The synthetic sample generator: deterministic, with ground truth consistent with the pixels."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import regionprops

from napari_fada import samples
from napari_fada.data.readers import read_any
from napari_fada.samples.__main__ import main
from napari_fada.samples.files import write_sample_data
from napari_fada.samples.shapes import Ellipse

REPO = Path(__file__).resolve().parents[2]
STILLS = (samples.head_plane, samples.pelvimetry_view, samples.brain_plane)


@pytest.fixture(scope="module")
def stills() -> dict[str, samples.SyntheticSample]:
    return {generate.__name__: generate() for generate in STILLS}


@pytest.fixture(scope="module")
def clip() -> samples.SyntheticClip:
    return samples.cine_clip(n_frames=8)


def mask_circumference_mm(mask: np.ndarray, spacing: float) -> float:
    """HC of the ellipse fitted to a mask (moments), by Ramanujan's formula."""
    (region,) = regionprops(mask.astype(np.uint8))
    fitted = Ellipse(0, 0, region.axis_major_length / 2, region.axis_minor_length / 2)
    return fitted.perimeter() * spacing


def test_ramanujan_perimeter_is_exact_for_circles_and_close_for_ellipses() -> None:
    assert Ellipse(0, 0, 10, 10).perimeter() == pytest.approx(2 * math.pi * 10)
    assert Ellipse(0, 0, 3, 1).perimeter() == pytest.approx(13.36489, rel=1e-5)


@pytest.mark.parametrize("generate", STILLS)
def test_stills_are_deterministic(generate, stills) -> None:
    again, first = generate(), stills[generate.__name__]
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.mask, again.mask)


def test_another_seed_gives_another_scene(stills) -> None:
    other = samples.pelvimetry_view(seed=99)
    assert not np.array_equal(stills["pelvimetry_view"].image, other.image)
    assert not np.array_equal(stills["pelvimetry_view"].mask, other.mask)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("head_plane", (540, 800)), ("pelvimetry_view", (256, 256)), ("brain_plane", (661, 959))],
)
def test_masks_hold_exactly_the_listed_structures(stills, name: str, shape) -> None:
    sample = stills[name]
    assert sample.image.shape == sample.mask.shape == shape
    assert sample.image.dtype == np.uint8
    present = {int(v) for v in np.unique(sample.mask)} - {0}
    assert present == {samples.LABEL_IDS[s] for s in sample.structures}
    for structure in sample.structures:
        assert (sample.mask == samples.LABEL_IDS[structure]).sum() > 200, structure


def test_head_circumference_matches_the_drawn_ellipse(stills) -> None:
    sample = stills["head_plane"]
    measured = mask_circumference_mm(sample.mask == samples.LABEL_IDS["head"], 0.12)
    assert sample.head_circumference_mm == pytest.approx(measured, rel=0.01)
    assert 100 < sample.head_circumference_mm < 250


def test_head_plane_looks_like_a_scan(stills) -> None:
    sample = stills["head_plane"]
    image, head = sample.image.astype(float), sample.mask > 0
    assert image[0, 0] == 0 and image[0, -1] == 0  # outside the sector fan
    skull = head & ~ndimage.binary_erosion(head, iterations=8)
    brain = ndimage.binary_erosion(head, iterations=40)
    assert image[skull].mean() > 2 * image[brain].mean()
    assert image[brain].std() > 10  # speckle, not a flat fill


def test_cine_sweeps_the_head_with_per_frame_truth(clip: samples.SyntheticClip) -> None:
    assert clip.frames.shape == clip.masks.shape == (8, 300, 400)
    assert len(clip.head_circumference_mm) == 8 and clip.frame_interval_ms > 0
    hc = np.array(clip.head_circumference_mm)
    assert hc.argmax() not in (0, 7) and hc.max() > 1.1 * hc[0]  # grows then shrinks
    centers = [regionprops(m.astype(np.uint8))[0].centroid[1] for m in clip.masks]
    assert np.all(np.diff(centers) > 0)  # moves across the image
    for mask, truth in zip(clip.masks, hc, strict=True):
        assert mask_circumference_mm(mask > 0, clip.pixel_spacing_mm[1]) == pytest.approx(
            truth, rel=0.01
        )
    assert not np.array_equal(clip.frames[0], clip.frames[1])


def test_written_sample_data_matches_the_committed_files(tmp_path: Path) -> None:
    written = write_sample_data(tmp_path)
    committed = REPO / "sample_data"
    for path in written:
        relative = path.relative_to(tmp_path)
        assert path.read_bytes() == (committed / relative).read_bytes(), relative
    total = sum(p.stat().st_size for p in written)
    assert total < 1_500_000


def test_sample_data_is_readable_like_the_shared_data() -> None:
    folder = REPO / "sample_data"
    with (folder / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == [
        "synthetic_head_plane", "synthetic_pelvimetry_view", "synthetic_brain_plane"
    ]  # fmt: skip
    for row in rows:
        image = read_any(folder / row["image"])
        assert image.data.shape == (int(row["height"]), int(row["width"]))
        assert read_any(folder / row["mask"]).data.shape == image.data.shape
    cine = read_any(folder / "synthetic_cine_sweep.dcm")
    assert cine.is_stack and cine.data.shape == (24, 300, 400)
    assert cine.pixel_spacing_mm == pytest.approx((0.2, 0.2))
    assert cine.frame_interval_ms == pytest.approx(40.0)


def test_cli_needs_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
