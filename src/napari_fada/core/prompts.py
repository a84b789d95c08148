"""The task prompts and generation settings of FADA's model phases (see ``fada-contract.md``).

The same text is used to ask a model and to write fine-tuning samples, so a change to any prompt
must bump :data:`PROMPT_VERSION`: :func:`prompt_sha256` then changes too, and provenance shows
which prompt produced an answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from napari_fada.core.vocabulary import INTERPRETATION_KEYS, KEYPOINT_STRUCTURES, PLANE_LABELS
from napari_fada.errors import FadaError

PROMPT_VERSION = "1"

#: Phases that ask the model (MAP is rules only).
MODEL_PHASES: tuple[str, ...] = ("interpret", "classify", "detect", "segment")

TEMPERATURE = 0.1
TOP_P = 0.95
MAX_NEW_TOKENS = 1024
CLASSIFY_MAX_NEW_TOKENS = 256
#: The image is resized so that its long side is at most this many pixels before encoding.
IMAGE_LONG_SIDE = 1024

_COORDINATES = (
    "Coordinates are integers normalized to 0..1000: x across the image's width, y down its "
    "height, with (0, 0) the top-left corner."
)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(json.dumps(n, ensure_ascii=False) for n in names)


def _structure_list(structures: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(s.strip() for s in structures if s.strip()))
    if not names:
        raise FadaError("No structures to ask for: choose at least one structure and try again.")
    return names


def interpret_prompt() -> str:
    return (
        "Interpret this fetal ultrasound image. Answer with one JSON object with exactly these "
        f"keys: {_quoted(INTERPRETATION_KEYS)}. Each value is a string, a list or an object. "
        "Answer with the JSON object only."
    )


def classify_prompt() -> str:
    return (
        "Classify the imaging plane of this fetal ultrasound image. Choose exactly one label "
        f"from: {_quoted(PLANE_LABELS)}. "
        'Answer with JSON only: {"label": "<plane class>"}'
    )


def detect_prompt(structures: Sequence[str]) -> str:
    names = _structure_list(structures)
    return (
        f"Detect these structures in this fetal ultrasound image: {_quoted(names)}. "
        "Answer with a JSON list with one item per structure instance you find: "
        '{"bbox_2d": [x_min, y_min, x_max, y_max], "label": "<structure>"}. '
        f"{_COORDINATES} Leave out structures that are not visible. "
        "Answer with the JSON list only."
    )


def segment_prompt(structures: Sequence[str]) -> str:
    names = _structure_list(structures)
    keypoint_names = [n for n in names if n in KEYPOINT_STRUCTURES]
    keypoints = (
        f' For {_quoted(keypoint_names)} give "keypoints": [[x, y, visibility], ...] instead of '
        '"mask", with visibility 0 (absent), 1 (hidden) or 2 (visible).'
        if keypoint_names
        else ""
    )
    return (
        f"Segment these structures in this fetal ultrasound image: {_quoted(names)}. "
        "Answer with a JSON list with one item per structure instance you find: "
        '{"bbox_2d": [x_min, y_min, x_max, y_max], "label": "<structure>", '
        '"mask": [[x, y], ...]}, where "mask" is a polygon of at least 3 vertices outlining '
        f"the structure.{keypoints} {_COORDINATES} Leave out structures that are not visible. "
        "Answer with the JSON list only."
    )


def task_prompt(phase: str, structures: Sequence[str] = ()) -> str:
    """The prompt of a model phase; ``structures`` is used by ``detect`` and ``segment`` only."""
    if phase == "interpret":
        return interpret_prompt()
    if phase == "classify":
        return classify_prompt()
    if phase == "detect":
        return detect_prompt(structures)
    if phase == "segment":
        return segment_prompt(structures)
    raise FadaError(f"Unknown model phase {phase!r}: use one of {', '.join(MODEL_PHASES)}.")


def max_new_tokens(phase: str) -> int:
    return CLASSIFY_MAX_NEW_TOKENS if phase == "classify" else MAX_NEW_TOKENS


def generation_settings(phase: str) -> dict[str, float | int]:
    """Sampling settings of the contract for ``phase``, as keyword-style names."""
    return {"temperature": TEMPERATURE, "top_p": TOP_P, "max_new_tokens": max_new_tokens(phase)}


def prompt_sha256(phase: str, structures: Sequence[str] = ()) -> str:
    """Hash of everything that shapes an answer besides the weights: prompt text and settings.

    This is the "prompt or config hash" of provenance: two answers with the same hash (and the
    same model) were asked the same way.
    """
    config = {
        "prompt_version": PROMPT_VERSION,
        "phase": phase,
        "prompt": task_prompt(phase, structures),
        "generation": generation_settings(phase),
        "image_long_side": IMAGE_LONG_SIDE,
    }
    text = json.dumps(config, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
