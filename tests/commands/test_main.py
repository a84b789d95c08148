"""``napari-fada``: one module per subcommand, imported only when that subcommand runs."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from napari_fada import __version__
from napari_fada.commands.main import _SUBCOMMANDS, main


@pytest.mark.parametrize("name", list(_SUBCOMMANDS))
def test_every_subcommand_has_its_module(name: str) -> None:
    module = importlib.import_module(f"napari_fada.commands.{_SUBCOMMANDS[name][0]}")
    assert callable(module.add_arguments) and callable(module.run)


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_imports_no_subcommand() -> None:
    code = (
        "import sys\n"
        "from napari_fada.commands.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('napari_fada.commands.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['napari_fada.commands.main']"
