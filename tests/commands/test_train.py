"""``napari-fada train``: the options become the run the training loop is asked for."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_fada.commands.train import add_arguments, options_from
from napari_fada.training.options import TrainOptions


def test_cli_arguments_become_options(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "a", "b", "--out", str(tmp_path / "m.pt")])
    options = options_from(args)
    assert options.data == (Path("a"), Path("b"))
    assert options.epochs == TrainOptions.default("epochs") and options.init is None
    assert options.checkpoint == tmp_path / "m.pt.ckpt"
