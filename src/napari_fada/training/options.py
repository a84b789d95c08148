"""What a training run is asked to do, what it reports while running, and what it returns.

Kept free of torch so that the napari widget can build options and show progress without
importing it; :func:`napari_fada.training.loop.train_model` does the work.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal


def default_cache_dir() -> Path:
    """Where resized training arrays are cached between runs."""
    return Path(os.environ.get("TMPDIR", "/tmp")) / "napari-fada-cache"


def checkpoint_path(out: Path) -> Path:
    """The resumable checkpoint kept next to the weights file ``out``."""
    return out.with_name(out.name + ".ckpt")


#: Input side of a new model when ``size`` is not given.
NEW_MODEL_SIZE = 160


@dataclass(frozen=True)
class TrainOptions:
    """One training run; the fields are the ``napari-fada train`` options of the same names.

    ``init`` None trains a new model of input side ``size`` (:data:`NEW_MODEL_SIZE` when None);
    otherwise it fine-tunes that file, at its own input size unless ``size`` names another (the
    network is fully convolutional, so a model can learn to work at a finer resolution).
    ``minutes`` is a time budget the schedule anneals by; ``resume`` continues the checkpoint
    next to ``out``.
    """

    data: tuple[Path, ...]
    out: Path
    init: Path | None = None
    resume: bool = False
    epochs: int = 12
    minutes: float | None = None
    batch_size: int = 8
    lr: float = 3e-3
    size: int | None = None
    patience: int = 4
    seed: int = 0
    planes: tuple[str, ...] | None = None
    holdout: tuple[str, ...] = ()
    negatives: int = 0
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    cache_dir: Path | None = field(default_factory=default_cache_dir)

    @staticmethod
    def default(name: str) -> Any:
        """The default of field ``name``, for the CLI and the widget to show."""
        found = next(f for f in fields(TrainOptions) if f.name == name)
        if found.default_factory is not MISSING:
            return found.default_factory()
        return found.default

    @property
    def checkpoint(self) -> Path:
        return checkpoint_path(self.out)


@dataclass(frozen=True)
class TrainProgress:
    """One event of a running training.

    ``step`` events come after every optimiser step (``loss``: mean of the last 20 steps);
    ``epoch`` events after each validation (``loss``: the epoch's mean, ``metrics``: the
    validation figures); ``info`` events carry a line for the log (``metrics`` holds the
    figures before training on the "before" line). ``message`` is the line the CLI prints.
    """

    stage: Literal["info", "step", "epoch"]
    message: str = ""
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    fraction: float = 0.0
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    """A finished run: the weights file written and the validation figures before and after."""

    out: Path
    before: dict[str, float]
    after: dict[str, float]
    epochs: int
    steps: int
    n_train: int
    n_val: int
    plane_temperature: float

    def comparison(self) -> str:
        """Before and after, one metric a line, as a plain-text table."""
        lines = [f"{'metric':<24}{'before':>9}{'after':>9}{'change':>9}"]
        for name in [*self.after, *(k for k in self.before if k not in self.after)]:
            old, new = self.before.get(name), self.after.get(name)
            change = f"{new - old:>+9.4f}" if old is not None and new is not None else f"{'':>9}"
            lines.append(f"{name:<24}{_cell(old)}{_cell(new)}{change}")
        return "\n".join(lines)


def _cell(value: float | None) -> str:
    return f"{'-':>9}" if value is None else f"{value:>9.4f}"
