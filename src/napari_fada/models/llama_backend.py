"""FADA's GGUF files (model + mmproj) through llama.cpp, as a backend.

Importing this module imports llama_cpp, so the registry imports it only when a user picks the
llama.cpp backend.
"""

from __future__ import annotations

from pathlib import Path

from napari_fada.models.fada_pipeline import FadaPipeline
from napari_fada.models.llama_engine import LlamaEngine


class LlamaBackend(FadaPipeline):
    """FADA's five phases on :class:`LlamaEngine`, with grammar-constrained JSON answers.

    ``threads`` and ``n_ctx`` default to the engine's laptop-sized choices (all available
    cores up to 8, a 4,096-token context).
    """

    def __init__(
        self,
        model: Path,
        mmproj: Path,
        threads: int | None = None,
        n_ctx: int | None = None,
    ) -> None:
        engine = LlamaEngine(
            Path(model).expanduser(), Path(mmproj).expanduser(), threads=threads, n_ctx=n_ctx
        )
        super().__init__(engine)
