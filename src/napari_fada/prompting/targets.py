"""Objects to prompt for: every connected instance of every labelled structure of a dataset.

The prompt model knows no classes, so each instance (a head, one ventricle) is one target. The
dataset folders are read and split with :mod:`napari_fada.training.data` (subjects apart,
``--holdout`` tail blocks of whole recordings), at full resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from napari_fada.core.geometry import mask_box
from napari_fada.core.proposal import Box
from napari_fada.core.scan_planes import PLANE_NAMES
from napari_fada.errors import DatasetError
from napari_fada.training.data import (
    HOLDOUT_SPLIT,
    Sample,
    hold_out,
    read_dataset,
    split_samples,
)

#: Instances smaller than this (pixels) are specks of a label, not objects to prompt for.
MIN_INSTANCE_PX = 30
SPLITS = ("train", "val", HOLDOUT_SPLIT, "all")


@dataclass(frozen=True)
class Target:
    """One object: the index of its image in the set, its structure and its full-size mask."""

    image: int
    structure: str
    mask: np.ndarray
    box: Box


@dataclass
class TargetSet:
    """Grayscale uint8 images and the targets on them."""

    images: list[np.ndarray] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def structures(self) -> list[str]:
        return sorted({t.structure for t in self.targets})


def instances(labels: np.ndarray, names: dict[int, str]) -> list[tuple[str, np.ndarray]]:
    """(structure, boolean mask) of each connected instance in label image ``labels``."""
    found = []
    for value in (int(v) for v in np.unique(labels) if v):
        components, count = ndimage.label(labels == value)
        for index in range(1, count + 1):
            mask = components == index
            if mask.sum() >= MIN_INSTANCE_PX:
                found.append((names.get(value, f"label {value}"), mask))
    return found


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = image[..., :3].mean(axis=2)
    return np.clip(image, 0, 255).astype(np.uint8)


def _add(target_set: TargetSet, samples: Sequence[Sample]) -> None:
    for sample in tqdm(samples, desc="reading", unit="img", leave=False):
        reference = sample.reference
        if not reference.has_mask:
            continue
        image = _gray(reference.image)
        labels = reference.mask
        if labels.shape != image.shape:
            raise DatasetError(f"{reference.mask_path} does not match the size of its image")
        found = instances(labels, reference.structures)
        if not found:
            continue
        index = len(target_set.images)
        target_set.images.append(image)
        target_set.image_ids.append(reference.image_id)
        for structure, mask in found:
            box = mask_box(mask)
            assert box is not None
            target_set.targets.append(Target(index, structure, mask, box))


def load_targets(
    folders: Sequence[Path], holdout: Sequence[str] = (), splits: Sequence[str] = SPLITS
) -> dict[str, TargetSet]:
    """The targets of ``folders`` by split (``train``, ``val``, ``holdout``, ``all``: every
    row), only the ``splits`` asked for; DatasetError for a folder that cannot be used."""
    samples: list[Sample] = []
    for folder in folders:
        samples += read_dataset(Path(folder), PLANE_NAMES)
    samples = hold_out(samples, holdout)
    rows: dict[str, list[Sample]] = {"all": samples}
    if {"train", "val"} & set(splits):
        rows["train"], rows["val"] = split_samples(samples)
    rows[HOLDOUT_SPLIT] = [s for s in samples if s.split == HOLDOUT_SPLIT]
    sets = {}
    for split in splits:
        sets[split] = TargetSet()
        _add(sets[split], rows[split])
    if not any(s.targets for s in sets.values()):
        raise DatasetError(
            f"no labelled objects in {', '.join(str(f) for f in folders)}: prompting needs "
            "masks (masks/<id>.png with the ids of labels.json)"
        )
    return sets
