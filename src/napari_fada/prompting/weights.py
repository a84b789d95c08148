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

from napari_fada.models import weights_file
from napari_fada.prompting.net import PromptNet, PromptNetConfig

FORMAT = "napari-fada-prompt"
FORMAT_VERSION = 1
KIND = weights_file.WeightsKind(
    "prompt model", "napari-fada train-prompt", FORMAT_VERSION, tag=FORMAT
)
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
        **weights_file.description(
            weights.model_version, weights.training_data, weights.validation_metrics
        ),
        "architecture": weights_file.config_to_dict(weights.config),
        "state_dict": {k: _stored(v) for k, v in weights.state_dict.items()},
    }
    weights_file.write(payload, path)


def load_prompt_weights(path: Path) -> PromptWeights:
    """Read and check a prompt model file; ModelLoadError says what is wrong with which file."""
    return weights_file.load(path, KIND, _from_payload, _unusable)


def _from_payload(payload: dict[str, Any]) -> PromptWeights:
    return PromptWeights(
        config=weights_file.config_from_dict(PromptNetConfig, payload["architecture"]),
        state_dict=payload["state_dict"],
        **weights_file.described(payload),
    )


def _unusable(weights: PromptWeights) -> str | None:
    """What makes weights that loaded unusable, or None."""
    return weights_file.non_finite_parameters(weights.state_dict)
