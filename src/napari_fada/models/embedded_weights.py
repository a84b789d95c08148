"""The embedded model's weights file: one ``torch.save`` dict, read with ``weights_only=True``.

Besides the state dict it carries everything needed to rebuild and use the network (architecture,
class names, input size, normalisation, plane temperature) and to judge it (training data,
validation metrics), so a file is self-describing and a fine-tuned file is a drop-in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from napari_fada.models import weights_file
from napari_fada.models.embedded_net import EmbeddedNet, NetConfig
from napari_fada.models.embedded_preprocess import PreprocessConfig

#: Layout of the file; a reader refuses any other.
FORMAT_VERSION = 1
KIND = weights_file.WeightsKind(
    "embedded model",
    "napari-fada train",
    FORMAT_VERSION,
    missing_hint=". Choose an existing .pt file, or clear the weights setting to use the model "
    "shipped with the plugin.",
)
#: Input sides (pixels) a weights file may ask for: 0 or a huge size is a damaged file.
MIN_INPUT_SIDE, MAX_INPUT_SIDE = 8, 2048
#: The model generation (architecture + training recipe); part of the model id.
MODEL_VERSION = "2.2"
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "fada-embedded.pt"
#: The key of :attr:`EmbeddedWeights.shape_calibration` for structures without their own map.
ANY_STRUCTURE = "*"


@dataclass
class EmbeddedWeights:
    """A loaded (or about to be saved) weights file."""

    net: NetConfig
    structures: tuple[str, ...]
    planes: tuple[str, ...]
    preprocess: PreprocessConfig
    state_dict: dict[str, torch.Tensor]
    plane_temperature: float = 1.0
    model_version: str = MODEL_VERSION
    training_data: str = ""
    validation_metrics: dict[str, float] = field(default_factory=dict)
    #: Added to a structure's logit before the softmax. Class-weighted training pushes outlines
    #: outwards; an offset fitted on training images takes the push back (e.g. a head that
    #: measured 3 mm too large).
    logit_offsets: dict[str, float] = field(default_factory=dict)
    #: The structures the model may propose on each plane (its routing); a plane not named here
    #: gets the plane call and no shapes. Empty: every structure on every plane (models 1.x).
    plane_structures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Below this calibrated plane probability the model says it is unsure and proposes no shapes.
    min_plane_score: float = 0.0
    #: Per structure, (slope, intercept) of the logistic map from a shape's expected Dice to the
    #: probability that it reaches Dice 0.9 as it stands (fitted on validation images);
    #: :data:`ANY_STRUCTURE` holds the map for a structure not named. Empty: raw expected Dice.
    shape_calibration: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Planes the model was trained on mirrored left-right (head planes, not views whose anatomy
    #: has a side). On an image of such a plane the outlines are the average of the image's and
    #: its mirror's (test-time flip): smoother borders, small structures found more often.
    mirrored_planes: tuple[str, ...] = ()

    def build(self) -> EmbeddedNet:
        """The network with these weights, in eval mode, channels-last (faster on CPU)."""
        net = EmbeddedNet(self.net)
        net.load_state_dict(self.state_dict)
        # torch's stubs lack the memory_format-only overload of Module.to, which exists at run time.
        net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return net.eval()


def save_weights(weights: EmbeddedWeights, path: Path) -> None:
    """Write ``weights`` to ``path`` atomically (a crash leaves the old file intact)."""
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        **weights_file.description(
            weights.model_version, weights.training_data, weights.validation_metrics
        ),
        "architecture": weights_file.config_to_dict(weights.net),
        "structures": list(weights.structures),
        "planes": list(weights.planes),
        "input_size": list(weights.preprocess.size),
        "normalisation": {"mean": weights.preprocess.mean, "std": weights.preprocess.std},
        "plane_temperature": float(weights.plane_temperature),
        "logit_offsets": {k: float(v) for k, v in weights.logit_offsets.items()},
        "plane_structures": {k: list(v) for k, v in weights.plane_structures.items()},
        "min_plane_score": float(weights.min_plane_score),
        "shape_calibration": {
            k: [float(a), float(b)] for k, (a, b) in weights.shape_calibration.items()
        },
        "mirrored_planes": list(weights.mirrored_planes),
        "state_dict": {k: v.detach().cpu().clone() for k, v in weights.state_dict.items()},
    }
    weights_file.write(payload, path)


def load_weights(path: Path) -> EmbeddedWeights:
    """Read and check a weights file; ModelLoadError says what is wrong with which file."""
    return weights_file.load(path, KIND, _from_payload, _unusable)


def _from_payload(payload: dict[str, Any]) -> EmbeddedWeights:
    return EmbeddedWeights(
        net=weights_file.config_from_dict(NetConfig, payload["architecture"]),
        structures=tuple(payload["structures"]),
        planes=tuple(payload["planes"]),
        preprocess=PreprocessConfig.from_dict(
            {"size": payload["input_size"], **payload["normalisation"]}
        ),
        state_dict=payload["state_dict"],
        plane_temperature=float(payload["plane_temperature"]),
        **weights_file.described(payload),
        logit_offsets={str(k): float(v) for k, v in payload.get("logit_offsets", {}).items()},
        plane_structures={
            str(k): tuple(str(n) for n in v) for k, v in payload.get("plane_structures", {}).items()
        },
        min_plane_score=float(payload.get("min_plane_score", 0.0)),
        shape_calibration={
            str(k): (float(a), float(b))
            for k, (a, b) in payload.get("shape_calibration", {}).items()
        },
        mirrored_planes=tuple(str(p) for p in payload.get("mirrored_planes", ())),
    )


def _unusable(weights: EmbeddedWeights) -> str | None:
    """What makes weights that loaded unusable (a size or number no model has), or None."""
    sides = weights.preprocess.size
    if not all(MIN_INPUT_SIDE <= side <= MAX_INPUT_SIDE for side in sides):
        return (
            f"its input size {sides[0]} x {sides[1]} is outside {MIN_INPUT_SIDE}..{MAX_INPUT_SIDE}"
            " pixels a side"
        )
    numbers = [weights.preprocess.mean, weights.preprocess.std, weights.plane_temperature]
    numbers += list(weights.logit_offsets.values())
    numbers += [n for pair in weights.shape_calibration.values() for n in pair]
    if not all(math.isfinite(n) for n in numbers):
        return (
            "its normalisation, plane temperature, logit offsets or shape calibration are not "
            "finite"
        )
    if weights.preprocess.std <= 0 or weights.plane_temperature <= 0:
        return "its normalisation std or plane temperature is not positive"
    return weights_file.non_finite_parameters(weights.state_dict)
