"""Training augmentation: shapes and labels move with the image, nothing leaves 0..1."""

from __future__ import annotations

import torch

from napari_fada.training.augment import augment


def test_labels_follow_the_image_and_values_stay_in_range():
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(16, 1, 48, 48)
    masks = torch.zeros(16, 48, 48, dtype=torch.long)
    images[:, :, 14:34, 14:34] = 1.0
    masks[:, 14:34, 14:34] = 2
    out, out_masks = augment(images, masks, torch.ones(16, dtype=torch.bool), generator)
    assert out.shape == images.shape and out_masks.shape == masks.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert set(out_masks.unique().tolist()) <= {0, 2}
    # Inside the moved square the image is mostly bright, outside mostly dark.
    inside = out[:, 0][out_masks == 2].mean()
    outside = out[:, 0][out_masks == 0].mean()
    assert float(inside) > float(outside) + 0.2


def test_images_that_may_not_be_mirrored_keep_their_sides():
    generator = torch.Generator().manual_seed(1)
    images = torch.zeros(32, 1, 32, 32)
    masks = torch.zeros(32, 32, 32, dtype=torch.long)
    masks[:, 8:24, 2:10] = 1  # a structure on the left
    _, out_masks = augment(images, masks, torch.zeros(32, dtype=torch.bool), generator)
    columns = torch.nonzero(out_masks == 1)[:, 2].float()
    assert float(columns.mean()) < 16  # rotation and shift move it, but never to the right
