"""The record of a pre-labelling run: counts, speed and every failure, kept in the dataset folder.

``prelabel_report.json`` in the dataset lists every run, newest last, so the failures of a run
stay visible after a rerun. Each run rewrites its own entry (found by ``run_id``), so runs into
one dataset at the same time keep each other's. The dataset itself is the record of what is
done; this file only says what happened.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from napari_fada.batch.inputs import InputFailure
from napari_fada.core.atomic import write_json_atomic, writing
from napari_fada.core.proposal import new_id, now_iso

REPORT_NAME = "prelabel_report.json"


@dataclass
class RunReport:
    """One run. ``done`` frames were saved; ``skipped`` were saved before (by an earlier run, by
    an annotator, or as the same pixels from another file); ``failed`` are in ``failures``."""

    inputs: list[str]
    backend: str
    workers: int
    scheduler: str | None = None
    run_id: str = field(default_factory=new_id)
    model_id: str | None = None
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    interrupted: bool = False
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    #: Seconds until the first results were saved (workers started, model loaded), and the
    #: frames saved by then: the steady rate is measured from there.
    startup_s: float | None = None
    done_at_startup: int = 0
    #: Seconds this process spent saving (the one writer).
    saving_s: float = 0.0
    failures: list[InputFailure] = field(default_factory=list)
    #: Why the run stopped early because the dataset could not be written (full disk...).
    write_error: str | None = None

    @property
    def images_per_s(self) -> float:
        """Frames saved per second of the whole run, start-up included."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_images_per_s(self) -> float | None:
        """Frames saved per second once the first results came back (None before two)."""
        if self.startup_s is None or self.done <= self.done_at_startup:
            return None
        return (self.done - self.done_at_startup) / max(self.seconds - self.startup_s, 1e-9)

    def started_up(self, elapsed_s: float) -> None:
        """Note the end of start-up, when the first results have been saved."""
        if self.startup_s is None:
            self.startup_s, self.done_at_startup = elapsed_s, self.done

    def fail(self, failure: InputFailure) -> None:
        self.failures.append(failure)
        self.failed += 1

    def as_json(self) -> dict[str, Any]:
        steady = self.steady_images_per_s
        return {
            **asdict(self),
            "images_per_s": round(self.images_per_s, 3),
            "steady_images_per_s": None if steady is None else round(steady, 3),
        }

    def summary(self, dataset: Path) -> str:
        """The closing line(s) a person reads, with where the failures are listed."""
        state = "interrupted" if self.interrupted else "finished"
        text = (
            f"prelabel {state}: {self.done} done, {self.skipped} skipped (already in the "
            f"dataset), {self.failed} failed, {self.images_per_s:.2f} images/s "
            f"over {self.seconds:.1f} s into {dataset}"
        )
        steady = self.steady_images_per_s
        if steady is not None and self.startup_s is not None:
            text += f"\n{steady:.2f} images/s after a start-up of {self.startup_s:.1f} s"
        if self.write_error:
            text += f"\nstopped: {self.write_error}"
        if self.failed:
            text += f"\nfailures are listed in {dataset / REPORT_NAME}"
        if self.interrupted:
            text += "\nrun the same command again to finish: saved images are not proposed again"
        return text


def read_runs(dataset: Path) -> list[dict[str, Any]]:
    """Earlier runs' reports; an unreadable report file gives none (it is only informational)."""
    try:
        runs = json.loads((dataset / REPORT_NAME).read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return runs if isinstance(runs, list) else []


def write_report(dataset: Path, report: RunReport) -> None:
    """Put ``report`` in the file (replacing its earlier version), atomically; WriteError if it
    cannot. Call it holding the dataset's lock, so that no other run's entry is lost."""
    with writing(dataset, "the run's report"):
        others = [r for r in read_runs(dataset) if r.get("run_id") != report.run_id]
        write_json_atomic(dataset / REPORT_NAME, {"runs": [*others, report.as_json()]})
