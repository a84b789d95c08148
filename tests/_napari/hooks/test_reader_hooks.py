"""The npe2 reader: which paths it claims, the layer tuples it gives, and a real viewer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

from napari_fada._napari.hooks.reader import get_reader
from napari_fada._napari.hooks.source import SOURCE_KEY, source_of
from napari_fada.data.lazy_stack import LazyFrameStack
from napari_fada.errors import ImageReadError
from tests.data.test_readers_video import frame_level, write_clip

REPO = Path(__file__).resolve().parents[3]
CINE = REPO / "sample_data" / "synthetic_cine_sweep.dcm"


def write_dicom(path: Path, image: np.ndarray, spacing: tuple[float, float]) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = UltrasoundMultiFrameImageStorage, generate_uid()
    ds.Modality = "US"
    ds.Rows, ds.Columns = image.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelSpacing = list(spacing)
    ds.PixelData = image.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_unknown_kinds_and_empty_folders_are_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path / "model.gguf")) is None
    assert get_reader(str(tmp_path)) is None  # a folder without images
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    assert get_reader([str(tmp_path / "a.png"), str(tmp_path / "notes.txt")]) is None
    assert get_reader(str(tmp_path)) is not None


def test_dicom_spacing_becomes_scale_and_metadata(tmp_path: Path) -> None:
    image = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    path = write_dicom(tmp_path / "scan.dcm", image, (0.3, 0.2))
    reader = get_reader(str(path))
    assert reader is not None
    ((data, kwargs, kind),) = reader(str(path))
    assert kind == "image"
    np.testing.assert_array_equal(data, image)
    assert kwargs["scale"] == (0.3, 0.2) and kwargs["rgb"] is False
    assert kwargs["metadata"].keys() == {SOURCE_KEY}
    source = kwargs["metadata"][SOURCE_KEY]
    assert source.path == path and source.pixel_spacing_mm == (0.3, 0.2)
    assert source.collection == () and source.index == 0
    assert source.is_stack is False and source.clip_id is None


def test_a_list_of_paths_gives_one_layer_each(tmp_path: Path) -> None:
    paths = []
    for i, size in enumerate([(10, 12), (14, 9)]):
        paths.append(str(tmp_path / f"im{i}.png"))
        Image.fromarray(np.full(size, i, np.uint8)).save(paths[-1])
    reader = get_reader(paths)
    assert reader is not None
    layers = reader(paths)
    assert [layer[0].shape for layer in layers] == [(10, 12), (14, 9)]


def test_cine_is_a_lazy_stack_with_time_first_scale() -> None:
    reader = get_reader(str(CINE))
    assert reader is not None
    ((data, kwargs, _),) = reader(str(CINE))
    assert isinstance(data, LazyFrameStack) and data.shape == (24, 300, 400)
    assert data.decoded <= 2  # contrast limits did not decode the clip
    assert kwargs["scale"] == (1.0, 0.2, 0.2) and kwargs["contrast_limits"] == (0.0, 255.0)
    assert kwargs["metadata"][SOURCE_KEY].is_stack is True
    assert kwargs["metadata"][SOURCE_KEY].clip_id


def test_mixed_size_folder_records_the_collection(samples_dir: Path) -> None:
    folder = samples_dir / "images"
    reader = get_reader(str(folder))
    assert reader is not None
    ((_, kwargs, _),) = reader(str(folder))
    source = kwargs["metadata"][SOURCE_KEY]
    assert source.collection == tuple(sorted(folder.glob("*.png")))
    assert source.path == source.collection[0]


def test_corrupt_file_of_a_claimed_kind_raises_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.tif"
    tifffile.imwrite(path, np.zeros((64, 64), np.uint8))
    path.write_bytes(path.read_bytes()[:50])
    reader = get_reader(str(path))
    assert reader is not None
    with pytest.raises(ImageReadError, match=r"damaged\.tif"):
        reader(str(path))


@pytest.mark.qt
def test_viewer_opens_dicom_and_cine_with_their_scale(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    path = write_dicom(tmp_path / "still.dcm", np.full((16, 24), 7, np.uint8), (0.5, 0.25))
    (still,) = viewer.open(str(path), plugin="napari-fada")
    np.testing.assert_allclose(still.scale, (0.5, 0.25))
    assert source_of(still).path == path
    (cine,) = viewer.open(str(CINE), plugin="napari-fada")
    np.testing.assert_allclose(cine.scale, (1.0, 0.2, 0.2))
    assert cine.data.shape == (24, 300, 400) and cine.data.decoded < 24
    viewer.dims.set_current_step(0, 13)
    assert cine.data.decoded < 24


@pytest.mark.qt
def test_viewer_steps_through_a_video_lazily(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(write_clip(tmp_path / "sweep.mp4")), plugin="napari-fada")
    assert layer.metadata[SOURCE_KEY].clip_id == "sweep" and layer.data.ndim == 3
    for index in (30, 2):
        viewer.dims.set_current_step(0, index)
        shown = layer.get_value((index, 35, 50), world=True)  # off the bar: the frame's level
        assert abs(int(shown) - frame_level(index)) <= 3
    assert layer.data.cached_frames <= 16
