"""Names of the model backends a user can choose, what each needs, and their lazy construction.

Backends import heavy libraries (torch, llama_cpp, transformers); nothing is imported until a
backend is actually loaded, so listing them stays instant and napari starts fast. Each entry
also says which files it takes and which options it understands, so the widget and the CLI can
ask for exactly those (see :class:`ModelFile`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from napari_fada.errors import ModelLoadError
from napari_fada.models.base import Backend


@dataclass(frozen=True)
class ModelFile:
    """A file or folder a backend is constructed with, or a text (a server URL, a model name,
    an API key: kind ``secret``, never shown).

    ``argument`` is the constructor's keyword and ``flag`` the CLI option, the same name for
    every backend (``model``, and ``mmproj`` for llama.cpp's projector). ``setting`` is the
    :class:`~napari_fada.settings.Settings` field that remembers it: one per backend
    (``weights``, ``gguf_model``, ``hf_model``), so switching backends forgets no file.
    """

    argument: str
    setting: str
    flag: str
    label: str
    kind: Literal["file", "folder", "url", "text", "secret"]
    suffix: str = ""
    required: bool = True

    @property
    def is_path(self) -> bool:
        return self.kind in ("file", "folder")


@dataclass(frozen=True)
class BackendEntry:
    module: str
    class_name: str
    requirement: str
    description: str
    files: tuple[ModelFile, ...]
    #: Numeric constructor options this backend takes (``threads``, ``n_ctx``).
    options: tuple[str, ...] = ("threads",)
    #: One instance may propose from several threads at once (a remote server).
    thread_safe: bool = False
    #: Proposes on several images together (``propose_batch``, ``prelabel --batch-size``).
    batches: bool = False


_BACKENDS: dict[str, BackendEntry] = {
    "embedded": BackendEntry(
        "napari_fada.models.embedded_backend",
        "EmbeddedBackend",
        "torch",
        "Embedded default model (CPU, ships with the plugin)",
        (ModelFile("model", "weights", "model", "Weights (.pt)", "file", ".pt", required=False),),
    ),
    "llama": BackendEntry(
        "napari_fada.models.llama_backend",
        "LlamaBackend",
        "llama-cpp-python",
        "FADA GGUF through llama.cpp (model .gguf + mmproj .gguf)",
        (
            ModelFile("model", "gguf_model", "model", "Model (.gguf)", "file", ".gguf"),
            ModelFile("mmproj", "mmproj", "mmproj", "Projector (mmproj .gguf)", "file", ".gguf"),
        ),
        options=("threads", "n_ctx"),
        batches=True,
    ),
    "transformers": BackendEntry(
        "napari_fada.models.hf_backend",
        "HFBackend",
        "transformers",
        "FADA or another Qwen-VL checkpoint folder through transformers",
        (ModelFile("model", "hf_model", "model", "Checkpoint folder", "folder"),),
        batches=True,
    ),
    "openai": BackendEntry(
        "napari_fada.models.openai_backend",
        "OpenAIBackend",
        "napari-fada",
        "FADA on an OpenAI-compatible server (vLLM, llama-server) at a URL",
        (
            ModelFile("url", "server_url", "url", "Server URL", "url"),
            ModelFile("model", "server_model", "model", "Model name", "text", required=False),
            ModelFile("api_key", "api_key", "api_key", "API key", "secret", required=False),
        ),
        options=(),
        thread_safe=True,
    ),
}

DEFAULT_BACKEND = "embedded"


def available_backends() -> list[str]:
    """Backend names, the default first."""
    return list(_BACKENDS)


def _entry(name: str) -> BackendEntry:
    if name not in _BACKENDS:
        raise ModelLoadError(
            f"unknown model backend {name!r}; choose one of: {', '.join(_BACKENDS)}"
        )
    return _BACKENDS[name]


def describe_backend(name: str) -> str:
    return _entry(name).description


def backend_files(name: str) -> tuple[ModelFile, ...]:
    """The files and folders backend ``name`` is constructed with."""
    return _entry(name).files


def backend_options(name: str) -> tuple[str, ...]:
    return _entry(name).options


def backend_thread_safe(name: str) -> bool:
    """Whether one instance of backend ``name`` may propose from several threads at once."""
    return _entry(name).thread_safe


def backend_batches(name: str) -> bool:
    """Whether backend ``name`` proposes on several images together (``--batch-size``)."""
    return _entry(name).batches


def load_backend(name: str, **settings: Any) -> Backend:
    """Construct backend ``name`` with ``settings`` (e.g. ``model=Path(...)``).

    Raises ModelLoadError with an actionable message when the backend is unknown, a file it
    needs was not given, or the library it needs is not installed.
    """
    entry = _entry(name)
    missing = [f.label for f in entry.files if f.required and not settings.get(f.argument)]
    if missing:
        raise ModelLoadError(
            f"the {name!r} backend needs: {', '.join(missing)}; choose them in the widget or "
            f"with 'napari-fada settings --backend {name}' and try again"
        )
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        raise ModelLoadError(
            f"the {name!r} backend needs {entry.requirement!r}, which could not be imported "
            f"({exc}); install it with: pip install {entry.requirement}"
        ) from exc
    backend_class = getattr(module, entry.class_name)
    backend: Backend = backend_class(**settings)
    return backend
