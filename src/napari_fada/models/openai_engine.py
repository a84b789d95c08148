"""FADA served by an OpenAI-compatible chat-completions server (vLLM, llama.cpp's llama-server,
``python -m llama_cpp.server``), as a :class:`VisionLanguageEngine`.

The server does the image encoding and decoding, so many annotators and prelabel runs can share
one GPU box. The image goes with every phase's request as a PNG ``data:`` URI, with FADA's
sampling (servers cache the image prefix themselves where they can); answers stream back, so
progress shows and a cancel closes the connection. A JSON-schema constraint is sent as OpenAI's
``json_schema`` response format, else as the ``json_object`` + ``schema`` form llama.cpp's
servers take; a server that refuses both answers unconstrained and the parsers repair what they
can. One engine may be used from several threads at once: each request has its own connection.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import threading
import time
from typing import Any

import numpy as np
from PIL import Image

from napari_fada.core.proposal import ModelInfo
from napari_fada.errors import ModelLoadError
from napari_fada.models.openai_client import Response, ServerClient, ServerError
from napari_fada.models.vlm_engine import (
    Generation,
    GenerationSettings,
    ImageContext,
    TokenCallback,
    VisionLanguageEngine,
)

BACKEND_NAME = "openai"
#: Ways to ask for a JSON-schema answer, most standard first; None: no constraint.
RESPONSE_FORMATS: tuple[str | None, ...] = ("json_schema", "json_object", None)
#: Words in a refusal that mean the server does not take that response format.
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar")
#: Words in a refusal that mean the server takes no images.
_IMAGE_WORDS = ("image", "vision", "multimodal", "mmproj")

log = logging.getLogger(__name__)


def image_uri(image: np.ndarray) -> str:
    """``image`` (gray or RGB uint8) as a lossless PNG ``data:`` URI."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def response_format(kind: str | None, schema: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "fada_answer", "schema": schema}}
    if kind == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def _mentions(detail: str, words: tuple[str, ...]) -> bool:
    lowered = detail.lower()
    return any(word in lowered for word in words)


class OpenAIEngine(VisionLanguageEngine):
    """The model ``model`` (default: the only one the server lists) at ``url``.

    Construction asks the server for its models, so a server that is down, a wrong API key or
    an unknown model name fails at once with a clear :class:`ModelLoadError`.
    """

    #: The pipeline may run two independent phases at once; prelabel adds images in flight.
    parallel_requests = 2

    def __init__(self, client: ServerClient, model: str | None = None) -> None:
        self.client = client
        entry = self._served_model(model)
        self.model = str(entry["id"])
        self._format = 0
        self._format_lock = threading.Lock()
        config = {k: v for k, v in entry.items() if k != "created"}
        self.info = ModelInfo(
            model_id=self.model,
            backend=BACKEND_NAME,
            config_sha256=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
        )

    def _served_model(self, wanted: str | None) -> dict[str, Any]:
        response = self.client.request("GET", "/models")
        try:
            listing = response.json()
        finally:
            response.close()
        data = listing.get("data") if isinstance(listing, dict) else None
        models = [m for m in data or [] if isinstance(m, dict) and "id" in m]
        names = ", ".join(repr(str(m["id"])) for m in models) or "none"
        if wanted is None and len(models) == 1:
            return models[0]
        for model in models:
            if str(model["id"]) == wanted:
                return model
        if wanted is None:
            raise ModelLoadError(
                f"The server at {self.client.url} serves {len(models)} models ({names}): choose "
                "one with --model."
            )
        raise ModelLoadError(
            f"The server at {self.client.url} does not serve {wanted!r}; it serves {names}: "
            "choose one of those with --model, or leave --model out when it serves only one."
        )

    def encode_image(self, image: np.ndarray) -> ImageContext:
        start = time.perf_counter()
        uri = image_uri(image)
        height, width = np.asarray(image).shape[:2]
        return ImageContext(width, height, 0, time.perf_counter() - start, uri)

    @property
    def response_format_kind(self) -> str | None:
        """How JSON schemas are sent now (None once the server refused every way)."""
        return RESPONSE_FORMATS[self._format]

    def _body(self, uri: str, prompt: str, settings: GenerationSettings, kind: str | None) -> Any:
        content = [
            {"type": "image_url", "image_url": {"url": uri}},
            {"type": "text", "text": prompt},
        ]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "top_k": settings.top_k,  # not OpenAI's, but vLLM's and llama.cpp's servers take it
            "max_tokens": settings.max_new_tokens,
            "seed": settings.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if settings.json_schema is not None and kind is not None:
            body["response_format"] = response_format(kind, settings.json_schema)
        return body

    def _refused_format(self, index: int, error: ServerError) -> bool:
        """After a refusal of format ``index``, move on to the next way (once for all threads);
        False when the refusal is about something else."""
        if RESPONSE_FORMATS[index] is None or error.status not in (400, 422, 500, 501):
            return False
        if not _mentions(error.detail, _FORMAT_WORDS):
            return False
        with self._format_lock:
            if self._format == index:
                self._format += 1
                log.warning(
                    "%s refused the %s response format (%s); trying %s",
                    self.client.url, RESPONSE_FORMATS[index], error.detail,
                    RESPONSE_FORMATS[self._format] or "unconstrained answers",
                )  # fmt: skip
        return True

    def generate(
        self,
        context: ImageContext,
        prompt: str,
        settings: GenerationSettings,
        on_text: TokenCallback | None = None,
    ) -> Generation:
        start = time.perf_counter()
        while True:
            index = self._format
            body = self._body(context.state, prompt, settings, RESPONSE_FORMATS[index])
            try:
                response = self.client.request("POST", "/chat/completions", body)
            except ServerError as error:
                if settings.json_schema is not None and self._refused_format(index, error):
                    continue
                if error.status in (400, 500) and _mentions(error.detail, _IMAGE_WORDS):
                    raise ServerError(
                        f"The server at {self.client.url} refused the image ({error.detail}): it "
                        "serves a text-only model; start it with FADA's vision projector "
                        "(llama-server --mmproj ...) or a vision checkpoint.",
                        error.status,
                        error.detail,
                    ) from error
                raise
            try:
                return _read_answer(response, start, on_text)
            finally:
                response.close()


def _read_answer(response: Response, start: float, on_text: TokenCallback | None) -> Generation:
    """The answer's text and counts, streamed (calling ``on_text`` per piece) or whole."""
    if not response.streamed:
        return _whole_answer(response.json(), start, response.url)
    pieces: list[str] = []
    first: float | None = None
    finished, stopped = False, False
    usage: dict[str, Any] = {}
    for event in response.events():
        _raise_for_error(event, response.url)
        usage = event.get("usage") or usage
        for choice in event.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content") or ""
            finished = finished or bool(choice.get("finish_reason"))
            if not piece:
                continue
            first = first or time.perf_counter()
            pieces.append(piece)
            if on_text is not None and on_text(piece):
                stopped = True
                break
        if stopped:
            break
    if not finished and not stopped:
        raise ServerError(
            f"The server at {response.url} ended an answer early (no finish reason): it was "
            "stopped or restarted; llama_cpp.server cuts answers off when another request comes "
            "unless started with --interrupt_requests False."
        )
    end = time.perf_counter()
    first = first or end
    return Generation(
        text="".join(pieces),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        generated_tokens=int(usage.get("completion_tokens") or len(pieces)),
        prefill_s=first - start,
        decode_s=end - first,
        stopped_by_callback=stopped,
    )


def _raise_for_error(event: Any, url: str) -> None:
    """Servers report failures during a stream as an ``error`` event."""
    if not isinstance(event, dict):
        raise ServerError(f"The server at {url} sent an event that is not a JSON object.")
    if event.get("error"):
        error = event["error"]
        detail = str(error.get("message", error) if isinstance(error, dict) else error)
        raise ServerError(f"The server at {url} failed while answering ({detail}).", None, detail)


def _whole_answer(answer: Any, start: float, url: str) -> Generation:
    """A server that ignored ``stream``: the answer in one JSON body."""
    _raise_for_error(answer, url)
    try:
        text = answer["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise ServerError(
            f"The server at {url} answered without a chat completion: is it an "
            "OpenAI-compatible chat server?"
        ) from exc
    usage = answer.get("usage") or {}
    return Generation(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        generated_tokens=int(usage.get("completion_tokens") or 0),
        prefill_s=0.0,
        decode_s=time.perf_counter() - start,
    )
