"""The prompt model's weights file: one ``torch.save`` dict, read with ``weights_only=True``.

It carries the architecture and crop, the model version (part of the id saved in provenance),
what it was trained on and its validation figures, so a file is self-describing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from napari_fada.models.weights_file import (
    WeightsKind,
    config_from_dict,
    config_to_dict,
    non_finite_parameters,
    read_weights_file,
    rebuilding,
    unusable_error,
    write_torch_file,
)
from napari_fada.prompting.net import PromptNet, PromptNetConfig

FORMAT = "napari-fada-prompt"
FORMAT_VERSION = 1
KIND = WeightsKind("prompt model", "napari-fada train-prompt", FORMAT_VERSION, tag=FORMAT)
#: The model generation (architecture + training recipe).
MODEL_VERSION = "1.0"
#: Shipped beside the embedded model, whose model card describes both.
SHIPPED_PROMPT_WEIGHTS = (
    Path(__file__).resolve().parents[1] / "models" / "weights" / "fada-prompt.pt"
)


@dataclass
class PromptWeights:
    """A loaded (or about to be saved) prompt model."""

    config: PromptNetConfig
    state_dict: dict[str, torch.Tensor]
    model_version: str = MODEL_VERSION
    training_data: str = ""
    validation_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        """``fada-prompt-<version>-<digest of the weights as stored>``: what provenance names."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.state_dict.items()):
            digest.update(name.encode() + _stored(tensor).numpy().tobytes())
        return f"fada-prompt-{self.model_version}-{digest.hexdigest()[:8]}"

    def build(self) -> PromptNet:
        """The network with these weights, in eval mode."""
        net = PromptNet(self.config)
        net.load_state_dict({k: v.float() for k, v in self.state_dict.items()})
        return net.eval()


def _stored(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as the file keeps it: floating values as float16."""
    tensor = tensor.detach().cpu()
    return (tensor.half() if tensor.is_floating_point() else tensor).clone()


def save_prompt_weights(weights: PromptWeights, path: Path) -> None:
    """Write ``weights`` to ``path`` atomically; floating tensors are stored as float16 (the
    file is half the size and the masks do not change)."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": weights.model_version,
        "architecture": config_to_dict(weights.config),
        "training_data": weights.training_data,
        "validation_metrics": {k: float(v) for k, v in weights.validation_metrics.items()},
        "state_dict": {k: _stored(v) for k, v in weights.state_dict.items()},
    }
    write_torch_file(payload, path)


def load_prompt_weights(path: Path) -> PromptWeights:
    """Read and check a prompt model file; ModelLoadError says what is wrong with which file."""
    path = Path(path)
    payload = read_weights_file(path, KIND)
    with rebuilding(path, KIND):
        weights = PromptWeights(
            config=config_from_dict(PromptNetConfig, payload["architecture"]),
            state_dict=payload["state_dict"],
            model_version=str(payload["model_version"]),
            training_data=str(payload.get("training_data", "")),
            validation_metrics=dict(payload.get("validation_metrics", {})),
        )
        weights.build()
    problem = non_finite_parameters(weights.state_dict)
    if problem is not None:
        raise unusable_error(path, KIND, problem)
    return weights
