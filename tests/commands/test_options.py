"""The model options: the same in every command that runs a model, ``--model`` for every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_fada.commands.main import main
from napari_fada.settings import Settings
from tests.inspection.test_evaluate import write_shared_layout

MODEL_COMMANDS = ("settings", "propose", "prelabel", "evaluate", "inspect")


@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_every_model_command_takes_the_model_options(command, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for option in ("--backend", "--model", "--mmproj", "--threads", "--n-ctx"):
        assert option in shown
    assert "embedded: Weights (.pt); llama: Model (.gguf); transformers: Checkpoint folder" in shown


def test_evaluate_loads_the_model_the_options_name(tmp_path: Path, capsys) -> None:
    root = write_shared_layout(tmp_path / "data")
    missing = tmp_path / "nothing.pt"
    assert main(["evaluate", "--data", str(root), "--model", str(missing)]) == 2
    assert "nothing.pt" in capsys.readouterr().err


def test_inspect_falls_back_to_the_saved_model(tmp_path: Path, capsys) -> None:
    Settings(backend="llama").save()  # saved without its files: loading it must say so
    root = write_shared_layout(tmp_path / "data")
    assert main(["inspect", "--data", str(root), "--out", str(tmp_path / "report")]) == 2
    assert "the 'llama' backend needs" in capsys.readouterr().err
