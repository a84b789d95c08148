"""Exports: a dataset that opens and evaluates, and reports that name and picture the cases."""

from __future__ import annotations

import pytest

from napari_fada.data.dataset import Dataset
from napari_fada.errors import DatasetError
from napari_fada.inspection.evaluate import evaluate_proposals
from napari_fada.inspection.export import export_dataset, export_report
from tests.inspection.cases import known_set


@pytest.fixture
def scored():
    inspection, predictions, _ = known_set()
    inspection.add_predictions(predictions)
    return inspection, predictions


def test_exported_cases_form_a_dataset_of_their_ground_truth(scored, tmp_path) -> None:
    inspection, predictions = scored
    chosen = inspection.worst_first()[:2]
    assert export_dataset(inspection, chosen, tmp_path / "hard") == ["missed", "half"]
    dataset = Dataset.open(tmp_path / "hard", create=False)
    assert [r.image_id for r in dataset.records()] == ["missed", "half"]
    record, truth = dataset.load("half")
    assert record.source_dataset == "synthetic"
    assert [a.status for a in truth.annotations] == ["accepted"]
    assert truth.plane is not None and truth.plane.label == "trans-thalamic"
    # the exported truth scores the model as the inspection did
    report = evaluate_proposals(predictions, tmp_path / "hard")
    assert report.dice["head"] == pytest.approx((0.0 + 2 / 3) / 2, abs=1e-3)


def test_exporting_into_a_foreign_folder_is_a_clear_error(scored, tmp_path) -> None:
    inspection, _ = scored
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not a napari-fada dataset"):
        export_dataset(inspection, inspection.worst_first(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("kind", ["markdown", "html"])
def test_the_report_names_each_case_with_its_picture_and_answers(scored, tmp_path, kind) -> None:
    inspection, _ = scored
    chosen = inspection.worst_first()[:2]
    path = export_report(inspection, chosen, tmp_path, kind)
    text = path.read_text()
    assert path.name == ("report.md" if kind == "markdown" else "report.html")
    assert text.index("missed — model-a") < text.index("half — model-a")
    assert "perfect" not in text.split("Cases", 1)[1]
    pictures = ("cases/model-a__missed.png", "cases/model-a__half.png", "plots/calibration.png")
    for picture in pictures:
        assert picture in text and (tmp_path / picture).is_file()
    assert "model-a" in text and "imaging_plane" in text  # raw answer and interpretation
