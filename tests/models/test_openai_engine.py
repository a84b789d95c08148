"""The serving backend against a scripted server on 127.0.0.1: the requests FADA sends, answers
streamed back, phases in flight together, response-format fallback, and every failure's message."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from napari_fada.commands.main import main
from napari_fada.core.fada_format import answer_schema
from napari_fada.core.prompts import max_new_tokens
from napari_fada.errors import Cancelled, ModelLoadError
from napari_fada.models.base import CancelToken, ProposeRequest
from napari_fada.models.openai_backend import OpenAIBackend
from napari_fada.models.openai_client import ServerClient, ServerError
from napari_fada.models.openai_engine import OpenAIEngine
from napari_fada.models.vlm_engine import GenerationSettings
from tests.models.stub_server import Reply, Request, StubServer, chunk, error, serving, streamed

INTERPRETATION = {
    "anatomical_structures": ["brain"],
    "fetal_orientation": "transverse",
    "imaging_plane": "trans-thalamic",
    "biometric_measurements": {},
    "gestational_age": "20 weeks",
    "image_quality": "good",
    "normality_assessment": "normal",
    "clinical_recommendations": "none",
}
BRAIN = {"bbox_2d": [100, 200, 300, 400], "label": "Brain"}
ANSWERS = {
    "Interpret": json.dumps(INTERPRETATION),
    "Classify": '{"label": "BPD_PLANE"}',
    "Detect": json.dumps([BRAIN]),
    "Segment": json.dumps([{**BRAIN, "mask": [[100, 200], [300, 200], [300, 400]]}]),
}
#: Wait for an event that should come at once; only a broken program waits this long.
PATIENCE_S = 60.0


def prompt_of(request: Request) -> str:
    return str(request.body["messages"][0]["content"][1]["text"])


def phase_of(request: Request) -> str:
    return prompt_of(request).split()[0]


def fada_answers(request: Request) -> Reply:
    return streamed(ANSWERS[phase_of(request)], {"prompt_tokens": 700, "completion_tokens": 9})


def quick_client(url: str, **options: Any) -> ServerClient:
    """A client that does not pause between tries."""
    return ServerClient(url, sleep=lambda seconds: None, **options)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with serving(StubServer(answer=fada_answers)) as running:
        yield running


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (1080, 1920), dtype=np.uint8)


def test_five_phases_send_fada_requests_and_read_streamed_answers(
    stub: StubServer, image: np.ndarray
) -> None:
    backend = OpenAIBackend(stub.url, api_key="secret-key")
    assert (backend.info.model_id, backend.info.backend) == ("fada-0.8b", "openai")
    proposal = backend.propose(image)
    assert proposal.interpretation == INTERPRETATION
    assert proposal.plane is not None and proposal.plane.label == "BPD_PLANE"
    [brain] = proposal.annotations
    assert brain.label == "Brain" and brain.polygon is not None
    assert brain.box == pytest.approx((192, 216, 576, 432))  # 0..1000 of 1920x1080
    assert proposal.issues == []
    assert backend.last_generations["detect"].generated_tokens == 9
    assert all(r.headers["Authorization"] == "Bearer secret-key" for r in stub.requests)
    bodies = {phase_of(r): r.body for r in stub.requests if r.body}
    assert set(bodies) == {"Interpret", "Classify", "Detect", "Segment"}
    routed = json.loads(proposal.raw_answers["map"])
    for phase, body in bodies.items():
        name = phase.lower()
        assert body["model"] == "fada-0.8b" and body["stream"] is True
        assert (body["temperature"], body["top_p"], body["top_k"]) == (0.1, 0.95, 50)
        assert body["max_tokens"] == max_new_tokens(name)
        schema = answer_schema(name, routed.get(name))
        assert body["response_format"]["json_schema"]["schema"] == schema
        image_part, text_part = body["messages"][0]["content"]
        assert text_part["type"] == "text"
        header, data = image_part["image_url"]["url"].split(",", 1)
        assert header == "data:image/png;base64"
        sent = Image.open(io.BytesIO(base64.b64decode(data)))
        assert sent.size == (1024, 576)  # FADA's long side of 1024 px


def test_independent_phases_are_in_flight_together(stub: StubServer, image: np.ndarray) -> None:
    """Interpret waits for classify's request and detect for segment's: a pipeline asking one
    phase at a time would make them wait PATIENCE_S and fail the test."""
    arrived = {phase: threading.Event() for phase in ANSWERS}
    overlapped: dict[str, bool] = {}
    partner = {"Interpret": "Classify", "Detect": "Segment"}

    def answer(request: Request) -> Reply:
        phase = phase_of(request)
        arrived[phase].set()
        if phase in partner:
            overlapped[phase] = arrived[partner[phase]].wait(PATIENCE_S)
        return fada_answers(request)

    stub.answer = answer
    OpenAIBackend(stub.url).propose(image)
    assert overlapped == {"Interpret": True, "Detect": True}


def test_refused_json_schema_falls_back_to_llama_cpp_form(
    stub: StubServer, image: np.ndarray
) -> None:
    """llama_cpp.server refuses OpenAI's json_schema format with HTTP 500 and takes json_object
    with a schema; the engine switches once and keeps the schema."""

    def answer(request: Request) -> Reply:
        if request.body["response_format"]["type"] == "json_schema":
            return error(500, "Input should be 'text' or 'json_object' (response_format.type)")
        return fada_answers(request)

    stub.answer = answer
    backend = OpenAIBackend(stub.url)
    proposal = backend.propose(image, ProposeRequest(phases=("classify",)))
    assert proposal.plane is not None and proposal.plane.label == "BPD_PLANE"
    formats = [b["response_format"]["type"] for b in stub.chat_bodies()]
    assert formats == ["json_schema", "json_object"]
    assert backend.propose(image).issues == []
    assert {b["response_format"]["type"] for b in stub.chat_bodies()[2:]} == {"json_object"}
    assert stub.chat_bodies()[1]["response_format"]["schema"] == answer_schema("classify")


def test_a_server_without_schemas_gets_repaired_answers(
    stub: StubServer, image: np.ndarray
) -> None:
    def answer(request: Request) -> Reply:
        if "response_format" in request.body:
            return error(400, "response_format is not supported")
        return streamed(f"Sure! Here it is:\n```json\n{ANSWERS[phase_of(request)]}\n```")

    stub.answer = answer
    backend = OpenAIBackend(stub.url)
    proposal = backend.propose(image)
    assert isinstance(backend.engine, OpenAIEngine)
    assert backend.engine.response_format_kind is None
    assert proposal.plane is not None and proposal.plane.label == "BPD_PLANE"
    assert [a.label for a in proposal.annotations] == ["Brain"]


def test_a_server_that_does_not_stream_still_answers(stub: StubServer, image: np.ndarray) -> None:
    stub.answer = lambda request: Reply(
        body={"choices": [{"message": {"content": ANSWERS[phase_of(request)]}}]}
    )
    proposal = OpenAIBackend(stub.url).propose(image, ProposeRequest(phases=("classify",)))
    assert proposal.plane is not None and proposal.plane.label == "BPD_PLANE"


def test_cancel_closes_the_stream(stub: StubServer, image: np.ndarray) -> None:
    cancel = CancelToken()
    stub.answer = lambda request: Reply(events=[chunk("{")] * 100 + [chunk(finish="stop")])

    def progress(message: str, fraction: float) -> None:
        if "tokens" in message:
            cancel.cancel()

    with pytest.raises(Cancelled):
        OpenAIBackend(stub.url).propose(image, progress=progress, cancel=cancel)


def test_model_choice_and_api_key_errors_at_load(stub: StubServer) -> None:
    assert OpenAIBackend(stub.url, model="fada-0.8b").info.model_id == "fada-0.8b"
    with pytest.raises(ModelLoadError, match=r"does not serve 'fada-4b'; it serves 'fada-0.8b'"):
        OpenAIBackend(stub.url, model="fada-4b")
    stub.models = ["fada-0.8b", "fada-4b"]
    with pytest.raises(ModelLoadError, match=r"serves 2 models .* choose one with --model"):
        OpenAIBackend(stub.url)
    assert OpenAIBackend(stub.url, model="fada-4b").info.model_id == "fada-4b"
    stub.models_reply = Reply(401, {"detail": "Invalid API key"})
    with pytest.raises(ModelLoadError, match=r"refused the API key \(HTTP 401: Invalid API key\)"):
        OpenAIBackend(stub.url, model="fada-4b", api_key="wrong")


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (error(404, "The model `fada` does not exist."), "does not serve that model"),
        (error(500, "CUDA out of memory"), r"refused the request \(HTTP 500: CUDA out of memory\)"),
        (Reply(raw=b"<html>proxy error</html>"), "not JSON .*<html>proxy error"),
        (error(400, "image input is not supported"), "refused the image .* text-only model"),
        (Reply(events=[chunk("{")]), "ended an answer early .* --interrupt_requests False"),
        (Reply(events=[{"error": {"message": "KV cache full"}}]), r"failed .*\(KV cache full\)"),
    ],
    ids=["unknown model", "500", "malformed JSON", "image refused", "cut off", "error event"],
)
def test_failed_requests_say_what_happened(
    stub: StubServer, image: np.ndarray, reply: Reply, message: str
) -> None:
    backend = OpenAIBackend(stub.url)
    stub.answer = lambda request: reply
    with pytest.raises(ServerError, match=message):
        backend.propose(image, ProposeRequest(phases=("classify",)))


def test_a_silent_server_times_out(stub: StubServer) -> None:
    engine = OpenAIEngine(quick_client(stub.url, timeout_s=0.2))
    stub.answer = lambda request: Reply(hang=True)
    context = engine.encode_image(np.zeros((8, 8), np.uint8))
    with pytest.raises(ServerError, match=r"did not answer within 0.2 s"):
        engine.generate(context, "Classify.", GenerationSettings())


def test_busy_answers_are_tried_again(stub: StubServer) -> None:
    pauses: list[float] = []
    busy = iter([error(503, "Loading model"), error(502, "Bad gateway")])
    stub.answer = lambda request: next(busy, None) or streamed('{"label": "head"}')
    client = ServerClient(stub.url, sleep=pauses.append, backoff_s=0.5)
    engine = OpenAIEngine(client)
    context = engine.encode_image(np.zeros((8, 8), np.uint8))
    generation = engine.generate(context, "Classify.", GenerationSettings())
    assert generation.text == '{"label": "head"}' and pauses == [0.5, 1.0]
    stub.answer = lambda request: error(503, "Loading model")
    with pytest.raises(ServerError, match=r"still busy after 4 tries \(HTTP 503: Loading model\)"):
        engine.generate(context, "Classify.", GenerationSettings())


def test_no_server_and_bad_urls_are_clear_errors() -> None:
    with socket.socket() as probe:  # a port of 127.0.0.1 nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pauses: list[float] = []
    client = ServerClient(f"http://127.0.0.1:{port}/v1", sleep=pauses.append)
    with pytest.raises(ModelLoadError, match=r"No server answers at .* tried 4 times\): start"):
        OpenAIEngine(client)
    assert pauses == [1.0, 2.0, 4.0]
    for url in ("127.0.0.1:8080/v1", "ftp://127.0.0.1/v1", "http://127.0.0.1:99999/v1"):
        with pytest.raises(ModelLoadError, match="not a server URL"):
            ServerClient(url)
    with pytest.raises(ModelLoadError, match="API key goes in --api-key"):
        ServerClient("http://user:pw@127.0.0.1:8080/v1")


def test_a_wrong_path_is_named(stub: StubServer) -> None:
    with pytest.raises(ModelLoadError, match=r"/api/models is not an OpenAI-compatible endpoint"):
        OpenAIBackend(stub.url.removesuffix("/v1") + "/api")


def test_the_api_key_comes_from_the_environment(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAPARI_FADA_API_KEY", "from-env")
    OpenAIBackend(stub.url)
    assert stub.requests[-1].headers["Authorization"] == "Bearer from-env"


def test_server_options_are_refused_by_local_backends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path))
    assert main(["settings", "--backend", "llama", "--api-key", "k"]) == 2
    error = capsys.readouterr().err
    assert "--api-key is not used by the 'llama' backend: it takes --model, --mmproj" in error


def test_a_saved_api_key_is_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NAPARI_FADA_CONFIG_DIR", str(tmp_path))
    argv = ["settings", "--backend", "openai", "--url", "http://127.0.0.1:1/v1", "--api-key", "k"]
    assert main(argv) == 0
    assert "API key: (set)" in capsys.readouterr().out
    assert (tmp_path / "settings.json").stat().st_mode & 0o077 == 0
    assert main(["settings", "--api-key", ""]) == 0
    assert "API key: (not set)" in capsys.readouterr().out
