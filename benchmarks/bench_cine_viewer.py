"""Benchmark cine work in the viewer: memory while scrolling a long clip, streaming proposals.

    xvfb-run -a python benchmarks/bench_cine_viewer.py [--frames 600] [--size 800x600]
        [--stream-frames 20] [--json FILE]

Writes a generated sweep of ``--frames`` frames (the synthetic head sweep, rendered once for
60 probe positions that play back and forth, upscaled to ``--size``) as an MP4, then in a fresh
process opens it in a napari viewer with the annotator widget docked (as an annotator works),
steps through every frame and records resident memory; then proposes frames with the embedded
model through the Cine section's streaming worker and cancels after ``--stream-frames`` frames.
Memory is the child process's own: the clip generation does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from machine import peak_rss_mib, report
from qt_events import wait_until

DISTINCT_FRAMES = 60


def rss_mib() -> float:
    """Resident memory now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def write_clip(path: Path, n_frames: int, size: tuple[int, int]) -> Path:
    """A gray MP4 of ``n_frames`` sweep frames of ``size`` (width, height)."""
    import av
    from PIL import Image

    from napari_fada.samples import cine_clip

    frames = cine_clip(n_frames=DISTINCT_FRAMES).frames
    cycle = [*range(DISTINCT_FRAMES), *range(DISTINCT_FRAMES - 2, 0, -1)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.bit_rate = 6_000_000
        stream.options = {"g": "25"}
        for index in range(n_frames):
            frame = np.asarray(Image.fromarray(frames[cycle[index % len(cycle)]]).resize(size))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")))
        container.mux(stream.encode())
    return path


def measure(path: Path, stream_frames: int) -> dict[str, Any]:
    """Scroll the clip in a viewer with the annotator docked, then stream proposals."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_fada._napari.annotator.widget import AnnotatorWidget
    from napari_fada.models.embedded_backend import EmbeddedBackend

    viewer = napari.Viewer(show=False)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    app = QApplication.instance()
    app.processEvents()
    figures: dict[str, Any] = {"rss_viewer_mib": rss_mib()}
    started = time.perf_counter()
    (layer,) = viewer.open(path, plugin="napari-fada")
    app.processEvents()
    figures["open_s"] = time.perf_counter() - started
    figures["rss_opened_mib"] = rss_mib()
    n_frames = layer.data.shape[0]
    samples, started = [], time.perf_counter()
    for frame in range(n_frames):
        viewer.dims.set_current_step(0, frame)
        app.processEvents()
        if frame % 50 == 0 or frame == n_frames - 1:
            samples.append((frame, round(rss_mib(), 1)))
    scroll_s = time.perf_counter() - started
    figures.update(
        frames=n_frames,
        frame_shape=list(layer.data.shape[1:]),
        whole_clip_decoded_mib=layer.data.size / (1 << 20),
        scroll_ms_per_frame=1000 * scroll_s / n_frames,
        rss_while_scrolling_mib=samples,
        peak_rss_after_scroll_mib=peak_rss_mib(),
        frames_decoded=layer.data.decoded,
        frames_cached=layer.data.cached_frames,
    )

    class StartsCounted(EmbeddedBackend):
        """The embedded model, remembering when each frame's proposal started."""

        starts: ClassVar[list[float]] = []

        def propose(self, *args: Any, **kwargs: Any) -> Any:
            self.starts.append(time.perf_counter())
            return super().propose(*args, **kwargs)

    viewer.dims.set_current_step(0, 0)
    widget.set_backend(StartsCounted())
    cine = widget.cine
    started = time.perf_counter()
    cine.propose_all()
    wait_until(app, lambda: cine.clip is not None and len(cine.clip) >= stream_frames, 1800)
    streamed_s = time.perf_counter() - started
    done = len(cine.clip)
    cancel_at = time.perf_counter()
    cine.cancel()
    wait_until(app, lambda: cine.job is None, 600)
    figures.update(
        model_id=widget.backend.model_id,
        stream_frames=done,
        stream_s_per_frame=streamed_s / done,
        model_s_per_frame=float(np.median(cine.frame_seconds)),
        cancel_to_stopped_s=time.perf_counter() - cancel_at,
        frames_started_after_cancel=sum(t > cancel_at for t in StartsCounted.starts),
        results_delivered_after_cancel=len(cine.clip) - done,
        peak_rss_end_mib=peak_rss_mib(),
    )
    viewer.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", default="800x600", help="frame WIDTHxHEIGHT")
    parser.add_argument("--stream-frames", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.stream_frames)))
        return 0
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        clip = write_clip(Path(folder) / "long_sweep.mp4", args.frames, (width, height))
        print(f"wrote {args.frames} frames in {time.perf_counter() - started:.1f} s", flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(clip), "--stream-frames",
             str(args.stream_frames)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "NAPARI_FADA_CONFIG_DIR": str(Path(folder) / "config")},
        )  # fmt: skip
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        return child.returncode
    report(json.loads(child.stdout.splitlines()[-1]), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
