"""Pre-labelling: propose on whole folders and clips, resumably, on many cores or a cluster, and
save everything with status "proposed" for review in napari (``napari-fada prelabel``).

The dataset is the record of what is done: a frame is skipped when the dataset already holds a
record from the same file and frame (an earlier run, or an annotator), or the same pixels. So a
run stopped by Ctrl-C, a crash or a kill is finished by running the same command again. Only
this process writes the dataset, in input order; workers only read files and propose.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from napari_fada.batch.inputs import InputFailure, expand_inputs, frame_key, group_items
from napari_fada.batch.ordered import Submit, in_order
from napari_fada.batch.report import RunReport, write_report
from napari_fada.batch.run_local import local_workers
from napari_fada.batch.work import BackendSpec, FrameOutcome
from napari_fada.core.proposal import now_iso
from napari_fada.data.dataset import Dataset
from napari_fada.errors import DatasetError, FadaError, WriteError
from napari_fada.models.base import PHASES, CancelToken, ProposeRequest
from napari_fada.models.registry import available_backends, backend_batches, backend_options
from napari_fada.settings import Settings

#: Items queued per worker slot, so a worker never waits for the writer to hand it work.
QUEUED_PER_SLOT = 2
#: Exit status of a run stopped by Ctrl-C, as for any program killed by SIGINT.
INTERRUPTED = 130
#: How often the dataset-wide files and the run's report are brought up to date while it
#: runs (each save writes only its image's files: rewriting coco.json and the others for every
#: image would make the one writer the bottleneck on large datasets).
CHECKPOINT_EVERY_S = 10.0


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity, where the system says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Model threads for each of ``workers`` processes sharing this machine's cores."""
    return max(1, default_workers() // max(1, workers))


@contextmanager
def _workers(
    spec: BackendSpec,
    request: ProposeRequest,
    workers: int,
    scheduler: str | None,
    batch_size: int,
) -> Iterator[tuple[Submit, int]]:
    if scheduler is None:
        with local_workers(spec, request, workers, batch_size) as running:
            yield running
    else:
        from napari_fada.batch.run_dask import dask_workers

        with dask_workers(spec, request, scheduler, workers, batch_size) as running:
            yield running


def _check_batch_size(spec: BackendSpec, batch_size: int) -> None:
    if batch_size < 1:
        raise FadaError(f"The batch size must be a whole number above 0, not {batch_size}.")
    if batch_size > 1 and not backend_batches(spec.name):
        batching = ", ".join(n for n in available_backends() if backend_batches(n))
        raise FadaError(
            f"The {spec.name!r} backend proposes one image at a time: --batch-size is for the "
            f"{batching} backends (use --workers to propose on several images at once)."
        )


def _tell(message: str) -> None:
    print(message, file=sys.stderr)


def _checkpoint(dataset: Dataset, report: RunReport) -> None:
    """Bring the run's report, coco.json, manifest.csv and the other dataset-wide files up to
    date (after a kill, :meth:`Dataset.open` does the latter). Raises DatasetError when the
    folder cannot be written; what was saved stays."""
    with dataset.writing("the run's report"):
        write_report(dataset.root, report)
    dataset.write_aggregates()


def _save(dataset: Dataset, outcome: FrameOutcome, report: RunReport) -> None:
    """Save one frame's proposal, unless it failed or its pixels are already in the dataset
    (saved from another file, perhaps reviewed: never overwritten by a proposal, which the
    dataset checks again at write time, in case another process saved it meanwhile)."""
    path, frame_index = outcome.key
    if outcome.error is not None or outcome.record is None:
        report.fail(InputFailure(path, frame_index, outcome.error or "no proposal"))
        return
    if dataset.find_by_sha256(outcome.record.sha256) is not None:
        report.skipped += 1
        return
    assert outcome.image is not None and outcome.proposal is not None
    started = time.perf_counter()
    try:
        saved = dataset.save_proposal(
            outcome.record, outcome.image, outcome.proposal, aggregates=False
        )
    except WriteError:
        raise  # the disk is full or read-only: the next frames would fail the same way
    except DatasetError as error:
        report.fail(InputFailure(path, frame_index, str(error)))
        return
    finally:
        report.saving_s += time.perf_counter() - started
    if saved is None:
        report.skipped += 1
        return
    report.done += 1
    if report.model_id is None and outcome.proposal.model is not None:
        report.model_id = outcome.proposal.model.model_id


@dataclass(frozen=True)
class Progress:
    """How far a run is: ``handled`` of ``total`` frames (saved, skipped or failed)."""

    handled: int
    total: int
    failed: int
    elapsed_s: float

    @property
    def images_per_s(self) -> float:
        return self.handled / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        rate = self.images_per_s
        return (self.total - self.handled) / rate if rate > 0 else None


def prelabel(
    inputs: Sequence[str | Path],
    out: Path,
    spec: BackendSpec,
    workers: int = 1,
    scheduler: str | None = None,
    request: ProposeRequest | None = None,
    annotator: str | None = None,
    progress: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    folder_clips: bool = False,
    batch_size: int = 1,
) -> RunReport:
    """Propose on every frame of ``inputs`` not yet in dataset ``out`` and save the proposals.

    ``scheduler`` None runs on this machine (``workers`` processes, or this one for 1); an
    address, or ``"local"`` for a new LocalCluster of ``workers`` processes, runs on Dask.
    ``progress`` shows a progress bar on stderr; ``on_progress`` is called after each item.
    ``folder_clips`` reads each folder as one clip instead of images each on its own.
    ``batch_size`` frames are proposed together (:meth:`Backend.propose_batch`: the transformers
    and llama backends decode them at once); a backend that cannot is a FadaError.
    Ctrl-C or ``cancel`` stops the run once the items being proposed are done and returns its
    report marked ``interrupted``; a dataset that cannot be written (full disk, no permission)
    stops it with the reason in ``write_error``, what was saved staying intact. The report is
    appended to the dataset's ``prelabel_report.json`` however the run ends (when it can be
    written); a model that cannot be loaded raises ModelLoadError.
    """
    out = Path(out)
    _check_batch_size(spec, batch_size)
    dataset = Dataset.open(out, annotator=annotator, on_wait=_tell)
    done = {frame_key(r.source_path, r.frame_index) for r in dataset.records() if r.source_path}
    expansion = expand_inputs(inputs, done, folder_clips)
    groups = group_items(expansion.items, batch_size)
    workers = max(1, min(workers, len(groups)))
    report = RunReport([str(p) for p in inputs], spec.name, workers, scheduler)
    report.total, report.skipped = expansion.frames, expansion.skipped
    for failure in expansion.failures:
        report.fail(failure)
    started, last_report, handled = time.perf_counter(), 0.0, 0
    bar = tqdm(total=expansion.frames, unit="img", desc="prelabel", disable=not progress)
    try:
        if groups:  # nothing to do: no model loaded, no cluster started
            running = _workers(spec, request or ProposeRequest(), workers, scheduler, batch_size)
            with (
                running as (submit, slots),
                closing(in_order(groups, submit, QUEUED_PER_SLOT * slots)) as results,
            ):
                for _, outcomes in results:
                    for outcome in outcomes:
                        _save(dataset, outcome, report)
                    elapsed = time.perf_counter() - started
                    report.started_up(elapsed)
                    handled += len(outcomes)
                    bar.update(len(outcomes))
                    bar.set_postfix(failed=report.failed, refresh=False)
                    if on_progress is not None:
                        on_progress(Progress(handled, report.total, report.failed, elapsed))
                    if elapsed - last_report > CHECKPOINT_EVERY_S:
                        report.seconds = last_report = elapsed
                        _checkpoint(dataset, report)
                    if cancel is not None and cancel.cancelled:
                        report.interrupted = True
                        break
    except KeyboardInterrupt:
        report.interrupted = True
    except WriteError as error:
        report.write_error = str(error)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        report.finished = now_iso()
        try:
            _checkpoint(dataset, report)
        except WriteError as error:  # already said if the run stopped for it
            report.write_error = report.write_error or str(error)
    return report


def worker_spec(
    settings: Settings, workers: int, scheduler: str | None = None, threads: int | None = None
) -> BackendSpec:
    """The model each worker loads, from ``settings``. Threads are per worker: ``threads`` if
    given, else this machine's cores shared out (1 per Dask worker thread)."""
    arguments = settings.backend_arguments()
    if "threads" in backend_options(settings.backend):
        local = threads_per_worker(workers) if scheduler is None else 1
        arguments["threads"] = threads or local
    return BackendSpec.of(settings.backend, **arguments)


def settings_request(settings: Settings, structures: Sequence[str] | None) -> ProposeRequest:
    """What to ask the model: the saved phases, and ``structures`` (None: the routing)."""
    return ProposeRequest(
        phases=tuple(settings.phases) if settings.phases else PHASES,
        structures=tuple(structures) if structures else None,
    )
