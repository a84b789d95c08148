"""Names of the model backends a user can choose, and their lazy construction.

Backends import heavy libraries (torch, llama_cpp, transformers); nothing is imported until a
backend is actually loaded, so listing them stays instant and napari starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from napari_fada.errors import ModelLoadError
from napari_fada.models.base import Backend

#: name -> (module, class, what it needs installed, one-line description)
_BACKENDS: dict[str, tuple[str, str, str, str]] = {
    "embedded": (
        "napari_fada.models.embedded_backend",
        "EmbeddedBackend",
        "torch",
        "Embedded default model (CPU, ships with the plugin)",
    ),
}

DEFAULT_BACKEND = "embedded"


def available_backends() -> list[str]:
    """Backend names, the default first."""
    return list(_BACKENDS)


def describe_backend(name: str) -> str:
    return _BACKENDS[name][3]


def load_backend(name: str, **settings: Any) -> Backend:
    """Construct backend ``name`` with ``settings`` (e.g. ``weights=Path(...)``).

    Raises ModelLoadError with an actionable message when the backend is unknown or the library
    it needs is not installed.
    """
    if name not in _BACKENDS:
        raise ModelLoadError(
            f"unknown model backend {name!r}; choose one of: {', '.join(_BACKENDS)}"
        )
    module_name, class_name, requirement, _ = _BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelLoadError(
            f"the {name!r} backend needs {requirement!r}, which could not be imported ({exc}); "
            f"install it with: pip install {requirement}"
        ) from exc
    backend_class = getattr(module, class_name)
    backend: Backend = backend_class(**settings)
    return backend
