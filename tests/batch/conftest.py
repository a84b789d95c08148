"""Tiny inputs for pre-labelling runs: a folder of real images with one corrupt file, and
generated cine clips (multi-frame DICOM and TIFF) from the package's own sample generator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tifffile

from napari_fada.batch.work import BackendSpec
from napari_fada.samples import SyntheticClip, cine_clip
from napari_fada.samples.files import write_cine_dicom

#: Four real 256 x 256 transperineal images: small, so the embedded model is quick on them.
SMALL_IMAGES = ("psfhs_03744.png", "psfhs_03745.png", "psfhs_03746.png", "psfhs_03747.png")
CLIP_FRAMES = 5

#: One model thread, so that every way of running gives bit-identical proposals.
EMBEDDED = BackendSpec.of("embedded", threads=1)


def write_images_folder(samples_dir: Path, folder: Path) -> Path:
    """Four real images, ``broken.png`` (a truncated copy of one) and a text file."""
    folder.mkdir(parents=True)
    for name in SMALL_IMAGES:
        shutil.copy(samples_dir / "images" / name, folder / name)
    (folder / "broken.png").write_bytes((folder / SMALL_IMAGES[0]).read_bytes()[:300])
    (folder / "notes.txt").write_text("not an image: ignored in a folder\n")
    return folder


@pytest.fixture
def images_folder(samples_dir: Path, tmp_path: Path) -> Path:
    return write_images_folder(samples_dir, tmp_path / "scans")


@pytest.fixture(scope="session")
def clip() -> SyntheticClip:
    return cine_clip(n_frames=CLIP_FRAMES)


@pytest.fixture(scope="session")
def cine_dicom(clip: SyntheticClip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cine_dicom(clip, tmp_path_factory.mktemp("cine") / "sweep.dcm")


@pytest.fixture(scope="session")
def cine_tiff(clip: SyntheticClip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cine") / "sweep.tif"
    tifffile.imwrite(path, clip.frames)
    return path


@pytest.fixture(autouse=True)
def no_saved_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI falls back to saved settings: make them the defaults, not the user's."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path / "config"))
