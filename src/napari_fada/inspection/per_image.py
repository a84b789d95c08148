"""Score one or more models' proposals image by image against a dataset's ground truth.

Scores come from :func:`napari_fada.core.scoring.score_image` and the detection matching of
:func:`napari_fada.core.metrics.detection_ap50`, the code ``napari-fada evaluate`` uses, so the
figures in the inspection table are the evaluation's figures, image by image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_fada.core.metrics import (
    DetectionMatch,
    detection_ap50,
    detection_matches,
    mean,
    scored,
)
from napari_fada.core.proposal import Box, Proposal
from napari_fada.core.scoring import (
    EvaluationReport,
    ImageResult,
    Reference,
    build_report,
    score_image,
    scored_prediction,
)
from napari_fada.data.formats.csv_text import read_csv
from napari_fada.errors import DatasetError
from napari_fada.inspection.evaluate import DatasetItem, dataset_items
from napari_fada.models.base import Backend, CancelToken, ProgressCallback, ProposeRequest

#: An image whose mean Dice is below this, or whose plane is wrong, counts as a failure.
FAILURE_DICE = 0.7


@dataclass
class InspectionCase:
    """One model's proposal for one image, scored against that image's ground truth."""

    image_id: str
    model_id: str
    source_dataset: str
    result: ImageResult
    box_ap: dict[str, float]
    detections: list[DetectionMatch]
    missed_boxes: list[tuple[str, Box]]
    plane_score: float | None

    @property
    def mean_dice(self) -> float | None:
        """Mean Dice over the structures scored on this image (None when there were none)."""
        return mean(self.result.dice.values())

    @property
    def mean_box_ap(self) -> float | None:
        return mean(self.box_ap.values())

    @property
    def worst_structure(self) -> str | None:
        dice = self.result.dice
        return min(dice, key=lambda label: (dice[label], label)) if dice else None

    @property
    def failed(self) -> bool:
        dice = self.mean_dice
        return (dice is not None and dice < FAILURE_DICE) or self.result.plane_correct is False

    def sort_key(self) -> tuple[float, int, float, str, str]:
        """Worst first: lowest mean Dice, then a wrong plane, then lowest box AP.

        An image with nothing to segment in truth or prediction counts as Dice 1.
        """
        dice = self.mean_dice
        ap = self.mean_box_ap
        plane_ok = 0 if self.result.plane_correct is False else 1
        return (
            1.0 if dice is None else dice,
            plane_ok,
            1.0 if ap is None else ap,
            self.image_id,
            self.model_id,
        )


def inspect_case(
    prediction: Proposal, reference: Reference, model_id: str, source_dataset: str = ""
) -> InspectionCase:
    """Score one proposal: per-structure Dice and IoU, box AP@0.50, plane, matched boxes."""
    predicted = scored_prediction(prediction, reference)
    truth = scored(reference.annotations)
    detections, missed = detection_matches(predicted, truth)
    return InspectionCase(
        image_id=reference.image_id,
        model_id=model_id,
        source_dataset=source_dataset,
        result=score_image(prediction, reference),
        box_ap=detection_ap50([(predicted, truth)]),
        detections=detections,
        missed_boxes=missed,
        plane_score=prediction.plane.score if prediction.plane else None,
    )


def load_predictions(folder: str | Path) -> tuple[dict[str, Proposal], list[str]]:
    """The proposals saved in a dataset folder (e.g. by ``napari-fada propose``), by image id,
    and one message per annotation file that could not be read."""
    from napari_fada.data.dataset import Dataset

    dataset = Dataset.open(Path(folder), create=False)
    predictions: dict[str, Proposal] = {}
    problems = list(dataset.problems)
    for record in dataset.records():
        try:
            loaded = dataset.load(record.image_id)
        except DatasetError as error:
            problems.append(str(error))
            continue
        if loaded is not None:
            predictions[record.image_id] = loaded[1]
    if not predictions:
        raise DatasetError(f"{folder} holds no saved proposals: choose a folder of predictions.")
    return predictions, problems


def model_name(predictions: Mapping[str, Proposal]) -> str:
    """The model id(s) the proposals name, joined when they come from several."""
    return ", ".join(sorted({p.model.model_id for p in predictions.values()})) or "unknown model"


def _source_datasets(root: Path) -> dict[str, str]:
    """image id -> source_dataset column of the manifest (both layouts have one)."""
    rows = read_csv(root / "manifest.csv")
    return {row.get("id", ""): row.get("source_dataset", "") for row in rows}


@dataclass
class Inspection:
    """A dataset's ground truth and the loaded models' proposals, scored image by image."""

    root: Path
    items: dict[str, DatasetItem]
    sources: dict[str, str]
    predictions: dict[str, dict[str, Proposal]] = field(default_factory=dict)
    cases: dict[str, list[InspectionCase]] = field(default_factory=dict)
    _references: dict[str, Reference] = field(default_factory=dict, repr=False)

    @classmethod
    def open(
        cls, data_root: str | Path, split: str | None = None, limit: int | None = None
    ) -> Inspection:
        """The dataset with ground truth at ``data_root`` (shared layout or saved by us)."""
        root = Path(data_root)
        items = {item.image_id: item for item in dataset_items(root, split, limit)}
        return cls(root, items, _source_datasets(root))

    def reference(self, image_id: str) -> Reference:
        if image_id not in self._references:
            self._references[image_id] = self.items[image_id].reference()
        return self._references[image_id]

    def image(self, image_id: str) -> np.ndarray:
        return self.items[image_id].image()

    def predict(
        self,
        backend: Backend,
        image_ids: Iterable[str] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, Proposal]:
        """Run ``backend`` on the images (default: all), with their pixel spacing."""
        chosen = list(self.items if image_ids is None else image_ids)
        proposals: dict[str, Proposal] = {}
        for index, image_id in enumerate(chosen):
            if cancel is not None:
                cancel.raise_if_cancelled()
            request = ProposeRequest(pixel_spacing_mm=self.reference(image_id).pixel_spacing_mm)
            proposals[image_id] = backend.propose(self.image(image_id), request, cancel=cancel)
            if progress is not None:
                progress(f"proposed {image_id}", (index + 1) / len(chosen))
        return proposals

    def add_predictions(
        self,
        predictions: Mapping[str, Proposal],
        model_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[InspectionCase]:
        """Score ``predictions`` (image id -> proposal) as model ``model_id`` (default: the id
        the proposals name), replacing what that model had. Images of other datasets are ignored;
        DatasetError when none of the predictions is for an image of this dataset."""
        model_id = model_id or model_name(predictions)
        wanted = [image_id for image_id in self.items if image_id in predictions]
        if not wanted:
            raise DatasetError(
                f"None of the {len(predictions)} predictions of {model_id} is for an image of "
                f"{self.root}: the image ids do not match. Predict on this dataset's images."
            )
        cases = []
        for index, image_id in enumerate(wanted):
            cases.append(
                inspect_case(
                    predictions[image_id],
                    self.reference(image_id),
                    model_id,
                    self.sources.get(image_id, ""),
                )
            )
            if progress is not None:
                progress(f"scored {image_id}", (index + 1) / len(wanted))
        self.predictions[model_id] = {i: predictions[i] for i in wanted}
        self.cases[model_id] = cases
        return cases

    def worst_first(self) -> list[InspectionCase]:
        """Every model's cases, worst first (see :meth:`InspectionCase.sort_key`)."""
        every = [case for cases in self.cases.values() for case in cases]
        return sorted(every, key=InspectionCase.sort_key)

    def proposal(self, case: InspectionCase) -> Proposal:
        return self.predictions[case.model_id][case.image_id]

    def report(self, model_id: str) -> EvaluationReport:
        """The evaluation report of one model over the images it predicted."""
        predictions = self.predictions[model_id]
        pairs = ((predictions[i], self.reference(i)) for i in predictions)
        return build_report(pairs, model_id=model_id, n_skipped=len(self.items) - len(predictions))
