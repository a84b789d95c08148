"""Biometry measures with the pixel size the image came with: from its folder's manifest.csv
(a plain PNG) or from DICOM, without the annotator typing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from napari_fada._napari.annotator.widget import AnnotatorWidget
from tests._napari.annotator.test_annotator_widget import propose
from tests.data.dicom_case import make_dataset, save
from tests.scripted_backend import ScriptedBackend

HEAD = "hc18_010_HC"
HEAD_SIZE = 0.0799351646787


@pytest.fixture
def widget(make_napari_viewer) -> AnnotatorWidget:
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.set_backend(ScriptedBackend())
    return widget


def test_a_png_from_a_shared_folder_measures_with_its_manifest_size(
    widget, qtbot, samples_dir: Path
) -> None:
    widget.viewer.open(samples_dir / "images" / f"{HEAD}.png", plugin="napari-fada")
    assert widget.biometry.pixel_spacing_mm() == pytest.approx((HEAD_SIZE, HEAD_SIZE))
    assert widget.biometry.spacing.text() != "unknown"
    propose(widget, qtbot)
    assert "HC" in widget.biometry.readout.text()


def test_stepping_through_the_shared_folder_takes_each_images_size(
    widget, samples_dir: Path
) -> None:
    widget.viewer.open(samples_dir / "images", plugin="napari-fada")
    sizes = []
    for _ in range(6):  # brain (none in the manifest) then the HC18 images (each its own)
        sizes.append(widget.biometry.pixel_spacing_mm())
        widget.next_image()
    assert sizes[:3] == [None] * 3
    assert sizes[3] == pytest.approx((0.0799272457759,) * 2)  # hc18_010_2HC
    assert sizes[4] == pytest.approx((HEAD_SIZE,) * 2)


def test_a_dicom_measures_with_its_ultrasound_region_calibration(widget, tmp_path) -> None:
    ds = make_dataset(np.zeros((60, 80), np.uint8))
    region = Dataset()
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX = region.PhysicalDeltaY = 0.012
    ds.SequenceOfUltrasoundRegions = [region]
    widget.viewer.open(save(ds, tmp_path / "scan.dcm"), plugin="napari-fada")
    assert widget.biometry.pixel_spacing_mm() == pytest.approx((0.12, 0.12))
