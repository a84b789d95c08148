"""FADA served by an OpenAI-compatible server (vLLM, llama-server, llama_cpp.server), as a backend.

Uses only the standard library: nothing to install, and nothing is contacted but the server at
the URL the user gave.
"""

from __future__ import annotations

import os

from napari_fada.models.fada_pipeline import FadaPipeline
from napari_fada.models.openai_client import DEFAULT_TIMEOUT_S, ServerClient
from napari_fada.models.openai_engine import OpenAIEngine

#: Where the API key is read from when none is given (keeps it out of settings and shell history).
API_KEY_VARIABLE = "NAPARI_FADA_API_KEY"


class OpenAIBackend(FadaPipeline):
    """FADA's five phases on the model ``model`` served at ``url`` (``http://host:port/v1``).

    ``api_key`` defaults to the ``NAPARI_FADA_API_KEY`` environment variable; ``model`` to the
    only model the server lists. Answers are JSON-schema constrained where the server supports
    it. One instance may propose on several images from several threads at once.
    """

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        client = ServerClient(url, api_key or os.environ.get(API_KEY_VARIABLE), timeout_s)
        super().__init__(OpenAIEngine(client, model))
