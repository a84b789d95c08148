"""The fast scanline fill agrees with geometry.polygon_to_mask and inverts traced outlines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.core.geometry import mask_to_polygons, polygon_to_mask
from napari_fada.core.polygon_fill import fill_polygon


@pytest.mark.parametrize("seed", range(5))
def test_random_polygons_fill_like_polygon_to_mask(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        # Self-intersecting and partly outside the image, to exercise even-odd and clipping.
        points = [tuple(p) for p in rng.uniform(-5.0, 45.0, (int(rng.integers(3, 12)), 2))]
        assert np.array_equal(fill_polygon(points, 40, 30), polygon_to_mask(points, 40, 30))


def test_degenerate_polygons_fill_nothing() -> None:
    assert not fill_polygon([(1.0, 1.0), (5.0, 5.0)], 10, 10).any()
    assert not fill_polygon([(1.0, 2.0), (5.0, 2.0), (8.0, 2.0)], 10, 10).any()


def test_traced_sample_masks_fill_back_exactly(samples_dir: Path) -> None:
    for path in sorted((samples_dir / "masks").glob("hc18_*.png"))[:2]:
        mask = np.asarray(Image.open(path)) == 3
        (outline,) = mask_to_polygons(mask, tolerance=0.0, min_area=0.0)
        assert np.array_equal(fill_polygon(outline, mask.shape[1], mask.shape[0]), mask)
