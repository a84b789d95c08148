"""The interface between FADA's five-phase pipeline and a vision-language runtime.

The four model phases (interpret, classify, detect, segment) all look at the same image. An
engine therefore encodes the image and prefills the chat prefix that holds it once
(:meth:`VisionLanguageEngine.encode_image`), and each phase continues from that prefix with its
own text prompt (:meth:`VisionLanguageEngine.generate`), instead of paying the image encoding and
prefill four times.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_fada.core.proposal import ModelInfo

#: Called with each generated piece of text; returning True stops generation (cancel).
TokenCallback = Callable[[str], bool]


@dataclass
class Generation:
    """One phase's answer and what it cost."""

    text: str
    prompt_tokens: int
    generated_tokens: int
    prefill_s: float
    decode_s: float
    stopped_by_callback: bool = False

    @property
    def seconds(self) -> float:
        return self.prefill_s + self.decode_s

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.decode_s if self.decode_s > 0 else 0.0


@dataclass
class ImageContext:
    """An image encoded and prefilled once, reused by every phase.

    ``state`` is engine-specific (a saved KV state, a cache object); ``image_tokens`` and
    ``encode_s`` are reported by benchmarks.
    """

    width: int
    height: int
    image_tokens: int
    encode_s: float
    state: Any


#: transformers samples from the 50 likeliest tokens unless told otherwise, so FADA's answers
#: came that way; every engine does the same (and llama.cpp then never sorts a whole vocabulary).
TOP_K = 50


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling per fada-contract.md: temperature 0.1, top_p 0.95; transformers' top_k 50.

    As in transformers, the temperature applies before top_p: the nucleus is taken from the
    sharpened distribution.
    """

    max_new_tokens: int = 1024
    temperature: float = 0.1
    top_p: float = 0.95
    top_k: int = TOP_K
    seed: int = 0
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Ask:
    """One answer to generate: a prompt continuing an encoded image."""

    context: ImageContext
    prompt: str
    settings: GenerationSettings
    on_text: TokenCallback | None = None


class VisionLanguageEngine(abc.ABC):
    """A chat VLM that answers a text prompt about one image (Qwen-VL ChatML conventions)."""

    info: ModelInfo
    #: How many :meth:`generate` calls may run at once from different threads (a server answers
    #: several requests in flight; a local model answers one at a time).
    parallel_requests: int = 1
    #: Answers :meth:`generate_batch` decodes together at most (1: one after the other).
    max_batch: int = 1
    #: What the user should know about how the model runs (e.g. optional fast kernels missing).
    notes: tuple[str, ...] = ()

    @abc.abstractmethod
    def encode_image(self, image: np.ndarray) -> ImageContext:
        """Encode ``image`` (already resized by the caller) and prefill the prefix holding it."""

    @abc.abstractmethod
    def generate(
        self,
        context: ImageContext,
        prompt: str,
        settings: GenerationSettings,
        on_text: TokenCallback | None = None,
    ) -> Generation:
        """Continue from ``context`` with a user prompt and sample the assistant's answer."""

    def generate_batch(self, asks: Sequence[Ask]) -> list[Generation]:
        """The answers to ``asks``, in order; here one after the other, stopping after an answer
        its callback stopped (cancel), so the list may be shorter than ``asks``."""
        answers: list[Generation] = []
        for ask in asks:
            answers.append(self.generate(ask.context, ask.prompt, ask.settings, ask.on_text))
            if answers[-1].stopped_by_callback:
                break
        return answers

    def close(self) -> None:  # noqa: B027 - engines without native memory need nothing here
        """Free native memory."""
