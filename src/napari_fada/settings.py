"""User settings that persist between napari sessions and are shared with the CLI.

Stored as JSON in the platform's user config folder (``NAPARI_FADA_CONFIG_DIR`` overrides it,
which tests use). A missing or unreadable file gives the defaults: settings never block start-up.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from napari_fada.models.registry import DEFAULT_BACKEND


def settings_path() -> Path:
    folder = os.environ.get("NAPARI_FADA_CONFIG_DIR")
    if folder is None:
        from platformdirs import user_config_dir

        folder = user_config_dir("napari-fada", appauthor=False)
    return Path(folder) / "settings.json"


@dataclass
class Settings:
    """What the user chose last time: model, weights, dataset folder and name."""

    backend: str = DEFAULT_BACKEND
    weights: str | None = None
    dataset_dir: str | None = None
    annotator: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or settings_path()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: Path | None = None) -> None:
        """Write atomically, so that a crash never leaves a half-written settings file."""
        path = path or settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".settings-", suffix=".tmp", delete=False
        ) as handle:
            json.dump(asdict(self), handle, indent=2)
        os.replace(handle.name, path)
