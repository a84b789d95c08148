from pathlib import Path

import pytest

from napari_fada.settings import Settings, settings_path


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path))
    return tmp_path


def test_settings_persist_between_sessions(config_dir: Path):
    assert Settings.load() == Settings()
    Settings(backend="embedded", weights="/w.pt", dataset_dir="/d", annotator="ann").save()
    assert settings_path() == config_dir / "settings.json"
    assert Settings.load() == Settings("embedded", "/w.pt", "/d", "ann")
    assert list(config_dir.iterdir()) == [config_dir / "settings.json"]


def test_unreadable_or_foreign_settings_give_defaults(config_dir: Path):
    (config_dir / "settings.json").write_text("{not json")
    assert Settings.load() == Settings()
    (config_dir / "settings.json").write_text('{"annotator": "x", "unknown_key": 1}')
    assert Settings.load().annotator == "x"
