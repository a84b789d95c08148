"""A scripted OpenAI-compatible server on 127.0.0.1 for the serving backend's tests.

``GET /v1/models`` lists :attr:`StubServer.models`; each ``POST /v1/chat/completions`` is
recorded and answered by :attr:`StubServer.answer`, a function of the request returning a
:class:`Reply`: a JSON body with any status, a stream of server-sent events, raw bytes, or no
answer until :attr:`StubServer.release` is set. Handlers' broken pipes (a client that hung up)
are not reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    events: list[Any] | None = None
    raw: bytes | None = None
    hang: bool = False


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


def chunk(content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    """One streamed chat-completion event."""
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def streamed(text: str, usage: dict[str, int] | None = None) -> Reply:
    """``text`` streamed a few characters per event, then the finish (and usage) events."""
    events: list[Any] = [chunk(text[i : i + 3]) for i in range(0, len(text), 3)]
    events.append(chunk(finish="stop"))
    if usage is not None:
        events.append({"choices": [], "usage": usage})
    return Reply(events=events)


def error(status: int, message: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "error"}})


@dataclass
class StubServer:
    models: list[str] = field(default_factory=lambda: ["fada-0.8b"])
    answer: Callable[[Request], Reply] = lambda request: streamed("{}")
    models_reply: Reply | None = None
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def chat_bodies(self) -> list[Any]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]


def _handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            stub.requests.append(Request(self.path, dict(self.headers), None))
            if self.path != "/v1/models":
                self._send(error(404, "Not Found"))
                return
            listing = {"data": [{"id": m, "object": "model"} for m in stub.models]}
            self._send(stub.models_reply or Reply(body=listing))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            request = Request(self.path, dict(self.headers), body)
            stub.requests.append(request)
            self._send(stub.answer(request))

        def _send(self, reply: Reply) -> None:
            if reply.hang:
                stub.release.wait()
                return
            if reply.events is not None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for event in reply.events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True
                return
            data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serving(stub: StubServer) -> Iterator[StubServer]:
    """Serve ``stub`` on a free port of 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
