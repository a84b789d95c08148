"""Training data for the embedded model: dataset folders read, checked and cached at model size.

Folders are read with :mod:`napari_fada.data.shared_layout`, so the shared reference data and
the plugin's saved datasets are both accepted. Every problem is a DatasetError naming the folder
or file and what to fix. Resized arrays are cached as ``.npz`` so a second run starts at once.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from napari_fada.core.scan_planes import plane_set
from napari_fada.data.dataset import is_saved_dataset
from napari_fada.data.shared_layout import ReferenceSample, iter_reference
from napari_fada.errors import DatasetError
from napari_fada.models.embedded_preprocess import resize_gray, resize_labels

#: Structures that may enclose a labelled one without being labelled themselves: the skull around
#: labelled brain structures. Their pixels fall among the image's background, so there background
#: stands for "background or one of these". A labelled (filled) head claims its inside, so the
#: brain structures are simply absent from images that label only the head. Every other
#: structure not labelled in an image counts as absent from it.
NESTED: dict[str, tuple[str, ...]] = {
    "Brain": ("head",),
    "CSP": ("head", "Brain"),
    "LV": ("head", "Brain"),
}
#: Rows dropped between a held-out block and the training rows (the rest of a recording).
HOLDOUT_GAP = 20
HOLDOUT_SPLIT = "holdout"
#: The fraction of groups (clips, source files) held out when a dataset names no ``val`` rows.
VAL_FRACTION = 0.1


@dataclass(frozen=True)
class Sample:
    """One manifest row with the planes it may show, as indices into the model's planes (one
    for a plane the model knows, several for a coarse name such as "brain", none if unknown)."""

    reference: ReferenceSample
    planes: tuple[int, ...]
    group: str  # rows of one group (a clip, a source file) never straddle train and val
    split_override: str = ""

    @property
    def split(self) -> str:
        return self.split_override or self.reference.split


@dataclass(frozen=True)
class Arrays:
    """Samples at model size: uint8 images and class-index masks (N, H, W), the planes each may
    show (N, planes) bool (all False: unknown), and per class (background first) whether its
    absence in an image is known (N, classes)."""

    images: np.ndarray
    masks: np.ndarray
    planes: np.ndarray
    annotated: np.ndarray


def _plane_indices(
    reference: ReferenceSample, planes: Sequence[str], folder: Path
) -> tuple[int, ...]:
    """The row's plane classes: from ``fada_plane_label`` (an accepted plane call in a saved
    dataset) or ``plane`` (the reference layout's class or a coarse name such as "brain"),
    whichever the model knows.

    In a dataset saved by the plugin, ``plane`` is the model's free-text description of the
    plane, not a class, so only the accepted ``fada_plane_label`` counts there."""
    if is_saved_dataset(folder):
        candidates: tuple[str, ...] = (reference.fada_plane_label,)
    else:
        candidates = (reference.plane, reference.fada_plane_label)
    names = [n.strip() for n in candidates if n.strip()]
    for name in names:
        found = plane_set(name, planes)
        if found:
            return found
    if names:
        raise DatasetError(
            f"{folder / 'manifest.csv'}: image {reference.image_id} has plane "
            f"{' / '.join(repr(n) for n in names)}, unknown to this model (known: "
            f"{', '.join(planes)}). In the annotator, set one of the model's own planes (or "
            "none) for that image, or train a new model without --init."
        )
    return ()


def read_dataset(folder: Path, planes: Sequence[str]) -> list[Sample]:
    """The rows of dataset ``folder``, their planes checked against the model's ``planes``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist")
    samples = [
        Sample(reference, _plane_indices(reference, planes, folder),
               f"{folder.name}:{reference.source_file or reference.image_id}")
        for reference in iter_reference(folder)
    ]  # fmt: skip
    if not samples:
        raise DatasetError(f"{folder / 'manifest.csv'} lists no images: the dataset is empty")
    return samples


def hold_out_tail(samples: Sequence[Sample], source: str, count: int) -> list[Sample]:
    """``samples`` with the last ``count`` rows of ``source`` (manifest order) put in the
    ``holdout`` split and the :data:`HOLDOUT_GAP` rows before them dropped.

    Neighbouring ids of a source like PSFHS are frames of one recording, so a validation block
    between training blocks overestimates; a block at one end of the range, kept apart by a gap,
    holds whole recordings the model never saw."""
    rows = [i for i, s in enumerate(samples) if s.reference.source_dataset == source]
    if count < 1 or len(rows) <= count + HOLDOUT_GAP:
        raise DatasetError(
            f"cannot hold out the last {count} rows of {source!r}: it has {len(rows)} rows"
        )
    held = set(rows[-count:])
    dropped = set(rows[-count - HOLDOUT_GAP : -count])
    return [
        replace(s, split_override=HOLDOUT_SPLIT) if i in held else s
        for i, s in enumerate(samples)
        if i not in dropped
    ]


def hold_out(samples: Sequence[Sample], specs: Sequence[str]) -> list[Sample]:
    """``samples`` with a tail block held out (:func:`hold_out_tail`) for each ``SOURCE:N`` of
    ``specs`` (e.g. ``PSFHS:150``)."""
    held = list(samples)
    for spec in specs:
        source, _, count = spec.rpartition(":")
        if not source or not count.isdigit():
            raise DatasetError(f"--holdout takes SOURCE:N (e.g. PSFHS:150), not {spec!r}")
        held = hold_out_tail(held, source, int(count))
    return held


def split_samples(samples: Sequence[Sample]) -> tuple[list[Sample], list[Sample]]:
    """(train, val): the ``val`` rows when any exist, else a fixed 10% of groups by hash.
    ``test`` and ``holdout`` rows are left out of both."""
    usable = [s for s in samples if s.split not in ("test", HOLDOUT_SPLIT)]
    if any(s.split == "val" for s in usable):
        is_val = [s.split == "val" for s in usable]
    else:
        is_val = _hashed_val(usable)
    train = [s for s, v in zip(usable, is_val, strict=True) if not v]
    val = [s for s, v in zip(usable, is_val, strict=True) if v]
    if not train:
        raise DatasetError("no training images: every row is in the validation or test split")
    return train, val


def _hashed_val(samples: Sequence[Sample]) -> list[bool]:
    """Which rows validate when no row says: the groups whose hash falls in the first
    :data:`VAL_FRACTION` of the range, and at least one group. Validating on training images
    would only measure memory, so a dataset of a single group is refused."""
    hashes = {s.group: zlib.crc32(s.group.encode()) for s in samples}
    if len(hashes) < 2:
        raise DatasetError(
            "cannot set images apart for validation: every image is from one clip or file. "
            "Mark some rows as split 'val' in manifest.csv, or add images from another source."
        )
    chosen = {g for g, h in hashes.items() if h % round(1 / VAL_FRACTION) == 0}
    chosen = chosen or {min(hashes, key=lambda g: hashes[g])}
    return [s.group in chosen for s in samples]


#: Images smaller than this on a side carry too little to learn from (a thumbnail, an icon).
MIN_SIDE_PX = 32


def too_small(sample: Sample) -> bool:
    """Whether the manifest gives the image a side under :data:`MIN_SIDE_PX`."""
    sides = (sample.reference.width, sample.reference.height)
    return any(side is not None and side < MIN_SIDE_PX for side in sides)


def _class_lookup(reference: ReferenceSample, structures: Sequence[str]) -> np.ndarray:
    """Mask value -> model class index, for the values labels.json names (0 elsewhere)."""
    lookup = np.zeros(256, dtype=np.uint8)
    for value, name in reference.structures.items():
        if name in structures and 0 < value < 256:
            lookup[value] = 1 + list(structures).index(name)
    return lookup


def _labelled(reference: ReferenceSample, mask: np.ndarray, structures: Sequence[str]) -> set[str]:
    """Names of the structures in ``mask``; DatasetError for ids unnamed or unknown to the model."""
    names = set()
    for value in (int(v) for v in np.unique(mask) if v != 0):
        name = reference.structures.get(value)
        if name is None:
            raise DatasetError(
                f"{reference.mask_path} has label id {value}, which labels.json does not name: "
                "add it to labels.json or fix the mask"
            )
        if name not in structures:
            raise DatasetError(
                f"{reference.mask_path} labels {name!r} (id {value}), a structure this model "
                f"does not know (known: {', '.join(structures)}). Remove those labels or train "
                "a new model without --init."
            )
        names.add(name)
    return names


def _load_sample(
    reference: ReferenceSample, structures: Sequence[str], size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(image and class mask at model size (2, H, W), annotated flags (classes,))."""
    image = reference.image
    # A plane-only sample's mask is all background: no second read of the image for its size.
    mask = reference.mask if reference.has_mask else np.zeros(image.shape[:2], dtype=np.uint8)
    if mask.ndim != 2:
        raise DatasetError(f"{reference.mask_path} is not a single-channel label image")
    if image.shape[:2] != mask.shape:
        raise DatasetError(
            f"image {reference.image_path} is {image.shape[1]}x{image.shape[0]} but its mask "
            f"{reference.mask_path} is {mask.shape[1]}x{mask.shape[0]}: they must match"
        )
    labelled = _labelled(reference, mask, structures)
    maybe_unlabelled = {n for name in labelled for n in NESTED.get(name, ())} - labelled
    annotated = np.array([True] + [name not in maybe_unlabelled for name in structures])
    classes = _class_lookup(reference, structures)[mask]
    pair = np.stack([resize_gray(image, size), resize_labels(classes, 1 + len(structures), size)])
    return pair, annotated


def _cache_key(samples: Sequence[Sample], structures: Sequence[str], size: tuple[int, int]) -> str:
    digest = hashlib.sha256(f"v2 {list(structures)} {size} {sorted(NESTED.items())}".encode())
    for sample in samples:
        reference = sample.reference
        digest.update(repr(sorted(reference.structures.items())).encode())
        for path in (reference.image_path, reference.mask_path):
            stat = path.stat() if path is not None and path.exists() else None
            digest.update(f"{path} {stat and stat.st_size} {stat and stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _plane_only_annotated(
    sample: Sample,
    structures: Sequence[str],
    planes: Sequence[str],
    plane_structures: Mapping[str, Sequence[str]],
) -> np.ndarray:
    """Annotated flags of an image without a mask: the structures of the planes it may show may
    be there unlabelled; every other structure is absent (none on an abdomen, a femur, a photo)."""
    maybe = {n for i in sample.planes for n in plane_structures.get(planes[i], ())}
    if not sample.planes:
        maybe = set(structures)
    return np.array([True] + [name not in maybe for name in structures])


def load_arrays(
    samples: Sequence[Sample],
    structures: Sequence[str],
    size: tuple[int, int],
    cache_dir: Path | None,
    planes: Sequence[str],
    plane_structures: Mapping[str, Sequence[str]],
) -> Arrays:
    """Read, check and resize ``samples`` (cached in ``cache_dir`` when given)."""
    key = _cache_key(samples, structures, size)
    cache = cache_dir / f"fada-train-{key}.npz" if cache_dir is not None else None
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            pairs, annotated = stored["pairs"], stored["annotated"]
    else:
        loaded = [
            _load_sample(s.reference, structures, size)
            for s in tqdm(samples, desc="reading", unit="img")
        ]
        pairs = np.stack([p for p, _ in loaded]).reshape(-1, 2, *size)
        annotated = np.stack([a for _, a in loaded]).reshape(-1, 1 + len(structures))
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(cache.stem + ".partial.npz")
            np.savez(partial, pairs=pairs, annotated=annotated)
            partial.replace(cache)
    annotated = annotated.copy()
    for row, sample in enumerate(samples):
        if not sample.reference.has_mask:
            annotated[row] = _plane_only_annotated(sample, structures, planes, plane_structures)
    plane_sets = np.zeros((len(samples), len(planes)), dtype=bool)
    for row, sample in enumerate(samples):
        plane_sets[row, list(sample.planes)] = True
    return Arrays(images=pairs[:, 0], masks=pairs[:, 1], planes=plane_sets, annotated=annotated)
