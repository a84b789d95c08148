"""What the benchmarks report about the machine they ran on (imported by the bench_* scripts,
which run as ``python benchmarks/bench_*.py`` and so find this module beside them)."""

from __future__ import annotations

import json
import os
import platform
import resource
from pathlib import Path
from typing import Any


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if platform.system() == "Darwin" else peak / 1024


def report(figures: dict[str, Any], path: Path | None) -> None:
    """Print ``figures``, after the machine's CPU and cores, as JSON; also write it to ``path``."""
    text = json.dumps({"cpu": cpu_name(), "cores": os.cpu_count(), **figures}, indent=1)
    print(text)
    if path:
        path.write_text(text + "\n")
