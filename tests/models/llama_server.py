"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1,
serving a GGUF + mmproj pair, for the serving backend's tests.

The server is ready when uvicorn says it is listening (the model loads before that): its output
is read line by line in a thread that sets an event, so the test waits on that event, bounded,
and learns at once when the server exits instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.models.tiny_gguf import GgufPair

#: Loading the tiny model takes a second; a loaded machine may take far longer.
STARTUP_LIMIT_S = 180.0
_READY = "Uvicorn running on"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Output:
    """The server's output so far; ``ended`` is set when it is ready or has exited."""

    lines: list[str] = field(default_factory=list)
    ready: bool = False
    ended: threading.Event = field(default_factory=threading.Event)

    def follow(self, stream: Iterator[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip())
            if _READY in line and not self.ready:
                self.ready = True
                self.ended.set()
        self.ended.set()


@contextmanager
def llama_server(pair: GgufPair, name: str, api_key: str) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT/v1``) of a server of ``pair`` (listed as ``name``)
    needing ``api_key``.

    ``--interrupt_requests False``: by default llama_cpp.server ends a streamed answer as soon
    as another request waits, which would cut off FADA's phases in flight together.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(pair.model), "--model_alias", name, "--clip_model_path", str(pair.mmproj),
        "--chat_format", "mtmd", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1",
        "--interrupt_requests", "False", "--verbose", "False", "--api_key", api_key,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = _Output()
    assert process.stdout is not None
    reader = threading.Thread(target=output.follow, args=(process.stdout,), daemon=True)
    reader.start()
    try:
        output.ended.wait(STARTUP_LIMIT_S)
        if not output.ready:
            raise RuntimeError(
                f"llama_cpp.server did not start (exit code {process.poll()}):\n"
                + "\n".join(output.lines[-30:])
            )
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join()
