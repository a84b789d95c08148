"""The interface every model backend implements (embedded, llama.cpp, transformers).

A backend turns one image into a :class:`~napari_fada.core.proposal.Proposal`. It is
constructed once (loading weights is slow) and called many times, possibly from a worker thread,
never from two threads at once.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from napari_fada.core.proposal import ModelInfo, Proposal
from napari_fada.core.vocabulary import Route, route
from napari_fada.errors import Cancelled

PHASES: tuple[str, ...] = ("interpret", "classify", "map", "detect", "segment")

#: ``progress(message, fraction)`` with ``fraction`` in 0..1.
ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class ProposeRequest:
    """What to ask a model for one image.

    ``structures`` overrides the routing (MAP phase) when given; ``pixel_spacing_mm`` is
    (row, col) spacing used for biometry when known.
    """

    phases: tuple[str, ...] = PHASES
    structures: tuple[str, ...] | None = None
    pixel_spacing_mm: tuple[float, float] | None = None


class CancelToken:
    """Set from the GUI thread, checked by the backend between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


class Backend(abc.ABC):
    """A model that proposes plane class, boxes, masks and interpretation for an image."""

    #: Identity written into every annotation's provenance.
    info: ModelInfo
    #: What the user should know about how the model runs, shown where it is reported loaded
    #: (e.g. optional fast kernels that are missing).
    notes: tuple[str, ...] = ()

    @abc.abstractmethod
    def propose(
        self,
        image: np.ndarray,
        request: ProposeRequest | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Proposal:
        """Propose for ``image``: ``(H, W)`` grayscale or ``(H, W, 3)`` RGB, uint8."""

    def propose_batch(
        self,
        images: Sequence[np.ndarray],
        requests: Sequence[ProposeRequest],
        cancel: CancelToken | None = None,
    ) -> list[Proposal]:
        """Proposals for several images (``requests`` one per image); here one after the other,
        backends that decode images together override it."""
        return [
            self.propose(image, request, cancel=cancel)
            for image, request in zip(images, requests, strict=True)
        ]

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Free the model's memory."""

    @property
    def model_id(self) -> str:
        return self.info.model_id

    def describe(self) -> str:
        """The model's id and its notes, for a status line."""
        return "; ".join((self.model_id, *self.notes))

    def route(
        self, plane_label: str | None, interpretation: Mapping[str, object] | None = None
    ) -> Route:
        """The structures this model asks for on a plane, in its own names: FADA's MAP phase,
        unless the model routes by its own table."""
        return route(plane_label, interpretation)
