"""Made-up images that are no ultrasound: what the "other" plane must cover."""

from __future__ import annotations

import numpy as np

from napari_fada.samples.negatives import KINDS, negative_image, negative_images


def test_every_kind_is_drawn_the_same_from_the_same_seed():
    for kind in KINDS:
        first = negative_image(kind, 3, (40, 56))
        assert first.dtype == np.uint8 and first.shape == (40, 56)
        assert np.array_equal(first, negative_image(kind, 3, (40, 56)))


def test_a_set_mixes_the_kinds_and_its_images_differ():
    images = negative_images(2 * len(KINDS), (32, 32), seed=1)
    assert images.shape == (2 * len(KINDS), 32, 32)
    means = {round(float(image.mean()), 1) for image in images}
    assert len(means) > len(KINDS)  # not one picture repeated
    assert negative_images(0, (8, 8)).shape == (0, 8, 8)
