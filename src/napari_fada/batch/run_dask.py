"""Run work items on a Dask distributed cluster: an existing one, or a LocalCluster.

Workers read the input files themselves (give them the same paths, e.g. a shared folder) and
send back each frame's record, pixels and proposal; only the calling process writes the
dataset. Each worker process loads the model once, on its first item, and keeps it
(:func:`napari_fada.batch.work.loaded_backend`); items are never retried on another worker
after an error, since the error is reported in the run's outcomes instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from napari_fada.batch.ordered import Submit
from napari_fada.batch.work import BackendSpec, propose_group
from napari_fada.errors import FadaError
from napari_fada.models.base import ProposeRequest

#: ``--scheduler local``: start a LocalCluster on this machine instead of connecting.
LOCAL = "local"
CONNECT_TIMEOUT_S = 30


@contextmanager
def dask_workers(
    spec: BackendSpec, request: ProposeRequest, scheduler: str, workers: int, batch_size: int = 1
) -> Iterator[tuple[Submit, int]]:
    """``(submit, slots)`` on the cluster at ``scheduler`` (or a LocalCluster of ``workers``
    single-threaded processes), closed again on exit; ``batch_size`` frames proposed at a
    time."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:
        raise FadaError(
            f"--scheduler needs Dask distributed, which could not be imported ({error}); "
            "install it with: pip install 'napari-fada[distributed]'"
        ) from error
    with ExitStack() as stack:
        if scheduler == LOCAL:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,  # not the routine "killing worker" on close
            )
            stack.callback(cluster.close)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except OSError as error:
                raise FadaError(
                    f"Cannot reach the Dask scheduler at {scheduler} ({error}). Check the "
                    "address, or use --scheduler local to start a cluster on this machine."
                ) from error
        stack.callback(client.close)
        slots = max(1, sum(client.nthreads().values()))
        yield (
            (
                lambda group: client.submit(
                    propose_group, group, spec, request, batch_size, pure=False, retries=0
                )
            ),
            slots,
        )
