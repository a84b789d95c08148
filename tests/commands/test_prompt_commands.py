"""``napari-fada evaluate-interactive`` and ``train-prompt`` from the command line."""

from __future__ import annotations

import json

from napari_fada.commands.main import main
from napari_fada.prompting.weights import load_prompt_weights


def test_evaluate_interactive_writes_the_figures_per_structure(
    tiny_dataset, tiny_weights, tmp_path, capsys
):
    out = tmp_path / "figures.json"
    code = main(
        ["evaluate-interactive", "--data", str(tiny_dataset), "--weights", str(tiny_weights),
         "--json", str(out), "--max-clicks", "6", "--split", "val", "--threads", "1"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(out.read_text())
    for key in ("dice_box", "noc85", "noc90", "ms_per_prompt"):
        assert set(figures[key]) == {"head", "CSP"}
    assert set(figures["dice_clicks"]["head"]) == {"1", "3", "5"}
    assert all(0 <= v <= 6 for v in figures["noc90"].values())
    assert "NoC@90" in capsys.readouterr().out


def test_evaluate_interactive_refuses_a_cap_below_the_reported_clicks(tiny_dataset, capsys):
    assert main(["evaluate-interactive", "--data", str(tiny_dataset), "--max-clicks", "2"]) == 2
    assert "--max-clicks must be at least 5" in capsys.readouterr().err


def test_a_missing_weights_file_is_a_clear_error(tiny_dataset, tmp_path, capsys):
    code = main(
        ["evaluate-interactive", "--data", str(tiny_dataset), "--weights", str(tmp_path / "x.pt")]
    )
    assert code == 2 and "prompt model weights not found" in capsys.readouterr().err


def test_train_prompt_runs_and_writes_weights(tiny_dataset, tmp_path):
    out = tmp_path / "p.pt"
    code = main(
        ["train-prompt", "--data", str(tiny_dataset), "--out", str(out), "--steps", "2",
         "--batch-size", "2", "--val-every", "1", "--threads", "1"]
    )  # fmt: skip
    assert code == 0 and load_prompt_weights(out).config.crop == 96
