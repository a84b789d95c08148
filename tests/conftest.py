"""Fixtures shared by every test folder: paths to the real shared data and a scripted backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripted_backend import ScriptedBackend

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The 20 real fetal ultrasound images with expert masks (read-only)."""
    path = SHARED_DATA / "fetal-us-samples"
    if not path.is_dir():
        pytest.fail(f"shared sample data not found at {path}")
    return path


@pytest.fixture(scope="session")
def train_dir() -> Path:
    """The 1,900-image training set with a train/val split (read-only)."""
    path = SHARED_DATA / "fetal-us-train"
    if not path.is_dir():
        pytest.fail(f"shared training data not found at {path}")
    return path


@pytest.fixture(autouse=True)
def own_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the default settings, never the user's saved ones."""
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def scripted_backend() -> ScriptedBackend:
    return ScriptedBackend()
