"""``prelabel --batch-size``: images decoded together give exactly the dataset that one image at
a time gives, on tiny random transformers checkpoints (FADA's own Qwen3.5 family included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from napari_fada.batch.prelabel import prelabel
from napari_fada.batch.work import BackendSpec, loaded_backend
from napari_fada.commands.main import main
from napari_fada.core.prompts import max_new_tokens
from napari_fada.data.dataset import Dataset
from napari_fada.models import fada_pipeline, hf_decode
from napari_fada.models.base import PHASES, ProposeRequest
from napari_fada.models.fada_pipeline import FadaPipeline
from napari_fada.models.hf_engine import HFEngine
from tests.batch.conftest import SMALL_IMAGES
from tests.models.tiny_hf_model import build_tiny_checkpoint

#: A random model writes until the limit: shorter answers keep the test quick on 2 cores.
ANSWER_LIMIT = 48
#: Weights this large make a random model's answers depend on every position and cache entry
#: (at the usual 0.02 its attention is nearly uniform, and a wrong position changes nothing).
SENSITIVE = 0.2
#: Routing by a random model's plane may leave nothing to segment: ask by hand.
REQUEST = ProposeRequest(phases=PHASES, structures=("fetal_head", "pubic_symphysis"))


def _contents(root: Path) -> list[tuple[Any, ...]]:
    """Everything the runs decide, without ids and times (fresh on every run)."""
    dataset = Dataset.open(root)
    contents = []
    for record in dataset.records():
        _, proposal = dataset.load(record.image_id) or pytest.fail(f"{record.image_id} lost")
        annotations = [(a.label, a.box, a.polygon, a.keypoints) for a in proposal.annotations]
        plane = proposal.plane and proposal.plane.label
        contents.append(
            (record.sha256, proposal.raw_answers, proposal.interpretation, plane, annotations)
        )
    return contents


@pytest.fixture
def short_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    limit: Callable[[str], int] = lambda phase: min(max_new_tokens(phase), ANSWER_LIMIT)  # noqa: E731
    monkeypatch.setattr(fada_pipeline, "max_new_tokens", limit)


@pytest.fixture
def batch_widths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many sequences each decode of the transformers engine took together."""
    widths: list[int] = []
    decode = hf_decode.Decoder.decode

    def counted(self: hf_decode.Decoder, rows: list[hf_decode.Row]) -> None:
        widths.append(len(rows))
        decode(self, rows)

    monkeypatch.setattr(hf_decode.Decoder, "decode", counted)
    return widths


@pytest.mark.parametrize("architecture", ["qwen2_5_vl", "qwen3_5"])
def test_batched_prelabel_writes_what_one_image_at_a_time_writes(
    architecture: str,
    images_folder: Path,
    tmp_path: Path,
    short_answers: None,
    batch_widths: list[int],
) -> None:
    checkpoint = build_tiny_checkpoint(
        tmp_path / f"tiny-{architecture}", architecture, text={"initializer_range": SENSITIVE}
    )
    spec = BackendSpec.of("transformers", model=checkpoint, threads=1)
    backend, _ = loaded_backend(spec)  # the instance both runs in this process use
    assert isinstance(backend, FadaPipeline) and isinstance(backend.engine, HFEngine)
    backend.engine.max_batch = 1  # the baseline: one sequence at a time, phase after phase
    single = prelabel([images_folder], tmp_path / "one", spec, request=REQUEST, batch_size=1)
    assert set(batch_widths) == {1}
    backend.engine.max_batch = 16
    batch_widths.clear()
    batched = prelabel([images_folder], tmp_path / "three", spec, request=REQUEST, batch_size=3)
    # groups of three files: broken.png (unreadable) and two images, then the last two images;
    # each group's images decoded together, interpret with classify, then detect with segment
    assert batch_widths == [4, 4, 4, 4]
    assert (single.done, single.failed) == (batched.done, batched.failed) == (len(SMALL_IMAGES), 1)
    assert batched.failures == single.failures
    written = _contents(tmp_path / "three")
    assert written == _contents(tmp_path / "one")
    assert all(set(answers) == set(PHASES) for _, answers, *_ in written)


@pytest.fixture
def llama_widths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many answers each parallel decode of the llama engine took together."""
    llama_sequences = pytest.importorskip("napari_fada.models.llama_sequences")
    widths: list[int] = []
    decode = llama_sequences.ParallelSequences.decode

    def counted(self: Any, asks: Any) -> Any:
        widths.append(len(asks))
        return decode(self, asks)

    monkeypatch.setattr(llama_sequences.ParallelSequences, "decode", counted)
    return widths


@pytest.mark.parametrize("architecture", ["qwen2vl", "qwen35"])
def test_llama_answers_decoded_as_parallel_sequences_are_those_of_one_at_a_time(
    architecture: str,
    images_folder: Path,
    tmp_path: Path,
    short_answers: None,
    llama_widths: list[int],
) -> None:
    from napari_fada.models.llama_engine import LlamaEngine
    from tests.models.tiny_gguf import TINY_QWEN35, TextShape, VisionShape, build_gguf_pair

    text, vision = TINY_QWEN35 if architecture == "qwen35" else (TextShape(), VisionShape())
    shape = replace(text, std=SENSITIVE)  # Qwen3.5's recurrent state is copied, not shared
    pair = build_gguf_pair(tmp_path / "gguf", shape, vision, name=f"tiny-{architecture}")
    spec = BackendSpec.of("llama", model=pair.model, mmproj=pair.mmproj, threads=1)
    backend, _ = loaded_backend(spec)
    assert isinstance(backend, FadaPipeline) and isinstance(backend.engine, LlamaEngine)
    backend.engine.max_batch = 1
    single = prelabel([images_folder], tmp_path / "one", spec, request=REQUEST, batch_size=1)
    assert llama_widths == []
    backend.engine.max_batch = 2  # the default: the two independent phases of an image
    paired = prelabel([images_folder], tmp_path / "two", spec, request=REQUEST, batch_size=1)
    assert llama_widths == [2] * 2 * len(SMALL_IMAGES)
    llama_widths.clear()
    backend.engine.max_batch = 8
    batched = prelabel([images_folder], tmp_path / "three", spec, request=REQUEST, batch_size=3)
    assert llama_widths == [4, 4, 4, 4]  # two images at a time (broken.png fails first)
    assert single.done == paired.done == batched.done == len(SMALL_IMAGES)
    expected = _contents(tmp_path / "one")
    assert _contents(tmp_path / "two") == expected
    assert _contents(tmp_path / "three") == expected


def test_a_backend_that_cannot_batch_refuses_the_option(
    images_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    args = ["prelabel", str(images_folder), "--out", str(out), "--no-progress"]
    assert main([*args, "--batch-size", "2"]) == 2
    assert "'embedded' backend proposes one image at a time" in capsys.readouterr().err
    assert not (out / "annotations").exists()
    with pytest.raises(SystemExit):
        main([*args, "--batch-size", "0"])
