"""What any model proposes for one image, and what a person makes of it.

All geometry is in pixel coordinates of the original image, ``x`` to the right and ``y`` down,
as floats. The 0..1000 convention of FADA's answers is converted at the parsing boundary
(:mod:`napari_fada.core.geometry`), napari's (row, col) order at the layer boundary.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal

Status = Literal["proposed", "accepted", "edited", "rejected"]
STATUSES: tuple[Status, ...] = ("proposed", "accepted", "edited", "rejected")
#: What a person decided for a whole image with one key: everything open accepted, everything
#: open rejected, or "looked at, nothing to label" (a true negative).
ImageDecision = Literal["accepted", "rejected", "nothing_to_label"]
MANUAL_SOURCE = "manual"
#: Source prefix of a mask made from a person's prompts (box, clicks): ``prompted:<model id>``.
PROMPTED_PREFIX = "prompted:"

Box = tuple[float, float, float, float]
Point = tuple[float, float]
Keypoint = tuple[float, float, float]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class Annotation:
    """One structure instance: a box, and optionally a polygon mask or keypoints.

    ``flags`` records what the parser or a person had to fix (``"clamped"``,
    ``"label_outside_vocabulary"``, ...) so that it stays visible after saving. ``prompts``
    holds the box and signed points a prompted mask was made from (source ``prompted:<model>``).
    """

    label: str
    box: Box | None = None
    polygon: list[Point] | None = None
    keypoints: list[Keypoint] | None = None
    score: float | None = None
    source: str = MANUAL_SOURCE
    status: Status = "proposed"
    id: str = field(default_factory=new_id)
    parent_id: str | None = None
    flags: list[str] = field(default_factory=list)
    annotator: str | None = None
    created: str = field(default_factory=now_iso)
    edited: str | None = None
    time_spent_s: float = 0.0
    prompts: dict[str, Any] | None = None

    @property
    def is_manual(self) -> bool:
        return self.source == MANUAL_SOURCE

    @property
    def prompt_model(self) -> str | None:
        """The prompt model's id when a person's prompts made this mask, else None."""
        return self.source.removeprefix(PROMPTED_PREFIX) if self.is_prompted else None

    @property
    def is_prompted(self) -> bool:
        return self.source.startswith(PROMPTED_PREFIX)

    def with_status(self, status: Status, annotator: str | None = None) -> Annotation:
        return replace(self, status=status, annotator=annotator or self.annotator, edited=now_iso())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Annotation:
        data = dict(data)
        for key, conv in (("box", tuple), ("polygon", _points), ("keypoints", _keypoints)):
            if data.get(key) is not None:
                data[key] = conv(data[key])
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _points(values: Any) -> list[Point]:
    return [(float(p[0]), float(p[1])) for p in values]


def _keypoints(values: Any) -> list[Keypoint]:
    return [(float(p[0]), float(p[1]), float(p[2])) for p in values]


@dataclass
class PlaneCall:
    """A plane classification: the label, its probability, and the full distribution if known.

    ``fada_label`` is FADA's class label for the same plane where FADA has one (``AC_PLANE`` for
    "abdomen"); ``unsure`` says the model could not tell the plane apart well enough to propose
    shapes for it (the label is then only its best guess)."""

    label: str
    score: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    source: str = MANUAL_SOURCE
    status: Status = "proposed"
    fada_label: str = ""
    unsure: bool = False

    def describe(self) -> str:
        """One line for a person: "abdomen [AC_PLANE] 0.93", "unsure: femur? 0.41"."""
        name = f"{self.label} [{self.fada_label}]" if self.fada_label else self.label
        score = f" {self.score:.2f}" if self.score is not None else ""
        return f"unsure: {name}?{score}" if self.unsure else f"{name}{score}"


@dataclass
class ModelInfo:
    """Identifies what produced a proposal, for provenance."""

    model_id: str = MANUAL_SOURCE
    backend: str = MANUAL_SOURCE
    weights_sha256: str | None = None
    config_sha256: str | None = None


@dataclass
class Proposal:
    """Everything proposed for one image (or one frame of a clip).

    ``decision`` is the image-level decision taken with one key, if any (None: decisions, if
    any, were taken per annotation).
    """

    width: int
    height: int
    annotations: list[Annotation] = field(default_factory=list)
    plane: PlaneCall | None = None
    interpretation: dict[str, Any] | None = None
    biometry: dict[str, float] = field(default_factory=dict)
    model: ModelInfo = field(default_factory=ModelInfo)
    raw_answers: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    id: str = field(default_factory=new_id)
    decision: ImageDecision | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def is_decided(self) -> bool:
        """Whether a person took any decision on it: only such images belong in a dataset."""
        return (
            self.decision is not None
            or any(a.status != "proposed" for a in self.annotations)
            or (self.plane is not None and self.plane.status != "proposed")
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        data = dict(data)
        data["annotations"] = [Annotation.from_dict(a) for a in data.get("annotations", [])]
        if data.get("plane") is not None:
            data["plane"] = PlaneCall(**data["plane"])
        data["model"] = ModelInfo(**data.get("model", {}))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def kept(self) -> list[Annotation]:
        """Annotations a person kept (accepted or edited): the positives of a training set."""
        return [a for a in self.annotations if a.status in ("accepted", "edited")]


@dataclass
class ImageRecord:
    """Identity of one image (or one frame of a clip) in a dataset.

    ``image_id`` names the image's files in a dataset folder; ``sha256`` is of the pixel data as
    saved, so the same pixels are recognised whatever file they came from.
    """

    image_id: str
    width: int
    height: int
    sha256: str = ""
    source_path: str | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    clip_id: str | None = None
    frame_index: int | None = None
    source_dataset: str | None = None
    split: str | None = None
