"""FADA (or another Qwen-VL fine-tune) from a local transformers checkpoint folder, as a backend.

The folder is read offline (no hub access); the model runs on CUDA when present, else the CPU.
Importing this module imports torch and transformers, so the registry imports it only when a
user picks the transformers backend.
"""

from __future__ import annotations

from pathlib import Path

from napari_fada.errors import ModelLoadError
from napari_fada.models.fada_pipeline import FadaPipeline
from napari_fada.models.hf_engine import HFEngine


class HFBackend(FadaPipeline):
    """FADA's five phases on :class:`HFEngine`, with constrained JSON answers.

    ``device`` is ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``; ``threads`` sets the
    CPU threads torch uses (None: torch's default).
    """

    def __init__(self, model: Path, device: str = "auto", threads: int | None = None) -> None:
        folder = Path(model).expanduser()
        if folder.is_file():
            hint = (
                "for a .gguf file use the llama backend"
                if folder.suffix == ".gguf"
                else "choose the folder that holds it"
            )
            raise ModelLoadError(
                f"{folder} is a file, but the transformers backend takes a checkpoint folder "
                f"(config.json, tokenizer and *.safetensors): {hint}."
            )
        super().__init__(HFEngine(folder, device=device, n_threads=threads))
