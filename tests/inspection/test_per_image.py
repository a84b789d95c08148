"""Per-image scoring: the worst-first order, several models, matching ids, saved predictions."""

from __future__ import annotations

import numpy as np
import pytest

from napari_fada.core.metrics import detection_matches
from napari_fada.core.proposal import ImageRecord
from napari_fada.data.dataset import Dataset
from napari_fada.errors import DatasetError
from napari_fada.inspection.per_image import load_predictions
from tests.inspection.cases import HEAD, known_set, prediction, rectangle


def test_cases_are_listed_worst_first_for_a_known_set_of_predictions() -> None:
    inspection, predictions, expected = known_set()
    inspection.add_predictions(predictions)
    cases = inspection.worst_first()
    assert [c.image_id for c in cases] == expected
    by_id = {c.image_id: c for c in cases}
    assert by_id["missed"].mean_dice == 0.0
    assert by_id["half"].mean_dice == pytest.approx(2 / 3, abs=1e-3)
    assert by_id["plane"].result.plane_correct is False
    assert by_id["perfect"].mean_dice == 1.0
    assert by_id["perfect"].box_ap == {"head": pytest.approx(1.0)}
    assert [c.failed for c in cases] == [True, True, True, False]


def test_each_model_has_its_own_cases_and_reloading_a_model_replaces_them() -> None:
    inspection, predictions, _ = known_set()
    inspection.add_predictions(predictions)
    other = {i: prediction(p.annotations, model_id="model-b") for i, p in predictions.items()}
    inspection.add_predictions(other)
    inspection.add_predictions(predictions)
    cases = inspection.worst_first()
    assert len(cases) == 8
    assert sorted(inspection.cases) == ["model-a", "model-b"]
    assert [c.model_id for c in cases[:2]] == ["model-a", "model-b"]  # both missed: ties by model


def test_predictions_for_other_images_are_a_clear_error() -> None:
    inspection, predictions, _ = known_set()
    with pytest.raises(DatasetError, match="image ids do not match"):
        inspection.add_predictions({"elsewhere": predictions["perfect"]})
    assert inspection.cases == {}


def test_detection_matches_names_false_positives_and_missed_boxes() -> None:
    truth = [rectangle("head", *HEAD), rectangle("CSP", 1, 1, 5, 5)]
    found = [rectangle("head", *HEAD, score=0.9), rectangle("LV", 30, 2, 36, 9, score=0.4)]
    detections, missed = detection_matches(found, truth)
    assert {(d.label, d.matched, d.score) for d in detections} == {
        ("head", True, 0.9),
        ("LV", False, 0.4),
    }
    assert missed == [("CSP", (1, 1, 5, 5))]


def test_saved_predictions_load_by_image_id(tmp_path) -> None:
    _, predictions, _ = known_set()
    dataset = Dataset.open(tmp_path / "predictions")
    for value, image_id in enumerate(("half", "missed")):
        pixels = np.full((30, 40), value, np.uint8)  # different pixels: the dataset keeps both
        dataset.save(ImageRecord(image_id, 40, 30), pixels, predictions[image_id])
    loaded, problems = load_predictions(tmp_path / "predictions")
    assert sorted(loaded) == ["half", "missed"] and problems == []
    assert loaded["half"].annotations[0].box == predictions["half"].annotations[0].box


def test_a_folder_without_predictions_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DatasetError, match="No dataset"):
        load_predictions(tmp_path / "nothing")
