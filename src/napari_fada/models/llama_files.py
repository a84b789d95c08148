"""A GGUF model + mmproj pair for the llama.cpp backend: checks before loading, and identity.

llama.cpp reports most bad files only as "failed to load" (and logs the reason to stderr). The
header of each file is read first with the ``gguf`` package, so the user learns which file is
wrong and what to do: a missing file, a file that is not GGUF, the two files swapped, a text
model of another or a text-only architecture, an mmproj without a vision encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_fada.core.proposal import ModelInfo
from napari_fada.errors import ModelLoadError
from napari_fada.models.file_hashes import files_sha256

BACKEND_NAME = "llama"

#: llama.cpp text architectures of the Qwen-VL family that FADA fine-tunes.
QWEN_VL_ARCHITECTURES: frozenset[str] = frozenset(
    {"qwen2vl", "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe"}
)
_MMPROJ_ARCHITECTURE = "clip"


@dataclass(frozen=True)
class GgufHeader:
    """The metadata of one GGUF file that the checks and the model id need."""

    architecture: str
    name: str | None
    has_vision_encoder: bool
    projector: str | None


def _field(reader: Any, key: str) -> Any:
    field = reader.get_field(key)
    return None if field is None else field.contents()


def read_header(path: Path, role: str) -> GgufHeader:
    """The header of ``path``; ``role`` ("model" or "mmproj") names it in error messages."""
    import gguf

    if not path.is_file():
        raise ModelLoadError(
            f"The {role} file {path} does not exist: choose the downloaded .gguf file."
        )
    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # not GGUF, truncated, or a newer format
        raise ModelLoadError(
            f"The {role} file {path} is not a readable GGUF file ({exc}): it is another kind of "
            "file or an incomplete download; download it again."
        ) from exc
    return GgufHeader(
        architecture=str(_field(reader, "general.architecture") or ""),
        name=_field(reader, "general.name"),
        has_vision_encoder=bool(_field(reader, "clip.has_vision_encoder")),
        projector=_field(reader, "clip.projector_type")
        or _field(reader, "clip.vision.projector_type"),
    )


def check_pair(model: Path, mmproj: Path) -> GgufHeader:
    """Check that ``model`` is a Qwen-VL text model and ``mmproj`` a vision projector.

    Returns the model's header. Whether the two belong together (the projector's output size
    against the model's hidden size) is checked by llama.cpp when the projector is loaded.
    """
    header = read_header(model, "model")
    projector = read_header(mmproj, "mmproj")
    if header.architecture == _MMPROJ_ARCHITECTURE:
        raise ModelLoadError(
            f"{model} is a vision projector (mmproj), not the language model: choose it as the "
            "mmproj file and the other .gguf file as the model."
        )
    if header.architecture not in QWEN_VL_ARCHITECTURES:
        raise ModelLoadError(
            f"{model} is a {header.architecture!r} model, which is not a Qwen-VL vision-language "
            f"model ({', '.join(sorted(QWEN_VL_ARCHITECTURES))}): choose FADA's GGUF or another "
            "Qwen-VL GGUF."
        )
    if projector.architecture != _MMPROJ_ARCHITECTURE or not projector.has_vision_encoder:
        raise ModelLoadError(
            f"{mmproj} is not a vision projector (it holds a {projector.architecture!r} model "
            "without an image encoder): choose the mmproj .gguf published with the model."
        )
    return header


def model_info(model: Path, mmproj: Path, header: GgufHeader) -> ModelInfo:
    """Provenance: the GGUF's ``general.name`` (else the file name) and a hash of both files."""
    return ModelInfo(
        model_id=header.name or model.stem,
        backend=BACKEND_NAME,
        weights_sha256=files_sha256([model, mmproj]),
    )
