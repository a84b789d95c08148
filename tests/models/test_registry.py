"""The backend registry: what each backend needs, and clear errors before anything is imported."""

from __future__ import annotations

import pytest

from napari_fada.errors import ModelLoadError
from napari_fada.models.registry import (
    available_backends,
    backend_files,
    backend_options,
    backend_thread_safe,
    describe_backend,
    load_backend,
)


def test_every_backend_says_which_files_it_needs() -> None:
    assert available_backends()[0] == "embedded"
    assert {"llama", "transformers"} <= set(available_backends())
    assert [(f.argument, f.kind, f.suffix) for f in backend_files("llama")] == [
        ("model", "file", ".gguf"),
        ("mmproj", "file", ".gguf"),
    ]
    assert [(f.argument, f.kind) for f in backend_files("transformers")] == [("model", "folder")]
    assert [f.required for f in backend_files("embedded")] == [False]
    assert backend_options("llama") == ("threads", "n_ctx")
    assert "llama.cpp" in describe_backend("llama")
    assert [(f.argument, f.kind, f.required) for f in backend_files("openai")] == [
        ("url", "url", True),
        ("model", "text", False),
        ("api_key", "secret", False),
    ]
    assert backend_options("openai") == () and backend_thread_safe("openai")
    assert not backend_thread_safe("llama")


def test_the_model_has_one_name_from_the_cli_to_every_backend() -> None:
    for name in available_backends():
        (model,) = [f for f in backend_files(name) if f.flag == "model"]
        assert model.argument == "model", name


def test_missing_files_and_unknown_backends_are_clear_errors() -> None:
    with pytest.raises(ModelLoadError, match=r"needs: Model \(\.gguf\), Projector"):
        load_backend("llama")
    with pytest.raises(ModelLoadError, match="Checkpoint folder"):
        load_backend("transformers", threads=1)
    with pytest.raises(ModelLoadError, match=r"needs: Server URL"):
        load_backend("openai", model="fada")
    with pytest.raises(ModelLoadError, match="not a server URL"):
        load_backend("openai", url="localhost:8080")
    with pytest.raises(ModelLoadError, match="choose one of: embedded"):
        load_backend("no-such-backend")
