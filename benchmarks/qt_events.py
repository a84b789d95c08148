"""Waiting on the Qt event loop in the viewer benchmarks (imported by the bench_* scripts, which
run as ``python benchmarks/bench_*.py`` and so find this module beside them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(app: Any, condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Process ``app``'s events until ``condition()`` holds; TimeoutError after ``timeout_s``."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the viewer did not answer in time")
        app.processEvents()
        time.sleep(0.001)
