"""The training loop: train or fine-tune the embedded model on dataset folders.

Reads the plugin's saved datasets and the shared reference layout alike (see
:mod:`napari_fada.training.data`), holds out the ``val`` rows (else 10% of subjects), trains with
augmentation, keeps the best epoch by validation score (a fine-tune also counts its starting
weights, so it never ends worse than it began), stops early when it stops improving,
calibrates the plane probabilities by temperature scaling on the validation rows and writes one
weights file. A checkpoint next to the output (``<out>.ckpt``) lets ``--resume`` continue.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from napari_fada.core.metrics import expected_calibration_error
from napari_fada.core.scan_planes import OTHER_PLANE, PLANE_NAMES
from napari_fada.errors import DatasetError
from napari_fada.models.base import CancelToken
from napari_fada.models.embedded_net import EmbeddedNet, NetConfig
from napari_fada.models.embedded_preprocess import PreprocessConfig
from napari_fada.models.embedded_weights import (
    MODEL_VERSION,
    EmbeddedWeights,
    load_weights,
    save_weights,
)
from napari_fada.samples.negatives import negative_images
from napari_fada.training.augment import augment
from napari_fada.training.data import (
    MIN_SIDE_PX,
    Arrays,
    Sample,
    hold_out,
    load_arrays,
    read_dataset,
    split_samples,
    too_small,
)
from napari_fada.training.head_offset import fit_head_offset
from napari_fada.training.options import (
    NEW_MODEL_SIZE,
    TrainOptions,
    TrainProgress,
    TrainResult,
)
from napari_fada.training.run import Run
from napari_fada.training.shape_calibration import (
    RIGHT_DICE,
    fit_shape_calibration,
    shape_outcomes,
)

DEFAULT_STRUCTURES = ("head", "fetal_head", "pubic_symphysis", "Brain", "CSP", "LV")
DEFAULT_PLANES = PLANE_NAMES
_HEAD_PLANE = ("head", "Brain", "CSP", "LV")
#: What a new model may propose on each plane (its routing); other planes get no shapes.
DEFAULT_PLANE_STRUCTURES: dict[str, tuple[str, ...]] = {
    "trans-thalamic": _HEAD_PLANE,
    "trans-ventricular": _HEAD_PLANE,
    "transperineal": ("fetal_head", "pubic_symphysis"),
}
#: A new model's plane classifier: one hidden layer of this width.
PLANE_HIDDEN = 64
#: Below this calibrated plane probability a new model says it is unsure and proposes no shapes.
DEFAULT_MIN_PLANE_SCORE = 0.5
#: Planes whose images stay plausible when mirrored left-right (transperineal views do not, nor
#: do views where the heart or the stomach shows the body's left side).
MIRRORED_PLANES = ("trans-thalamic", "trans-ventricular", "femur", "cervix", "other")
#: Source name of the images made by :mod:`napari_fada.samples.negatives`.
NEGATIVES_SOURCE = "synthetic-negatives"
_DIVISOR = 16  # input sides must survive the U-Net's four halvings


def _initial_weights(options: TrainOptions) -> tuple[EmbeddedWeights, bool]:
    """The weights to start from, and whether they start a new model (no ``init``, or one that
    learns a new set of planes) rather than fine-tune one."""
    size = options.size
    if size is not None and (size % _DIVISOR or size < _DIVISOR):
        raise DatasetError(
            f"the input size (--size) must be a positive multiple of {_DIVISOR}, got {size}"
        )
    if options.init is not None:
        weights = load_weights(options.init)
        if size is not None:
            weights = replace(weights, preprocess=replace(weights.preprocess, size=(size, size)))
        if options.planes and tuple(options.planes) != weights.planes:
            return _with_planes(weights, tuple(options.planes)), True
        return weights, False
    size = size or NEW_MODEL_SIZE
    planes = tuple(options.planes or DEFAULT_PLANES)
    net = NetConfig(
        num_structures=len(DEFAULT_STRUCTURES), num_planes=len(planes), plane_hidden=PLANE_HIDDEN
    )
    torch.manual_seed(options.seed)
    weights = EmbeddedWeights(
        net=net,
        structures=DEFAULT_STRUCTURES,
        planes=planes,
        preprocess=PreprocessConfig(size=(size, size)),
        state_dict=EmbeddedNet(net).state_dict(),
        plane_structures=_plane_structures(planes),
        min_plane_score=DEFAULT_MIN_PLANE_SCORE,
    )
    return weights, True


def _version(weights: EmbeddedWeights, new_model: bool) -> str:
    """A new model is of the current generation; a fine-tune is its start's version with
    ``-ft-`` and a digest of its weights, so that its proposals never pass for the start's."""
    if new_model:
        return MODEL_VERSION
    digest = hashlib.sha256()
    for name, tensor in sorted(weights.state_dict.items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return f"{weights.model_version.split('-ft-')[0]}-ft-{digest.hexdigest()[:8]}"


def _plane_structures(planes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {p: DEFAULT_PLANE_STRUCTURES[p] for p in planes if p in DEFAULT_PLANE_STRUCTURES}


def _with_planes(weights: EmbeddedWeights, planes: tuple[str, ...]) -> EmbeddedWeights:
    """``weights`` with a new plane classifier for ``planes`` (fresh, with a hidden layer); the
    segmentation layers are kept, so a model learns new planes without forgetting its outlines."""
    net = replace(weights.net, num_planes=len(planes), plane_hidden=PLANE_HIDDEN)
    fresh = EmbeddedNet(net).state_dict()
    kept = {k: v for k, v in weights.state_dict.items() if not k.startswith("plane_head.")}
    return replace(
        weights,
        net=net,
        planes=planes,
        state_dict={**fresh, **kept},
        plane_temperature=1.0,
        plane_structures=_plane_structures(planes),
        min_plane_score=weights.min_plane_score or DEFAULT_MIN_PLANE_SCORE,
    )


def _read_all(
    options: TrainOptions, weights: EmbeddedWeights, emit: Callable[[TrainProgress], None]
) -> tuple[list[Sample], ...]:
    samples: list[Sample] = []
    for folder in options.data:
        samples += read_dataset(folder, weights.planes)
    small = [s.reference.image_id for s in samples if too_small(s)]
    if small:
        emit(
            TrainProgress(
                "info",
                f"left out {len(small)} image(s) under {MIN_SIDE_PX} px on a side: "
                + ", ".join(small[:5])
                + (" ..." if len(small) > 5 else ""),
            )
        )
        samples = [s for s in samples if not too_small(s)]
    return split_samples(hold_out(samples, options.holdout))


def _arrays(
    samples: list[Sample],
    weights: EmbeddedWeights,
    options: TrainOptions,
    negatives: int,
    seed: int,
) -> dict[str, torch.Tensor]:
    """The samples at model size, with ``negatives`` made-up non-ultrasound images added as the
    "other" plane with no structure."""
    size = weights.preprocess.size
    arrays = load_arrays(
        samples,
        weights.structures,
        size,
        options.cache_dir,
        weights.planes,
        weights.plane_structures,
    )
    tensors = _tensors(arrays)
    if negatives and OTHER_PLANE in weights.planes:
        images = torch.from_numpy(negative_images(negatives, size, seed=seed))
        planes = torch.zeros(negatives, len(weights.planes), dtype=torch.bool)
        planes[:, weights.planes.index(OTHER_PLANE)] = True
        extra = {
            "images": images,
            "masks": torch.zeros((negatives, *size), dtype=torch.int64),
            "planes": planes,
            "annotated": torch.ones(negatives, 1 + len(weights.structures), dtype=torch.bool),
        }
        tensors = {k: torch.cat([v, extra[k]]) for k, v in tensors.items()}
    keys = [f"{s.reference.source_dataset}:{s.planes}" for s in samples]
    tensors["group"] = torch.tensor(_group_ids(keys + [NEGATIVES_SOURCE] * negatives))
    return tensors


def _group_ids(keys: list[str]) -> list[int]:
    ids: dict[str, int] = {}
    return [ids.setdefault(k, len(ids)) for k in keys]


def _tensors(arrays: Arrays) -> dict[str, torch.Tensor]:
    return {
        "images": torch.from_numpy(arrays.images),
        "masks": torch.from_numpy(arrays.masks.astype(np.int64)),
        "planes": torch.from_numpy(arrays.planes),
        "annotated": torch.from_numpy(arrays.annotated),
    }


def _normalise(images: torch.Tensor, config: PreprocessConfig) -> torch.Tensor:
    """(N, 1, H, W) float 0..1 to network input, channels-last for faster CPU convolutions."""
    return ((images - config.mean) / config.std).contiguous(memory_format=torch.channels_last)


def segmentation_loss(
    logits: torch.Tensor, masks: torch.Tensor, annotated: torch.Tensor, class_weights: torch.Tensor
) -> torch.Tensor:
    """Class-weighted cross-entropy plus soft Dice, for partially labelled images.

    A structure not annotated in an image may still be visible there (the skull in a brain-plane
    image), so that image's background pixels count as "background or any unannotated class":
    their probabilities are summed before the log, and such classes get no Dice term.
    """
    log_p = F.log_softmax(logits, dim=1)
    unlabelled = ~annotated
    unlabelled[:, 0] = True
    log_bg = torch.logsumexp(log_p.masked_fill(~unlabelled[:, :, None, None], -torch.inf), dim=1)
    log_target = log_p.gather(1, masks[:, None])[:, 0]
    nll = -torch.where(masks == 0, log_bg, log_target)
    pixel_weights = class_weights[masks]
    ce = (nll * pixel_weights).sum() / pixel_weights.sum()

    probs = log_p.exp()
    dice_terms = []
    for index in range(1, logits.shape[1]):
        rows = annotated[:, index]
        truth = (masks[rows] == index).float()
        if truth.sum() == 0:
            continue
        pred = probs[rows, index]
        dice_terms.append(2 * (pred * truth).sum() / (pred.sum() + truth.sum() + 1.0))
    dice = 1 - torch.stack(dice_terms).mean() if dice_terms else logits.new_zeros(())
    return ce + dice


def _class_weights(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse square-root pixel frequency, mean 1, so small structures are not drowned out."""
    counts = torch.bincount(masks.flatten(), minlength=num_classes).float() + 1.0
    weights = counts.pow(-0.5)
    return (weights / weights.mean()).clamp(max=10.0)


def plane_nll(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Mean negative log-probability of the allowed plane set of each row that has one: a row
    labelled with a coarse name ("brain") is right on any plane of that set."""
    known = allowed.any(dim=1)
    if not known.any():
        return logits.new_zeros(())
    log_p = F.log_softmax(logits[known], dim=1)
    return -torch.logsumexp(log_p.masked_fill(~allowed[known], -torch.inf), dim=1).mean()


def _sampling_weights(groups: torch.Tensor) -> torch.Tensor:
    """Draw rare groups (a source's images of one plane) more often, 1/sqrt of their count, so
    each epoch sees enough of every plane and source."""
    counts = torch.bincount(groups).float()
    return counts[groups].pow(-0.5)


@torch.no_grad()
def predict(
    net: EmbeddedNet, data: dict[str, torch.Tensor], config: PreprocessConfig, batch: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """(class-index masks (N, H, W), plane logits (N, planes)) at model size."""
    net.eval()
    masks, planes = [], []
    for start in range(0, len(data["images"]), batch):
        images = data["images"][start : start + batch, None].float() / 255.0
        seg, plane = net(_normalise(images, config))
        masks.append(seg.argmax(dim=1))
        planes.append(plane)
    return torch.cat(masks), torch.cat(planes)


def plane_ece(logits: torch.Tensor, allowed: torch.Tensor) -> float:
    """Expected calibration error of the plane calls over the rows with a known plane; a call
    is right when it falls in the row's allowed set."""
    known = allowed.any(dim=1)
    confidence, predicted = logits[known].softmax(dim=1).max(dim=1)
    correct = allowed[known].gather(1, predicted[:, None])[:, 0]
    ece = expected_calibration_error(confidence.tolist(), correct.tolist())
    return float("nan") if ece is None else ece


def evaluate(
    net: EmbeddedNet,
    data: dict[str, torch.Tensor],
    weights: EmbeddedWeights,
    temperature: float = 1.0,
) -> dict[str, float]:
    """Validation figures at model size: per-structure mean Dice over the images that contain
    it, plane accuracy, NLL and calibration error, and their summary score."""
    predicted, plane_logits = predict(net, data, weights.preprocess)
    metrics: dict[str, float] = {}
    for index, name in enumerate(weights.structures, start=1):
        rows = (data["masks"] == index).any(dim=(1, 2))
        if not rows.any():
            continue
        pred = predicted[rows] == index
        truth = data["masks"][rows] == index
        inter = (pred & truth).sum(dim=(1, 2)).float()
        total = (pred.sum(dim=(1, 2)) + truth.sum(dim=(1, 2))).float()
        metrics[f"dice_{name}"] = float((2 * inter / total).mean())
    dice_values = list(metrics.values())
    allowed = data["planes"]
    known = allowed.any(dim=1)
    if known.any():
        logits = plane_logits / temperature
        hits = allowed[known].gather(1, logits[known].argmax(1)[:, None])[:, 0]
        metrics["plane_accuracy"] = float(hits.float().mean())
        metrics["plane_nll"] = float(plane_nll(logits, allowed))
        metrics["plane_ece"] = plane_ece(logits, allowed)
    parts = [float(np.mean(dice_values))] if dice_values else []
    parts += [metrics["plane_accuracy"]] if "plane_accuracy" in metrics else []
    metrics["score"] = float(np.mean(parts)) if parts else 0.0
    return metrics


def fit_temperature(plane_logits: torch.Tensor, allowed: torch.Tensor) -> float:
    """Temperature minimising the validation NLL of the plane probabilities (1.0 when the fit
    fails), within 0.05..20."""
    known = allowed.any(dim=1)
    if not known.any():
        return 1.0
    logits, targets = plane_logits[known].detach(), allowed[known]
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = plane_nll(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    # A tiny or perfectly separated validation set drives the fit off to 0 or to nan.
    return min(max(temperature, 0.05), 20.0) if math.isfinite(temperature) else 1.0


def _format(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())


def _ignore(_: TrainProgress) -> None:
    """The default progress callback."""


def train_model(
    options: TrainOptions,
    on_progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train as ``options`` say and write the weights file; ``on_progress`` is called (in this
    thread) after every step and epoch.

    Raises DatasetError / ModelLoadError for bad data or weights, and Cancelled when ``cancel``
    is set: the run stops before its next step and leaves a checkpoint to resume from.
    """
    emit = on_progress or _ignore
    cancel = cancel or CancelToken()
    torch.set_num_threads(max(1, options.threads))
    weights, new_model = _initial_weights(options)
    weights.mirrored_planes = tuple(p for p in weights.planes if p in MIRRORED_PLANES)
    train_samples, val_samples = _read_all(options, weights, emit)
    num_classes = 1 + len(weights.structures)
    size = weights.preprocess.size
    train = _arrays(train_samples, weights, options, options.negatives, options.seed)
    val_negatives = options.negatives // 4
    val = _arrays(val_samples, weights, options, val_negatives, options.seed + 1)
    cancel.raise_if_cancelled()
    made_up = f" (+{options.negatives} / {val_negatives} made-up non-ultrasound images)"
    emit(
        TrainProgress(
            "info",
            f"{len(train_samples)} training images, {len(val_samples)} "
            f"validation images{made_up if options.negatives else ''}, input {size[1]}x{size[0]}",
        )
    )

    net = weights.build()
    before = evaluate(net, val, weights, weights.plane_temperature)
    emit(TrainProgress("info", f"before: {_format(before)}", metrics=before))

    steps_per_epoch = max(1, len(train["images"]) // options.batch_size)
    checkpoint = options.checkpoint
    run = Run(net, options.lr, options.seed, checkpoint, stale=0, best_epoch=0)
    optimizer, generator = run.optimizer, run.generator
    if options.init is not None:
        # Fine-tuning must not make the model worse: the starting weights are the ones to beat.
        run.keep(before["score"])
    if options.resume:
        run.resume()
        emit(
            TrainProgress(
                "info", f"resumed after epoch {run.state['epoch']}", epoch=run.state["epoch"]
            )
        )
    state = run.state
    schedule = run.start(options.epochs * steps_per_epoch, options.minutes)

    class_weights = _class_weights(train["masks"], num_classes)
    draw_weights = _sampling_weights(train["group"])
    mirrored = torch.tensor([p in weights.mirrored_planes for p in weights.planes])
    allowed = train["planes"]
    mirror_ok = allowed.any(dim=1) & ~(allowed & ~mirrored).any(dim=1)
    while not schedule.done() and state["stale"] < options.patience:
        started = time.monotonic()
        net.train()
        draws = steps_per_epoch * options.batch_size
        order = torch.multinomial(draw_weights, draws, replacement=True, generator=generator)
        losses = []
        for rows in order.split(options.batch_size):
            if schedule.done():
                break
            run.stop_if_cancelled(
                cancel,
                f"training cancelled at step {state['step']}; {checkpoint} keeps the run: "
                "train again with resume to continue it",
            )
            images, masks = augment(
                train["images"][rows, None].float() / 255.0,
                train["masks"][rows],
                mirror_ok[rows],
                generator,
            )
            seg_logits, plane_logits = net(_normalise(images, weights.preprocess))
            loss = segmentation_loss(
                seg_logits, masks, train["annotated"][rows], class_weights
            ) + plane_nll(plane_logits, train["planes"][rows])
            run.step(loss)
            losses.append(loss.item())
            emit(
                TrainProgress(
                    "step",
                    epoch=state["epoch"] + 1,
                    step=state["step"],
                    steps_per_epoch=steps_per_epoch,
                    fraction=min(1.0, schedule.progress()),
                    loss=float(np.mean(losses[-20:])),
                )
            )
        metrics = evaluate(net, val, weights)
        state["epoch"] += 1
        improved = run.keep_if_best(metrics["score"])
        if improved:
            state["best_epoch"] = state["epoch"]
            state["stale"] = 0
        else:
            state["stale"] += 1
        emit(
            TrainProgress(
                "epoch",
                f"epoch {state['epoch']}: loss={np.mean(losses):.4f} {_format(metrics)} "
                f"({time.monotonic() - started:.0f} s, step {state['step']}, "
                f"lr {optimizer.param_groups[0]['lr']:.2e}){' best' if improved else ''}",
                epoch=state["epoch"],
                step=state["step"],
                steps_per_epoch=steps_per_epoch,
                fraction=min(1.0, schedule.progress()),
                loss=float(np.mean(losses)),
                metrics=metrics,
            )
        )
        run.save()

    net.load_state_dict(state["best_state"] or net.state_dict())
    if options.init is not None and state.get("best_epoch", 1) == 0:
        emit(
            TrainProgress(
                "info",
                f"no epoch beat the starting weights (score {before['score']:.4f}): "
                "writing them unchanged, with recalibrated plane probabilities",
            )
        )
    _, plane_logits = predict(net, val, weights.preprocess)
    temperature = fit_temperature(plane_logits, val["planes"])
    after = evaluate(net, val, weights, temperature)
    emit(
        TrainProgress(
            "info", f"after:  {_format(after)}  plane_temperature={temperature:.3f}", metrics=after
        )
    )
    weights.state_dict = net.state_dict()
    weights.plane_temperature = temperature
    weights.model_version = _version(weights, new_model)
    offset = fit_head_offset(weights, train_samples)
    if offset is not None:
        weights.logit_offsets = {**weights.logit_offsets, "head": offset}
        emit(TrainProgress("info", f"head logit offset {offset:+.3f} (fitted on training HC)"))
    outcomes = shape_outcomes(weights, val_samples)
    weights.shape_calibration = fit_shape_calibration(outcomes)
    right = sum(o.right for o in outcomes)
    emit(
        TrainProgress(
            "info",
            f"shape scores calibrated on {len(outcomes)} validation shapes ({right} reach Dice "
            f"{RIGHT_DICE})"
            if weights.shape_calibration
            else f"shape scores left uncalibrated: {len(outcomes)} validation shapes, {right} "
            f"reaching Dice {RIGHT_DICE}, cannot support a fit",
        )
    )
    weights.validation_metrics = after
    held_out = f"; held out: {', '.join(options.holdout)}" if options.holdout else ""
    weights.training_data = (
        f"{len(train_samples)} training / {len(val_samples)} validation images from "
        + ", ".join(str(Path(d).resolve()) for d in options.data)
        + (f"; +{options.negatives} made-up non-ultrasound images" if options.negatives else "")
        + held_out
    )
    save_weights(weights, options.out)
    return TrainResult(
        out=options.out,
        before=before,
        after=after,
        epochs=state["epoch"],
        steps=state["step"],
        n_train=len(train_samples),
        n_val=len(val_samples),
        plane_temperature=temperature,
    )
