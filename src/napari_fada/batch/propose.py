"""Run a model over images, one after the other, and save its proposals for review.

:func:`propose_into` writes every proposal with status "proposed" into a dataset folder, which
the napari widget then opens for accepting, editing and rejecting. Inputs are read as
:mod:`~napari_fada.batch.prelabel` reads them (files, folders of images each saved under its own
file name, globs, clips frame by frame; a folder is a clip only with ``folder_clips``). A file
that cannot be read or proposed is reported and skipped; the others are still proposed and
saved. An image a person has reviewed is left as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from napari_fada.batch.inputs import expand_inputs
from napari_fada.batch.work import propose_with
from napari_fada.data.dataset import Dataset
from napari_fada.errors import WriteError
from napari_fada.models.base import PHASES, Backend, ProposeRequest


@dataclass
class ProposeSummary:
    """What a ``propose`` run did: images saved, reviewed images left as they were, one message
    per input or frame that failed, and why it stopped early if the dataset could not be written."""

    saved: int = 0
    kept_reviewed: int = 0
    failures: list[str] = field(default_factory=list)
    write_error: str | None = None


def _tell(message: str) -> None:
    print(message, file=sys.stderr)


def propose_into(
    backend: Backend,
    inputs: Sequence[str | Path],
    out: Path,
    structures: tuple[str, ...] | None = None,
    annotator: str | None = None,
    phases: tuple[str, ...] = PHASES,
    folder_clips: bool = False,
) -> ProposeSummary:
    """Propose on every image of ``inputs`` (running ``phases``) and save into dataset ``out``."""
    expansion = expand_inputs(inputs, folder_clips=folder_clips)
    summary = ProposeSummary(failures=[f"{f.path}: {f.error}" for f in expansion.failures])
    dataset = Dataset.open(out, annotator=annotator, on_wait=_tell)
    request = ProposeRequest(phases=phases, structures=structures)
    try:
        for item in expansion.items:
            for outcome in propose_with(backend, [item], request):
                if outcome.error is not None or outcome.record is None:
                    frame = "" if outcome.key[1] is None else f" frame {outcome.key[1]}"
                    summary.failures.append(f"{outcome.key[0]}{frame}: {outcome.error}")
                    continue
                assert outcome.image is not None and outcome.proposal is not None
                if dataset.save_proposal(outcome.record, outcome.image, outcome.proposal):
                    summary.saved += 1
                else:
                    summary.kept_reviewed += 1
    except WriteError as error:  # a full disk: the next images would fail the same way
        summary.write_error = str(error)
    return summary
