"""A process pool and a real Dask LocalCluster of two worker processes write the same dataset
as one process: same records, same annotations, same order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from napari_fada.batch.prelabel import prelabel
from napari_fada.batch.report import RunReport
from napari_fada.data.dataset import Dataset
from tests.batch.conftest import CLIP_FRAMES, EMBEDDED, SMALL_IMAGES, write_images_folder

pytestmark = pytest.mark.slow  # worker processes start and load the model


def _contents(root: Path) -> list[tuple[Any, ...]]:
    """Everything a run decides, without ids and times (fresh on every run)."""
    dataset = Dataset.open(root)
    contents = []
    for record in dataset.records():
        _, proposal = dataset.load(record.image_id) or pytest.fail(f"{record.image_id} lost")
        annotations = [
            (a.label, a.box, a.polygon, a.score, a.status, a.source) for a in proposal.annotations
        ]
        plane = proposal.plane and (proposal.plane.label, proposal.plane.probabilities)
        contents.append((record, annotations, plane, proposal.biometry))
    return contents


@pytest.fixture(scope="module")
def inputs(samples_dir: Path, cine_dicom: Path, tmp_path_factory: pytest.TempPathFactory):
    return [write_images_folder(samples_dir, tmp_path_factory.mktemp("in") / "scans"), cine_dicom]


@pytest.fixture(scope="module")
def single(inputs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    """The dataset written by this process alone."""
    out = tmp_path_factory.mktemp("single") / "ds"
    return out, prelabel(inputs, out, EMBEDDED, workers=1)


@pytest.mark.parametrize("scheduler", [None, "local"], ids=["process-pool", "dask-localcluster"])
def test_two_worker_processes_write_the_same_dataset_as_one_process(
    scheduler: str | None, inputs: list[Path], single: tuple[Path, RunReport], tmp_path: Path
):
    single_out, single_report = single
    report = prelabel(inputs, tmp_path / "ds", EMBEDDED, workers=2, scheduler=scheduler)
    expected = len(SMALL_IMAGES) + CLIP_FRAMES
    assert (single_report.done, single_report.failed) == (expected, 1)
    assert (report.done, report.failed, report.workers) == (expected, 1, 2)
    assert report.failures == single_report.failures
    assert _contents(tmp_path / "ds") == _contents(single_out)


def test_an_existing_dask_cluster_is_used_by_its_address(inputs: list[Path], tmp_path: Path):
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        report = prelabel(inputs, tmp_path / "ds", EMBEDDED, scheduler=cluster.scheduler_address)
        assert cluster.workers  # still running: the run closed its client, not the cluster
    assert (report.done, report.failed) == (len(SMALL_IMAGES) + CLIP_FRAMES, 1)
