"""What the annotator keeps in memory between images: the model's proposals already computed
(going back to an image is instant, with no second model call) and decisions taken before a
dataset folder was chosen (written when one is)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from napari_fada.core.proposal import ImageRecord, Proposal
from napari_fada.models.base import ProposeRequest

#: (pixels' sha256, model id, the request as text): a proposal answers exactly this.
CacheKey = tuple[str, str, str]


def cache_key(sha256: str, model_id: str, request: ProposeRequest) -> CacheKey:
    return sha256, model_id, repr(request)


class ProposalCache:
    """The last ``capacity`` proposals by :data:`CacheKey`; each read gets its own copy."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[CacheKey, Proposal] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: CacheKey) -> Proposal | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return copy.deepcopy(found)

    def put(self, key: CacheKey, proposal: Proposal) -> None:
        self._items[key] = copy.deepcopy(proposal)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


@dataclass
class Unsaved:
    """A decided image waiting for a dataset folder."""

    record: ImageRecord
    pixels: np.ndarray
    proposal: Proposal
