"""Score a model, or saved proposals, against a dataset with ground truth.

A dataset is a folder in the shared layout (manifest.csv, images/, masks/, labels.json), a
plane-only folder (manifest.csv and images/ with a plane per row), or one the plugin saved (the
same layout plus annotations/<image_id>.json); each is reduced to
:class:`~napari_fada.core.scoring.Reference` items, so every backend and every dataset is scored
by the same code in :mod:`napari_fada.core.scoring`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from napari_fada.core.proposal import Proposal
from napari_fada.core.scan_planes import OTHER_PLANE
from napari_fada.core.scoring import EvaluationReport, Reference, build_report
from napari_fada.data.dataset import is_saved_dataset
from napari_fada.errors import DatasetError
from napari_fada.models.base import Backend, CancelToken, ProgressCallback, ProposeRequest


@dataclass(frozen=True)
class DatasetItem:
    """One image of a dataset; its reference and pixels are read only when asked for."""

    image_id: str
    split: str | None
    reference: Callable[[], Reference]
    image: Callable[[], np.ndarray]


def reference_from_proposal(
    image_id: str,
    truth: Proposal,
    plane: str | None,
    plane_aliases: tuple[str, ...],
    pixel_spacing_mm: tuple[float, float] | None,
) -> Reference:
    """The kept (accepted or edited) annotations of a reviewed proposal as ground truth."""
    return Reference(
        image_id=image_id,
        width=truth.width,
        height=truth.height,
        annotations=truth.kept(),
        plane=plane or None,
        plane_aliases=tuple(a for a in plane_aliases if a),
        hc_mm=truth.biometry.get("hc_mm"),
        pixel_spacing_mm=pixel_spacing_mm,
    )


def _shared_layout_items(root: Path) -> Iterator[DatasetItem]:
    from napari_fada.data.shared_layout import (
        ReferenceSample,
        iter_reference,
        labelled_structures,
        reference_proposal,
    )

    labelled = labelled_structures(root)

    def reference(sample: ReferenceSample) -> Reference:
        # The manifest's plane is the truth; FADA's class label for it is also right.
        truth = reference_from_proposal(
            sample.image_id,
            reference_proposal(sample),
            sample.plane,
            (sample.fada_plane_label,),
            sample.pixel_spacing_mm,
        )
        # A plane-only sample labels no structure: its shapes are not scored, only counted.
        known = labelled.get(sample.source_dataset) if sample.has_mask else frozenset()
        return replace(truth, labelled=known, source=sample.source_dataset or None)

    def image(sample: ReferenceSample) -> np.ndarray:
        return sample.image

    for sample in iter_reference(root):
        split = sample.split or None
        yield DatasetItem(
            sample.image_id, split, partial(reference, sample), partial(image, sample)
        )


def _saved_dataset_items(root: Path) -> Iterator[DatasetItem]:
    from napari_fada.data.dataset import Dataset

    dataset = Dataset.open(root, create=False)
    for problem in dataset.problems:
        print(f"napari-fada evaluate: skipped: {problem}", file=sys.stderr)

    def reference(image_id: str) -> Reference:
        loaded = dataset.load(image_id)
        if loaded is None:
            raise DatasetError(f"{image_id} is listed in {root} but has no annotation file.")
        record, truth = loaded
        # A saved dataset's plane truth is the plane call a person accepted.
        kept = truth.plane is not None and truth.plane.status in ("accepted", "edited")
        plane = truth.plane.label if kept and truth.plane else None
        return reference_from_proposal(image_id, truth, plane, (), record.pixel_spacing_mm)

    for record in dataset.records():
        image_id = record.image_id
        yield DatasetItem(
            image_id, record.split, partial(reference, image_id), partial(dataset.image, image_id)
        )


def dataset_items(
    data_root: str | Path, split: str | None = None, limit: int | None = None
) -> list[DatasetItem]:
    """The images of a dataset folder (either layout), of ``split`` if given, at most ``limit``."""
    root = Path(data_root)
    if not (root / "manifest.csv").is_file():
        raise DatasetError(
            f"{root} is not a dataset with ground truth: it has no manifest.csv. Point --data at "
            "a folder in the shared layout or at a dataset saved by napari-fada."
        )
    items = _saved_dataset_items(root) if is_saved_dataset(root) else _shared_layout_items(root)
    chosen = [item for item in items if split is None or item.split == split]
    if not chosen:
        where = f" in split {split!r}" if split else ""
        raise DatasetError(f"{root} has no images{where}: check --split and the manifest.")
    return chosen[:limit] if limit is not None else chosen


#: Sizes (height, width) of the made-up negatives, as screens and cameras give them.
NEGATIVE_SIZES = ((480, 640), (540, 800), (300, 400), (600, 600))
NEGATIVES_SOURCE = "made-up non-ultrasound"


def negative_items(count: int, seed: int = 1_000) -> list[DatasetItem]:
    """``count`` made-up images that are no ultrasound (photos, drawings, screens, blank frames,
    an empty sector), each with the truth "other plane, no structure"."""
    from napari_fada.samples.negatives import KINDS, negative_image

    kinds = list(KINDS)

    def reference(image_id: str, size: tuple[int, int]) -> Reference:
        return Reference(
            image_id, size[1], size[0], [], plane=OTHER_PLANE, labelled=frozenset(),
            source=NEGATIVES_SOURCE,
        )  # fmt: skip

    items = []
    for index in range(count):
        kind, size = kinds[index % len(kinds)], NEGATIVE_SIZES[index % len(NEGATIVE_SIZES)]
        image_id = f"negative_{kind}_{index}"
        items.append(
            DatasetItem(
                image_id,
                None,
                partial(reference, image_id, size),
                partial(negative_image, kind, seed + index, size),
            )
        )
    return items


def propose_items(
    backend: Backend,
    items: list[DatasetItem],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[tuple[Proposal, Reference]]:
    """Run ``backend`` on each item's image: (proposal, reference) pairs to score."""
    pairs: list[tuple[Proposal, Reference]] = []
    for index, item in enumerate(items):
        if cancel is not None:
            cancel.raise_if_cancelled()
        reference = item.reference()
        request = ProposeRequest(pixel_spacing_mm=reference.pixel_spacing_mm)
        pairs.append((backend.propose(item.image(), request, cancel=cancel), reference))
        if progress is not None:
            progress(f"scored {item.image_id}", (index + 1) / len(items))
    return pairs


def score_items(
    backend: Backend,
    items: list[DatasetItem],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EvaluationReport:
    """Run ``backend`` on each item's image and score its proposals."""
    pairs = propose_items(backend, items, progress, cancel)
    return build_report(pairs, model_id=backend.model_id)


def evaluate_backend(
    backend: Backend,
    data_root: str | Path,
    split: str | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EvaluationReport:
    """Run ``backend`` on every image of the dataset (of ``split``, at most ``limit``) and score."""
    return score_items(backend, dataset_items(data_root, split, limit), progress, cancel)


def evaluate_proposals(
    predictions: Mapping[str, Proposal],
    references: str | Path | Iterable[Reference],
    split: str | None = None,
) -> EvaluationReport:
    """Score saved ``predictions`` (image id -> proposal) against a dataset folder or references.

    Only images with a prediction are scored; the others are counted in ``n_skipped``.
    """
    if isinstance(references, (str, Path)):
        items = dataset_items(references, split)
        wanted = [item.reference() for item in items if item.image_id in predictions]
        n_total = len(items)
    else:
        every = list(references)
        wanted = [r for r in every if r.image_id in predictions]
        n_total = len(every)
    if not wanted:
        raise DatasetError(
            "None of the predictions is for an image of the reference dataset: check that the "
            "image ids match."
        )
    models = {p.model.model_id for p in predictions.values()}
    return build_report(
        ((predictions[r.image_id], r) for r in wanted),
        model_id=", ".join(sorted(models)),
        n_skipped=n_total - len(wanted),
    )
