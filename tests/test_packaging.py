"""The plugin is found by napari both from an editable install and from a built wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
MANIFEST = (REPO / "napari.yaml").read_text()


def _run_python(code: str, env_path: Path | None = None) -> str:
    env = None
    if env_path is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(env_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_npe2_validates_the_installed_manifest():
    done = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-fada"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_editable_install_serves_the_top_level_manifest_and_weights():
    from importlib.resources import files

    package = files("napari_fada")
    assert package.joinpath("napari.yaml").read_text() == MANIFEST
    weights = [p.name for p in package.joinpath("models", "weights").iterdir()]
    assert any(name.endswith(".pt") for name in weights), weights


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)]
    subprocess.run([*command, str(REPO)], check=True, capture_output=True)
    (path,) = out.glob("napari_fada-*.whl")
    return path


def test_wheel_contains_manifest_weights_and_entry_point(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert zf.read("napari_fada/napari.yaml").decode() == MANIFEST
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "napari-fada = napari_fada:napari.yaml" in zf.read(entry_points).decode()
    assert any(n.startswith("napari_fada/models/weights/") and n.endswith(".pt") for n in names)


def test_npe2_reads_the_manifest_from_an_installed_wheel(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(wheel)],
        check=True,
    )  # fmt: skip
    code = (
        "import json, napari_fada, npe2\n"
        "from importlib.resources import files\n"
        "m = npe2.PluginManifest.from_distribution('napari-fada')\n"
        "w = [p.name for p in files('napari_fada').joinpath('models', 'weights').iterdir()]\n"
        "print(json.dumps({'file': napari_fada.__file__, 'name': m.name,\n"
        "  'widgets': [c.display_name for c in m.contributions.widgets], 'weights': w}))\n"
    )
    found = json.loads(_run_python(code, env_path=site))
    assert found["file"].startswith(str(site))
    assert found["name"] == "napari-fada"
    docks = [w["display_name"] for w in yaml.safe_load(MANIFEST)["contributions"]["widgets"]]
    assert "FADA annotator" in docks
    assert found["widgets"] == docks  # the installed manifest is the repository's
    assert any(name.endswith(".pt") for name in found["weights"])


def test_plugin_import_does_not_import_torch():
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "import napari_fada._napari.annotator.widget, napari_fada._napari.hooks.reader\n"
        "import napari_fada._napari.hooks.samples, napari_fada.models.registry\n"
        "import napari_fada.commands.main\n"
        "print(time.perf_counter() - t, 'torch' in sys.modules, 'llama_cpp' in sys.modules)\n"
    )
    seconds, torch_loaded, llama_loaded = _run_python(code).split()
    assert torch_loaded == "False"
    assert llama_loaded == "False"
    print(f"plugin import took {float(seconds):.2f} s without torch")
