"""How the embedded model sees an image: grayscale, stretched to a fixed square, normalised.

Shared by training and inference so both feed the network identical arrays. numpy and Pillow
only (no torch), so datasets can be cached without loading the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from napari_fada.core.pixels import to_uint8


@dataclass(frozen=True)
class PreprocessConfig:
    """Input size (height, width) and intensity normalisation of the network input."""

    size: tuple[int, int] = (160, 160)
    mean: float = 0.2
    std: float = 0.25

    def to_dict(self) -> dict[str, object]:
        return {"size": list(self.size), "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PreprocessConfig:
        size = tuple(int(v) for v in data["size"])  # type: ignore[attr-defined]
        return cls(size=size, mean=float(data["mean"]), std=float(data["std"]))  # type: ignore[arg-type]

    def sha256(self) -> str:
        """Hash identifying the preprocessing, written into every proposal's provenance."""
        text = json.dumps({"resize": "stretch-box", **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 from a grayscale, RGB or RGBA image; other than uint8 is stretched to 0..255
    (16-bit DICOM frames, float arrays)."""
    image = np.asarray(image)
    if image.ndim == 3:
        gray = image[..., :3].mean(axis=2)
        return np.round(gray).astype(np.uint8) if image.dtype == np.uint8 else to_uint8(gray)
    return to_uint8(image)


def resize_gray(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average a grayscale uint8 image to ``size`` (height, width)."""
    height, width = size
    resized = Image.fromarray(to_gray(image)).resize((width, height), Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.uint8)


def resize_labels(labels: np.ndarray, num_classes: int, size: tuple[int, int]) -> np.ndarray:
    """Resize a class-index image by area-averaging each class and taking the majority, which
    keeps thin structures that nearest-neighbour sampling would drop."""
    height, width = size
    fractions = np.empty((num_classes, height, width), dtype=np.float32)
    for index in range(num_classes):
        plane = Image.fromarray((labels == index).astype(np.float32), mode="F")
        fractions[index] = np.asarray(plane.resize((width, height), Image.Resampling.BOX))
    return fractions.argmax(axis=0).astype(np.uint8)


def normalise(images: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """uint8 images of any leading shape to float32 network input."""
    return ((images.astype(np.float32) / 255.0) - config.mean) / config.std
