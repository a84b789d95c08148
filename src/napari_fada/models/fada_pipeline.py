"""FADA's five phases (interpret, classify, map, detect, segment) over any vision-language engine.

The image is resized once (long side at most ``IMAGE_LONG_SIDE``), encoded and prefilled once,
and every model phase continues from that prefix with its own prompt. Answers are in FADA's
0..1000 convention, so they are read against the original image's size whatever the resize.
MAP is rules only (:func:`~napari_fada.core.vocabulary.route`) unless the user picked the
structures by hand. Everything a model gets wrong becomes a line in ``Proposal.issues``; only
cancellation and engine failures raise.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from napari_fada.core.fada_format import answer_schema
from napari_fada.core.geometry import box_iou
from napari_fada.core.parsing import ParsedAnswer, parse_answer
from napari_fada.core.prompts import (
    IMAGE_LONG_SIDE,
    MODEL_PHASES,
    PROMPT_VERSION,
    TEMPERATURE,
    TOP_P,
    max_new_tokens,
    task_prompt,
)
from napari_fada.core.proposal import Annotation, ModelInfo, PlaneCall, Proposal
from napari_fada.core.vocabulary import route
from napari_fada.errors import Cancelled, FadaError, ImageReadError
from napari_fada.models.base import (
    PHASES,
    Backend,
    CancelToken,
    ProgressCallback,
    ProposeRequest,
)
from napari_fada.models.embedded_preprocess import to_gray
from napari_fada.models.vlm_engine import (
    TOP_K,
    Ask,
    Generation,
    GenerationSettings,
    ImageContext,
    VisionLanguageEngine,
)

#: A segment item and a detect item of the same label whose boxes overlap at least this much
#: are one structure instance.
MERGE_IOU = 0.3
#: Phases that do not need each other's answers (MAP needs interpret and classify; detect and
#: segment need MAP): asked at once, as parallel requests on an engine that takes several at a
#: time, else in one :meth:`~VisionLanguageEngine.generate_batch` call.
INDEPENDENT: tuple[tuple[str, ...], ...] = (
    ("interpret", "classify"),
    ("map",),
    ("detect", "segment"),
)
#: Progress is reported every this many generated pieces of text.
_PROGRESS_EVERY = 8

_DOING = {
    "interpret": "interpreting the image",
    "classify": "classifying the plane",
    "map": "choosing the structures",
    "detect": "detecting",
    "segment": "segmenting",
}


def model_input(image: np.ndarray) -> np.ndarray:
    """``image`` as the engine takes it: uint8 gray or RGB, long side at most IMAGE_LONG_SIDE.

    Smaller images are not enlarged (the contract caps the size, it does not fix it).
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageReadError(
            f"FADA takes a 2-D grayscale or RGB image, got an array of shape {image.shape}: "
            "pick a single frame of the stack and propose again."
        )
    if min(image.shape[:2]) < 2:
        raise ImageReadError(f"An image of {image.shape[1]}x{image.shape[0]} pixels is too small.")
    if image.dtype != np.uint8:
        image = to_gray(image)
    elif image.ndim == 3:
        image = image[..., :3]
    height, width = image.shape[:2]
    scale = IMAGE_LONG_SIDE / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(image)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def pipeline_config_sha256(engine_config_sha256: str | None, constrained: bool) -> str:
    """Hash of what shapes answers besides the weights: prompts, sampling, image size."""
    config = {
        "engine_config": engine_config_sha256,
        "prompt_version": PROMPT_VERSION,
        "temperature": TEMPERATURE,
        "top_p": TOP_P,
        "top_k": TOP_K,
        "max_new_tokens": {p: max_new_tokens(p) for p in MODEL_PHASES},
        "image_long_side": IMAGE_LONG_SIDE,
        "constrained": constrained,
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def merge_instances(detected: list[Annotation], segmented: list[Annotation]) -> list[Annotation]:
    """Detect boxes and segment outlines of the same structure instance as one annotation.

    Pairs of the same label are matched greedily by box IoU (at least :data:`MERGE_IOU`); a
    matched pair keeps the segment's polygon or keypoints with the detect box and score.
    Unmatched items of either phase are kept as they are.
    """
    pairs = sorted(
        (
            (box_iou(d.box, s.box), i, j)
            for i, d in enumerate(detected)
            for j, s in enumerate(segmented)
            if d.label == s.label and d.box is not None and s.box is not None
        ),
        reverse=True,
    )
    partner: dict[int, int] = {}
    for iou, i, j in pairs:
        if iou < MERGE_IOU:
            break
        if i not in partner and j not in partner.values():
            partner[i] = j
    merged = []
    for i, box_item in enumerate(detected):
        if i in partner:
            outline = segmented[partner[i]]
            flags = list(dict.fromkeys(box_item.flags + outline.flags))
            outline.box, outline.score, outline.flags = box_item.box, box_item.score, flags
            merged.append(outline)
        else:
            merged.append(box_item)
    merged += [s for j, s in enumerate(segmented) if j not in partner.values()]
    return merged


@dataclass
class _Run:
    """One image's pass through the phases."""

    proposal: Proposal
    request: ProposeRequest
    cancel: CancelToken
    progress: ProgressCallback
    phases: list[str]
    context: ImageContext | None = None
    structures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    found: dict[str, list[Annotation]] = field(default_factory=dict)
    reported: float = 0.0

    def report(self, message: str, fraction: float) -> None:
        """Progress that never goes back (phases asked at once report in turns)."""
        self.reported = max(self.reported, fraction)
        self.progress(message, self.reported)


@dataclass
class _Call:
    """One model phase of one run to ask the engine, with its place in the run's progress."""

    run: _Run
    phase: str
    structures: tuple[str, ...]
    fraction: float
    share: float
    #: What the status line says while it is decoded: every phase asked with it.
    doing: str


def _check_phases(request: ProposeRequest) -> None:
    unknown = [p for p in request.phases if p not in PHASES]
    if unknown:
        named = ", ".join(map(repr, unknown))
        raise FadaError(f"Unknown phase(s) {named}: choose from {', '.join(PHASES)}.")
    if not request.phases:
        raise FadaError(f"No phase chosen: tick at least one of {', '.join(PHASES)}.")


class FadaPipeline(Backend):
    """A :class:`Backend` running FADA's phases on ``engine``.

    ``constrained`` asks the engine to follow each phase's JSON schema (grammar-constrained
    decoding), which keeps even a weak or random model's answers readable. After each call,
    :attr:`last_generations` holds each model phase's :class:`Generation` (tokens, seconds).
    """

    def __init__(self, engine: VisionLanguageEngine, constrained: bool = True) -> None:
        self.engine = engine
        self.constrained = constrained
        engine_info = engine.info
        self.info = ModelInfo(
            model_id=engine_info.model_id,
            backend=engine_info.backend,
            weights_sha256=engine_info.weights_sha256,
            config_sha256=pipeline_config_sha256(engine_info.config_sha256, constrained),
        )
        self.notes = engine.notes
        self.last_generations: dict[str, Generation] = {}

    def propose(
        self,
        image: np.ndarray,
        request: ProposeRequest | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Proposal:
        request = request or ProposeRequest()
        return self._propose_all([image], [request], progress, cancel)[0]

    def propose_batch(
        self,
        images: Sequence[np.ndarray],
        requests: Sequence[ProposeRequest],
        cancel: CancelToken | None = None,
    ) -> list[Proposal]:
        """Proposals for ``images``: each phase group asked of every image in one
        :meth:`~VisionLanguageEngine.generate_batch` call, which an engine decoding sequences
        together answers at once."""
        return self._propose_all(images, requests, None, cancel)

    def _propose_all(
        self,
        images: Sequence[np.ndarray],
        requests: Sequence[ProposeRequest],
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> list[Proposal]:
        for request in requests:
            _check_phases(request)
        cancel = cancel or CancelToken()
        inputs = [model_input(image) for image in images]
        runs = [
            _Run(
                proposal=Proposal(
                    width=np.asarray(image).shape[1],
                    height=np.asarray(image).shape[0],
                    model=self.info,
                ),
                request=request,
                cancel=cancel,
                progress=progress or (lambda message, fraction: None),
                phases=[p for p in PHASES if p in request.phases],
            )
            for image, request in zip(images, requests, strict=True)
        ]
        self.last_generations = {}
        started = time.perf_counter()
        for run, resized in zip(runs, inputs, strict=True):
            if set(run.phases) & set(MODEL_PHASES):
                self._encode(run, resized)
        for group in INDEPENDENT:
            cancel.raise_if_cancelled()
            self._run_group(runs, group)
        for run in runs:
            self._finish(run)
            run.proposal.timings_s["total"] = time.perf_counter() - started
            run.report(f"{self.model_id}: done", 1.0)
        return [run.proposal for run in runs]

    def _encode(self, run: _Run, resized: np.ndarray) -> None:
        run.report(f"{self.model_id}: encoding the image...", 0.0)
        started = time.perf_counter()
        run.context = self.engine.encode_image(resized)
        run.proposal.timings_s["encode"] = time.perf_counter() - started

    def _run_group(self, runs: list[_Run], group: tuple[str, ...]) -> None:
        """Run the phases of ``group`` that each run asks for, the model calls of all runs at
        once; answers are read in the pipeline's order."""
        started = time.perf_counter()
        calls: list[_Call] = []
        for run in runs:
            share = 1 / (len(run.phases) + 1)
            asked = [p for p in group if p in run.phases]
            doing = ", ".join(_DOING[p] for p in asked)  # phases asked at once, named together
            for phase in asked:
                fraction = (run.phases.index(phase) + 1) * share
                run.report(f"{self.model_id}: {doing}...", fraction)
                if phase == "map":
                    self._map(run)
                    run.proposal.timings_s[phase] = time.perf_counter() - started
                    continue
                structures: tuple[str, ...] = ()
                if phase in ("detect", "segment"):
                    structures = self._structures(run, phase)
                    if not structures:
                        run.proposal.timings_s[phase] = time.perf_counter() - started
                        continue
                calls.append(_Call(run, phase, structures, fraction, share, doing))
        generations = self._answers(calls)
        for call, generation in zip(calls, generations, strict=True):
            self._read(call.run, call.phase, generation)
            call.run.proposal.timings_s[call.phase] = time.perf_counter() - started

    def _answers(self, calls: list[_Call]) -> list[Generation]:
        """The engine's answers to ``calls``: from threads on an engine taking several requests
        at a time, else from one :meth:`~VisionLanguageEngine.generate_batch` call. Raises
        Cancelled when the user cancelled during one of them."""
        if self.engine.parallel_requests > 1 and len(calls) > 1:
            with ThreadPoolExecutor(len(calls), thread_name_prefix="fada-phase") as pool:
                futures = [pool.submit(self._generate, call) for call in calls]
                generations = [future.result() for future in futures]
        else:
            generations = self.engine.generate_batch([self._ask(call) for call in calls])
        for call, generation in zip(calls, generations, strict=False):
            if generation.stopped_by_callback or call.run.cancel.cancelled:
                raise Cancelled(f"cancelled by the user during the {call.phase} phase")
        return generations

    def _read(self, run: _Run, phase: str, generation: Generation) -> None:
        self.last_generations[phase] = generation
        run.proposal.raw_answers[phase] = generation.text
        width, height = run.proposal.width, run.proposal.height
        parsed = parse_answer(generation.text, phase, width, height, self.model_id)
        run.proposal.issues += [f"{phase}: {issue}" for issue in parsed.issues]
        self._keep(run, phase, parsed)

    def _map(self, run: _Run) -> None:
        """Record which structures detect and segment ask for, and why."""
        if run.request.structures:
            chosen = tuple(run.request.structures)
            run.structures = {"detect": chosen, "segment": chosen}
            answer = {"group": "chosen by hand", "detect": chosen, "segment": chosen}
        else:
            plane = run.proposal.plane.label if run.proposal.plane else None
            found = route(plane, run.proposal.interpretation)
            run.structures = {"detect": found.detect, "segment": found.segment}
            answer = {
                "group": found.group,
                "reason": found.reason,
                "detect": found.detect,
                "segment": found.segment,
            }
        run.proposal.raw_answers["map"] = json.dumps(answer)

    def _structures(self, run: _Run, phase: str) -> tuple[str, ...]:
        """The structures ``phase`` asks for: MAP's choice, or routing now if MAP did not run."""
        if phase not in run.structures:
            self._map(run)
        structures = run.structures[phase]
        if not structures:
            group = json.loads(run.proposal.raw_answers["map"])["group"]
            run.proposal.issues.append(
                f"{phase}: skipped: FADA has no structures to {phase} in the {group!r} group; "
                "pick structures by hand to ask anyway"
            )
        return structures

    def _ask(self, call: _Call) -> Ask:
        settings = GenerationSettings(
            max_new_tokens=max_new_tokens(call.phase),
            temperature=TEMPERATURE,
            top_p=TOP_P,
            json_schema=answer_schema(call.phase, call.structures) if self.constrained else None,
        )
        assert call.run.context is not None
        return Ask(
            call.run.context,
            task_prompt(call.phase, call.structures),
            settings,
            self._on_text(call, settings.max_new_tokens),
        )

    def _generate(self, call: _Call) -> Generation:
        ask = self._ask(call)
        generation = self.engine.generate(ask.context, ask.prompt, ask.settings, ask.on_text)
        if generation.stopped_by_callback or call.run.cancel.cancelled:
            raise Cancelled(f"cancelled by the user during the {call.phase} phase")
        return generation

    def _on_text(self, call: _Call, limit: int) -> Callable[[str], bool]:
        """Stops generation on cancel; reports progress as pieces of the answer arrive."""
        run, fraction, share = call.run, call.fraction, call.share
        pieces = 0

        def on_text(_: str) -> bool:
            nonlocal pieces
            pieces += 1
            if pieces % _PROGRESS_EVERY == 0:
                done = fraction + share * min(pieces / limit, 1.0)
                run.report(f"{self.model_id}: {call.doing} ({pieces} tokens)...", done)
            return run.cancel.cancelled

        return on_text

    def _keep(self, run: _Run, phase: str, parsed: ParsedAnswer) -> None:
        if phase == "interpret":
            run.proposal.interpretation = parsed.interpretation
        elif phase == "classify" and parsed.plane_label is not None:
            run.proposal.plane = PlaneCall(label=parsed.plane_label, source=self.model_id)
        elif phase in ("detect", "segment"):
            run.found[phase] = parsed.annotations

    def _finish(self, run: _Run) -> None:
        detected, segmented = run.found.get("detect", []), run.found.get("segment", [])
        run.proposal.annotations = merge_instances(detected, segmented)

    def close(self) -> None:
        self.engine.close()
