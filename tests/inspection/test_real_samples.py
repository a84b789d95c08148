"""The shared sample images with their expert masks, and the embedded model's proposals."""

from __future__ import annotations

import pytest

from napari_fada.data.dataset import Dataset
from napari_fada.inspection.export import export_dataset, export_report
from napari_fada.inspection.per_image import Inspection
from napari_fada.inspection.plots import save_figures, summary_figures
from napari_fada.models.embedded_weights import MODEL_VERSION
from napari_fada.models.registry import load_backend

#: One image of each source dataset keeps the test to a few seconds.
IMAGES = ("hc18_010_HC", "psfhs_03744", "brain_Patient00644_Plane3_1_of_3")


@pytest.fixture(scope="module")
def inspected(samples_dir) -> Inspection:
    inspection = Inspection.open(samples_dir)
    backend = load_backend("embedded")
    try:
        inspection.add_predictions(inspection.predict(backend, IMAGES))
    finally:
        backend.close()
    return inspection


def test_the_embedded_models_cases_are_scored_and_sorted_worst_first(inspected) -> None:
    cases = inspected.worst_first()
    assert sorted(c.image_id for c in cases) == sorted(IMAGES)
    assert {c.model_id for c in cases} == {f"fada-embedded-{MODEL_VERSION}"}
    dice = [c.mean_dice for c in cases]
    assert dice == sorted(dice)
    assert {c.source_dataset for c in cases} == {"HC18", "PSFHS", "fetal-head-biometry-tv"}
    for case in cases:
        assert case.result.plane_correct is not None and case.plane_score is not None


def test_real_cases_export_as_dataset_report_and_plots(inspected, tmp_path) -> None:
    worst = inspected.worst_first()[:2]
    saved = export_dataset(inspected, worst, tmp_path / "hard")
    assert saved == [c.image_id for c in worst]
    assert len(Dataset.open(tmp_path / "hard", create=False).records()) == 2
    report = export_report(inspected, worst, tmp_path / "report").read_text()
    assert all(f"### {c.image_id} — fada-embedded-{MODEL_VERSION}" in report for c in worst)
    plots = save_figures(summary_figures(inspected.worst_first()), tmp_path / "plots")
    assert all(p.stat().st_size > 10_000 for p in plots)
