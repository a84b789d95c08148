"""napari-fada's torch weights files (the embedded and the prompt model's): how they are written
and read, and the error that names the file and what to do for each way one can be wrong.
Its names are meant to be used qualified: ``weights_file.load(path, KIND, ...)``.

A file is one ``torch.save`` dict, written atomically and read with ``weights_only=True``; its
``architecture`` is a network config dataclass as :func:`config_to_dict` stores it.
"""

from __future__ import annotations

import io
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

from napari_fada.core.atomic import write_bytes_atomic
from napari_fada.errors import ModelLoadError

ConfigT = TypeVar("ConfigT")


class _Buildable(Protocol):
    def build(self) -> Any: ...


WeightsT = TypeVar("WeightsT", bound=_Buildable)


@dataclass(frozen=True)
class WeightsKind:
    """A kind of weights file, as the errors about it name it."""

    #: What the files hold, e.g. "embedded model".
    name: str
    #: The command that makes them, e.g. "napari-fada train".
    train: str
    #: Layout version the reader takes.
    version: int
    #: The file's ``format`` entry; None for files that carry only a ``format_version``.
    tag: str | None = None
    #: Said after "not found", for where the missing file was asked for.
    missing_hint: str = ""


def write(payload: Mapping[str, Any], path: Path) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically: a crash or a full disk leaves the old
    file intact and no partial one."""
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())


def load(
    path: Path,
    kind: WeightsKind,
    make: Callable[[dict[str, Any]], WeightsT],
    problem: Callable[[WeightsT], str | None],
) -> WeightsT:
    """The weights ``make`` makes of the ``kind`` file at ``path``, their network built once to
    check it. ModelLoadError when the file is missing, unreadable or of another layout, when
    its entries do not rebuild the network, or when ``problem`` says why they are unusable."""
    path = Path(path)
    payload = _read(path, kind)
    with _rebuilding(path, kind):
        weights = make(payload)
        found = problem(weights)
        if found is None:
            weights.build()
    if found is not None:
        raise _unusable(path, kind, found)
    return weights


def _read(path: Path, kind: WeightsKind) -> dict[str, Any]:
    """The payload of a ``kind`` file, checked to be one of the layout this reader takes."""
    if not path.is_file():
        raise ModelLoadError(f"{kind.name} weights not found: {path}{kind.missing_hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise ModelLoadError(
            f"{path} is not a readable {kind.name} weights file ({type(exc).__name__}). It may "
            "be truncated or not a napari-fada model; train it again or pick another file."
        ) from None
    if not isinstance(payload, dict) or (kind.tag and payload.get("format") != kind.tag):
        raise ModelLoadError(f"{path} is not a napari-fada {kind.name} file ({kind.train})")
    if payload.get("format_version") != kind.version:
        raise ModelLoadError(
            f"{path} is of format {payload.get('format_version')!r}, but this napari-fada reads "
            f"{kind.name} files of format {kind.version}. Use weights made by this version "
            f"({kind.train})."
        )
    return payload


@contextmanager
def _rebuilding(path: Path, kind: WeightsKind) -> Iterator[None]:
    """Turns what rebuilding the network from a payload raises on a file of another
    architecture (a missing entry, a wrong type or shape) into a ModelLoadError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise ModelLoadError(
            f"{path} does not match the {kind.name}'s architecture ({exc}). It was made by "
            f"another model version; retrain with {kind.train}."
        ) from None


def _unusable(path: Path, kind: WeightsKind, problem: str) -> ModelLoadError:
    """The error for a file that loaded but cannot be used because of ``problem``."""
    return ModelLoadError(
        f"{path} cannot be used: {problem}. It is damaged or was not made by {kind.train}; "
        "train it again or pick another file."
    )


def non_finite_parameters(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """What is wrong with parameters holding NaN or infinite values, or None."""
    broken = [
        name
        for name, tensor in state_dict.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if broken:
        return f"its parameters hold NaN or infinite values ({', '.join(broken[:3])})"
    return None


def description(
    model_version: str, training_data: str, validation_metrics: Mapping[str, float]
) -> dict[str, Any]:
    """What every weights file says of the model it holds, as the file stores it."""
    return {
        "model_version": model_version,
        "training_data": training_data,
        "validation_metrics": {k: float(v) for k, v in validation_metrics.items()},
    }


def described(payload: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`description`'s entries of a file read, as the weights dataclasses take them."""
    return {
        "model_version": str(payload["model_version"]),
        "training_data": str(payload.get("training_data", "")),
        "validation_metrics": dict(payload.get("validation_metrics", {})),
    }


def config_to_dict(config: Any) -> dict[str, object]:
    """A network config dataclass as a weights file stores it: its tuples as lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def config_from_dict(cls: type[ConfigT], data: Mapping[str, object]) -> ConfigT:
    """The ``cls`` config stored as :func:`config_to_dict` stores it (KeyError for a missing
    tuple field, TypeError for an unknown field)."""
    values = dict(data)
    for name, hint in typing.get_type_hints(cls).items():
        if typing.get_origin(hint) is tuple:
            values[name] = tuple(values[name])  # type: ignore[arg-type]
    return cls(**values)
