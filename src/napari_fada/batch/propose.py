"""Run a model over images, one after the other, and save its proposals for review.

:func:`propose_into` writes every proposal with status "proposed" into a dataset folder, which
the napari widget then opens for accepting, editing and rejecting. A file that cannot be read is
reported and skipped; the others are still proposed and saved. :class:`Frame` is one image to
propose on, with where it came from (also what a :mod:`~napari_fada.batch.work` item yields).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_fada.core.proposal import ImageRecord
from napari_fada.errors import FadaError
from napari_fada.models.base import PHASES, Backend, ProposeRequest


@dataclass
class Frame:
    """One image to propose on, with where it came from."""

    image: np.ndarray
    source_path: Path | None
    pixel_spacing_mm: tuple[float, float] | None
    clip_id: str | None = None
    frame_index: int | None = None

    def record(self) -> ImageRecord:
        """The record this frame is saved under."""
        from napari_fada.data.dataset import make_record

        return make_record(
            self.image,
            self.source_path,
            pixel_spacing_mm=self.pixel_spacing_mm,
            clip_id=self.clip_id,
            frame_index=self.frame_index,
        )


def iter_frames(path: Path) -> Iterator[Frame]:
    """Every image in ``path``: the image of a file, each frame of a clip, each file of a folder."""
    from napari_fada.data.readers import read_any

    loaded = read_any(path)
    if loaded.collection:
        for member in loaded.collection:
            yield from iter_frames(member)
    elif loaded.is_stack:
        clip_id = loaded.clip_id or loaded.name
        for index in range(len(loaded.data)):
            yield Frame(
                np.asarray(loaded.data[index]),
                loaded.path,
                loaded.pixel_spacing_mm,
                clip_id=clip_id,
                frame_index=index,
            )
    else:
        yield Frame(np.asarray(loaded.data), loaded.path, loaded.pixel_spacing_mm)


def propose_into(
    backend: Backend,
    inputs: list[Path],
    out: Path,
    structures: tuple[str, ...] | None = None,
    annotator: str | None = None,
    phases: tuple[str, ...] = PHASES,
) -> tuple[int, list[str]]:
    """Propose on every image of ``inputs`` (running ``phases``) and save into dataset ``out``.

    Returns the number of images saved and one message per input that failed.
    """
    from napari_fada.data.dataset import Dataset

    dataset = Dataset.open(out, annotator=annotator)
    saved, failures = 0, []
    for path in inputs:
        try:
            for frame in iter_frames(path):
                request = ProposeRequest(
                    phases=phases, structures=structures, pixel_spacing_mm=frame.pixel_spacing_mm
                )
                proposal = backend.propose(frame.image, request)
                dataset.save(frame.record(), frame.image, proposal)
                saved += 1
        except FadaError as exc:
            failures.append(f"{path}: {exc}")
    return saved, failures
