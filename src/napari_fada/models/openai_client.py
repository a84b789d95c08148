"""HTTP to an OpenAI-compatible server (vLLM, llama.cpp's llama-server, llama_cpp.server).

Standard library only (``http.client``): no proxy settings from the environment, no redirects
followed, nothing contacted but the host and port of the URL the user gave. Each request opens
its own connection, so any number of threads may send requests at once. Connection failures
and "busy" answers (HTTP 502, 503, 504) are retried a few times with a growing pause; every
other failure becomes a :class:`ServerError` whose message says what to do.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from napari_fada.errors import ModelLoadError

#: Seconds to wait for the server to accept a connection or send the next bytes of an answer.
DEFAULT_TIMEOUT_S = 300.0
#: Tries of a request that failed to connect or found the server busy.
DEFAULT_TRIES = 4
#: Pause before the second try; doubled before each later one.
DEFAULT_BACKOFF_S = 1.0
#: HTTP statuses meaning "busy or restarting, ask again".
_RETRY_STATUSES = frozenset({502, 503, 504})
_DETAIL_CHARS = 300


class ServerError(ModelLoadError):
    """The server cannot be reached or refused a request: ``status`` is the HTTP status,
    ``detail`` the server's words, ``retryable`` whether asking again may help."""

    def __init__(
        self, message: str, status: int | None = None, detail: str = "", retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.retryable = retryable


@dataclass(frozen=True)
class _Address:
    scheme: str
    host: str
    port: int | None
    path: str


def parse_url(url: str) -> _Address:
    """The server's base URL (``http://host:port/v1``) split up; anything else is an error."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ModelLoadError(
            f"{url!r} is not a server URL: give the server's OpenAI-compatible base URL, e.g. "
            "http://localhost:8080/v1."
        )
    if parts.query or parts.fragment or parts.username:
        raise ModelLoadError(
            f"{url!r} has a query, fragment or user name: give only http(s)://host:port/path "
            "(the API key goes in --api-key)."
        )
    return _Address(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def error_detail(body: bytes) -> str:
    """The server's own words from an error answer (OpenAI, FastAPI and llama-server shapes)."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_DETAIL_CHARS]
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return str(value)[:_DETAIL_CHARS]
    return text[:_DETAIL_CHARS]


class Response:
    """An answer with status 200: the whole JSON body, or server-sent events line by line."""

    def __init__(
        self, connection: http.client.HTTPConnection, answer: http.client.HTTPResponse, url: str
    ) -> None:
        self._connection = connection
        self._answer = answer
        self.url = url

    @property
    def streamed(self) -> bool:
        return self._answer.getheader("Content-Type", "").startswith("text/event-stream")

    def json(self) -> Any:
        with _reading(self.url):
            body = self._answer.read()
        return decode_json(body, self.url)

    def events(self) -> Iterator[Any]:
        """Each ``data:`` event's JSON until ``data: [DONE]`` or the end of the stream."""
        while True:
            with _reading(self.url):
                line = self._answer.readline()
            if not line:
                return
            text = line.decode("utf-8", errors="replace").strip()
            if not text.startswith("data:"):
                continue  # blank separators, comments, event names
            data = text.removeprefix("data:").strip()
            if data == "[DONE]":
                return
            yield decode_json(data.encode(), self.url)

    def close(self) -> None:
        self._connection.close()


def decode_json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        snippet = body[:120].decode("utf-8", errors="replace")
        raise ServerError(
            f"The server at {url} answered with something that is not JSON ({snippet!r}): "
            "is that the base URL of an OpenAI-compatible server (usually ending in /v1)?"
        ) from exc


@contextmanager
def _reading(url: str) -> Iterator[None]:
    """Socket timeouts and broken connections while reading become :class:`ServerError`."""
    try:
        yield
    except TimeoutError as error:
        raise ServerError(
            f"The server at {url} stopped sending its answer for too long: it is overloaded or "
            "stuck; try again later or send fewer images at once (--workers)."
        ) from error
    except (OSError, http.client.HTTPException) as error:
        raise ServerError(
            f"The connection to the server at {url} broke while reading its answer "
            f"({type(error).__name__}: {error}): check that the server still runs."
        ) from error


class ServerClient:
    """Requests to the server at ``url`` (``http(s)://host:port/v1``), with ``api_key`` as a
    bearer token when given. ``sleep`` is the pause between tries (tests pass a no-op)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        tries: int = DEFAULT_TRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.address = parse_url(url)
        self.url = url.strip().rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.tries = max(1, tries)
        self.backoff_s = backoff_s
        self._sleep = sleep

    def _connection(self) -> http.client.HTTPConnection:
        address = self.address
        if address.scheme == "https":
            return http.client.HTTPSConnection(
                address.host, address.port, timeout=self.timeout_s,
                context=ssl.create_default_context(),
            )  # fmt: skip
        return http.client.HTTPConnection(address.host, address.port, timeout=self.timeout_s)

    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def request(self, method: str, path: str, payload: Any = None) -> Response:
        """Send ``payload`` (JSON) to ``path`` under the base URL; the open answer of status 200.

        Any other status raises :class:`ServerError` with the server's words; connection
        failures and busy answers are tried again first.
        """
        body = None if payload is None else json.dumps(payload).encode()
        attempt = 0
        while True:
            try:
                return self._send(method, path, body)
            except ServerError as error:
                attempt += 1
                if not error.retryable or attempt >= self.tries:
                    raise
            self._sleep(self.backoff_s * 2 ** (attempt - 1))

    def _send(self, method: str, path: str, body: bytes | None) -> Response:
        """One try of :meth:`request`."""
        connection = self._connection()
        try:
            connection.request(
                method, self.address.path + path, body=body, headers=self._headers(body)
            )
            answer = connection.getresponse()
        except TimeoutError as exc:
            connection.close()
            raise ServerError(
                f"The server at {self.url} did not answer within {self.timeout_s:g} s: it is "
                "overloaded or stuck; try again later or send fewer images at once (--workers)."
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise self._unreachable(exc) from exc
        if answer.status == 200:
            return Response(connection, answer, self.url)
        detail = error_detail(answer.read())
        connection.close()
        raise ServerError(
            self._refusal(answer.status, detail, path),
            answer.status,
            detail,
            retryable=answer.status in _RETRY_STATUSES,
        )

    def _unreachable(self, error: Exception) -> ServerError:
        if isinstance(error, socket.gaierror):
            return ServerError(
                f"Cannot find the host of {self.url} ({error}): check the server address."
            )
        return ServerError(
            f"No server answers at {self.url} ({type(error).__name__}: {error}; tried "
            f"{self.tries} times): start the server (README, 'Serving FADA') or check the "
            "address and port.",
            retryable=True,
        )

    def _refusal(self, status: int, detail: str, path: str) -> str:
        said = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
        if status in (401, 403):
            return (
                f"The server at {self.url} refused the API key ({said}): give the right key with "
                "--api-key (or the NAPARI_FADA_API_KEY environment variable)."
            )
        if status == 404 and "model" in detail.lower():
            return (
                f"The server at {self.url} does not serve that model ({said}): run "
                "'napari-fada settings --backend openai' without --model to use the one it serves."
            )
        if status in (404, 405):
            return (
                f"{self.url}{path} is not an OpenAI-compatible endpoint ({said}): give the "
                "server's base URL, usually ending in /v1."
            )
        if status in _RETRY_STATUSES:
            return f"The server at {self.url} is still busy after {self.tries} tries ({said})."
        return f"The server at {self.url} refused the request ({said})."
