import json
from pathlib import Path

import pytest

from napari_fada.commands.main import main
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


def test_model_files_are_kept_per_backend(config_dir: Path):
    Settings(
        backend="llama",
        weights="/w.pt",
        gguf_model="/m/fada.gguf",
        mmproj="/m/mmproj.gguf",
        hf_model="/m/fada-hf",
        threads=2,
        n_ctx=4096,
        phases=["classify", "segment"],
    ).save()
    loaded = Settings.load()
    assert loaded.phases == ["classify", "segment"]
    assert loaded.backend_arguments() == {
        "model": Path("/m/fada.gguf"),
        "mmproj": Path("/m/mmproj.gguf"),
        "threads": 2,
        "n_ctx": 4096,
    }
    assert loaded.backend_arguments("transformers") == {"model": Path("/m/fada-hf"), "threads": 2}
    assert loaded.backend_arguments("embedded") == {"model": Path("/w.pt"), "threads": 2}
    assert Settings().backend_arguments("embedded") == {}


def test_an_old_settings_file_still_loads(config_dir: Path):
    old = {"backend": "embedded", "weights": "/w.pt", "dataset_dir": "/d", "annotator": "ann"}
    (config_dir / "settings.json").write_text(json.dumps(old))
    loaded = Settings.load()
    assert (loaded.backend, loaded.weights, loaded.dataset_dir, loaded.annotator) == (
        "embedded",
        "/w.pt",
        "/d",
        "ann",
    )
    assert (loaded.gguf_model, loaded.threads, loaded.phases) == (None, None, None)


def test_values_of_the_wrong_type_are_dropped(config_dir: Path):
    bad = {"threads": "many", "n_ctx": -5, "hf_model": 3, "phases": "all", "mmproj": "/p.gguf"}
    (config_dir / "settings.json").write_text(json.dumps(bad))
    assert Settings.load() == Settings(mmproj="/p.gguf")


def test_cli_settings_sets_and_prints(config_dir: Path, tmp_path: Path, capsys):
    model = tmp_path / "fada.gguf"
    model.write_bytes(b"GGUF")
    argv = ["settings", "--backend", "llama", "--model", str(model), "--mmproj", "nowhere.gguf"]
    assert main([*argv, "--threads", "2", "--n-ctx", "4096", "--phases", "segment,classify"]) == 0
    saved = Settings.load()
    assert (saved.backend, saved.gguf_model, saved.threads, saved.n_ctx) == (
        "llama",
        str(model),
        2,
        4096,
    )
    assert saved.phases == ["classify", "segment"]
    assert saved.mmproj is not None and Path(saved.mmproj).is_absolute()
    printed = capsys.readouterr().out
    assert f"Model (.gguf): {model}\n" in printed
    assert "nowhere.gguf (not found)" in printed
    assert main(["settings"]) == 0
    assert "saved" not in capsys.readouterr().out
    assert Settings.load() == saved


def test_cli_settings_refuses_bad_values(config_dir: Path, capsys):
    with pytest.raises(SystemExit):
        main(["settings", "--threads", "0"])
    with pytest.raises(SystemExit):
        main(["settings", "--phases", "classify,measure"])
    assert "unknown phase(s) measure" in capsys.readouterr().err
    assert not (config_dir / "settings.json").exists()


def test_cli_settings_model_empty_clears_it_instead_of_saving_the_current_folder(
    config_dir: Path, tmp_path: Path, capsys
):
    weights = tmp_path / "mine.pt"
    assert main(["settings", "--backend", "embedded", "--model", str(weights)]) == 0
    assert Settings.load().weights == str(weights)
    assert main(["settings", "--model", ""]) == 0
    assert Settings.load().weights is None
    assert "(not set)" in capsys.readouterr().out
