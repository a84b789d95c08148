"""User settings that persist between napari sessions and are shared with the CLI.

Stored as JSON in the platform's user config folder (``NAPARI_FADA_CONFIG_DIR`` overrides it,
which tests use). A missing or unreadable file gives the defaults, and a value of the wrong type
is dropped: settings never block start-up. Files written by older versions (backend, weights,
dataset and annotator only) load unchanged.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from napari_fada.models.registry import DEFAULT_BACKEND, backend_files, backend_options


def settings_path() -> Path:
    folder = os.environ.get("NAPARI_FADA_CONFIG_DIR")
    if folder is None:
        from platformdirs import user_config_dir

        folder = user_config_dir("napari-fada", appauthor=False)
    return Path(folder) / "settings.json"


_TEXT_FIELDS = frozenset(
    {
        *("backend", "weights", "dataset_dir", "annotator", "gguf_model", "mmproj", "hf_model"),
        *("server_url", "server_model", "api_key"),
    }
)
_NUMBER_FIELDS = frozenset({"threads", "n_ctx"})


def _valid(name: str, value: Any) -> bool:
    if value is None:
        return True
    if name in _TEXT_FIELDS:
        return isinstance(value, str)
    if name in _NUMBER_FIELDS:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass
class Settings:
    """What the user chose last time: model and its files, dataset folder and name.

    Model files are kept per backend (``weights`` for the embedded model, ``gguf_model`` and
    ``mmproj`` for llama.cpp, ``hf_model`` for transformers; ``server_url``, ``server_model``
    and ``api_key`` for a server), so switching backends loses nothing. ``phases`` None means
    all five. The file is written readable by its owner only.
    """

    backend: str = DEFAULT_BACKEND
    weights: str | None = None
    dataset_dir: str | None = None
    annotator: str | None = None
    gguf_model: str | None = None
    mmproj: str | None = None
    hf_model: str | None = None
    server_url: str | None = None
    server_model: str | None = None
    api_key: str | None = None
    threads: int | None = None
    n_ctx: int | None = None
    phases: list[str] | None = None

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
        return cls(**{k: v for k, v in data.items() if k in known and _valid(k, v)})

    def save(self, path: Path | None = None) -> None:
        """Write atomically, so that a crash never leaves a half-written settings file."""
        path = path or settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".settings-", suffix=".tmp", delete=False
        ) as handle:
            json.dump(asdict(self), handle, indent=2)
        os.replace(handle.name, path)

    def backend_arguments(self, backend: str | None = None) -> dict[str, Any]:
        """Constructor keywords of ``backend`` (default: the chosen one) from these settings.

        Files and folders become :class:`Path`; files and options not set are left out, so
        the backend's own defaults apply.
        """
        backend = backend or self.backend
        arguments: dict[str, Any] = {
            f.argument: Path(getattr(self, f.setting)) if f.is_path else getattr(self, f.setting)
            for f in backend_files(backend)
            if getattr(self, f.setting)
        }
        for option in backend_options(backend):
            if getattr(self, option) is not None:
                arguments[option] = getattr(self, option)
        return arguments
