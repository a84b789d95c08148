"""The training loop: train or fine-tune the embedded model on dataset folders.

Reads the plugin's saved datasets and the shared reference layout alike (see
:mod:`napari_fada.training.data`), holds out the ``val`` rows (else 10% of subjects), trains with
augmentation, keeps the best epoch by validation score (a fine-tune also counts its starting
weights, so it never ends worse than it began), stops early when it stops improving,
calibrates the plane probabilities by temperature scaling on the validation rows and writes one
weights file. A checkpoint next to the output (``<out>.ckpt``) lets ``--resume`` continue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from napari_fada.errors import Cancelled, DatasetError, ModelLoadError
from napari_fada.models.base import CancelToken
from napari_fada.models.embedded_net import EmbeddedNet, NetConfig
from napari_fada.models.embedded_preprocess import PreprocessConfig
from napari_fada.models.embedded_weights import EmbeddedWeights, load_weights, save_weights
from napari_fada.training.augment import augment
from napari_fada.training.data import Arrays, Sample, load_arrays, read_dataset, split_samples
from napari_fada.training.options import TrainOptions, TrainProgress, TrainResult

DEFAULT_STRUCTURES = ("head", "fetal_head", "pubic_symphysis", "Brain", "CSP", "LV")
DEFAULT_PLANES = ("trans-thalamic", "transperineal", "trans-ventricular")
#: Planes whose images stay plausible when mirrored left-right (transperineal views do not).
MIRRORED_PLANES = ("trans-thalamic", "trans-ventricular")
_DIVISOR = 16  # input sides must survive the U-Net's four halvings


def _initial_weights(options: TrainOptions) -> EmbeddedWeights:
    if options.init is not None:
        return load_weights(options.init)
    if options.size % _DIVISOR or options.size < _DIVISOR:
        raise DatasetError(
            f"the input size (--size) must be a positive multiple of {_DIVISOR}, got {options.size}"
        )
    net = NetConfig(num_structures=len(DEFAULT_STRUCTURES), num_planes=len(DEFAULT_PLANES))
    torch.manual_seed(options.seed)
    return EmbeddedWeights(
        net=net,
        structures=DEFAULT_STRUCTURES,
        planes=DEFAULT_PLANES,
        preprocess=PreprocessConfig(size=(options.size, options.size)),
        state_dict=EmbeddedNet(net).state_dict(),
    )


def _read_all(options: TrainOptions, weights: EmbeddedWeights) -> tuple[list[Sample], ...]:
    samples: list[Sample] = []
    for folder in options.data:
        samples += read_dataset(folder, weights.planes)
    return split_samples(samples)


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


def _plane_weights(planes: torch.Tensor, num_planes: int) -> torch.Tensor:
    counts = torch.bincount(planes[planes >= 0], minlength=num_planes).float() + 1.0
    weights = counts.pow(-0.5)
    return weights / weights.mean()


def _sampling_weights(planes: torch.Tensor, num_planes: int) -> torch.Tensor:
    """Draw rare planes more often (1/sqrt of their count) so each epoch sees them enough."""
    counts = torch.bincount(planes.clamp(min=0), minlength=num_planes).float().clamp(min=1)
    return counts[planes.clamp(min=0)].pow(-0.5)


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


def evaluate(
    net: EmbeddedNet,
    data: dict[str, torch.Tensor],
    weights: EmbeddedWeights,
    temperature: float = 1.0,
) -> dict[str, float]:
    """Validation figures at model size: per-structure mean Dice over the images that contain
    it, plane accuracy and NLL, and their summary score."""
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
    known = data["planes"] >= 0
    if known.any():
        logits = plane_logits[known] / temperature
        correct = logits.argmax(1) == data["planes"][known]
        metrics["plane_accuracy"] = float(correct.float().mean())
        metrics["plane_nll"] = float(F.cross_entropy(logits, data["planes"][known]))
    parts = [float(np.mean(dice_values))] if dice_values else []
    parts += [metrics["plane_accuracy"]] if "plane_accuracy" in metrics else []
    metrics["score"] = float(np.mean(parts)) if parts else 0.0
    return metrics


def fit_temperature(plane_logits: torch.Tensor, planes: torch.Tensor) -> float:
    """Temperature minimising the validation NLL of the plane probabilities."""
    known = planes >= 0
    if not known.any():
        return 1.0
    logits, targets = plane_logits[known].detach(), planes[known]
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


class Schedule:
    """Learning rate by progress: linear warm-up over the first 10%, then cosine decay.

    Progress is the larger of steps done / planned steps and, with a time budget, elapsed /
    budgeted minutes, so a run on a busy machine still anneals and ends on time.
    """

    WARMUP = 0.1

    def __init__(
        self, lr: float, total_steps: int, minutes: float | None, state: dict[str, Any]
    ) -> None:
        self.lr, self.total_steps, self.minutes, self.state = lr, total_steps, minutes, state
        self._resumed_at = time.monotonic() - float(state["seconds"])

    def elapsed(self) -> float:
        return time.monotonic() - self._resumed_at

    def progress(self) -> float:
        done = self.state["step"] / max(1, self.total_steps)
        if self.minutes:
            done = max(done, self.elapsed() / (60.0 * self.minutes))
        return done

    def done(self) -> bool:
        return self.progress() >= 1.0

    def factor(self) -> float:
        p = min(1.0, self.progress())
        if p < self.WARMUP:
            return max(0.04, p / self.WARMUP)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * (p - self.WARMUP) / (1 - self.WARMUP)))

    def set_lr(self, optimizer: torch.optim.Optimizer) -> None:
        for group in optimizer.param_groups:
            group["lr"] = self.lr * self.factor()


def _format(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())


def _copy(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state_dict.items()}


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
    weights = _initial_weights(options)
    train_samples, val_samples = _read_all(options, weights)
    num_classes = 1 + len(weights.structures)
    size = weights.preprocess.size
    train = _tensors(load_arrays(train_samples, weights.structures, size, options.cache_dir))
    val = (
        _tensors(load_arrays(val_samples, weights.structures, size, options.cache_dir))
        if val_samples
        else train
    )
    cancel.raise_if_cancelled()
    emit(
        TrainProgress(
            "info",
            f"{len(train_samples)} training images, {len(val_samples) or len(train_samples)} "
            f"validation images, input {size[1]}x{size[0]}",
        )
    )

    net = weights.build()
    before = evaluate(net, val, weights, weights.plane_temperature)
    emit(TrainProgress("info", f"before: {_format(before)}", metrics=before))

    steps_per_epoch = max(1, len(train_samples) // options.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(options.seed)
    state: dict[str, Any] = {
        "epoch": 0, "step": 0, "seconds": 0.0, "best_score": -1.0, "best_state": None, "stale": 0,
        "best_epoch": 0,
    }  # fmt: skip
    if options.init is not None:
        # Fine-tuning must not make the model worse: the starting weights are the ones to beat.
        state["best_score"], state["best_state"] = before["score"], _copy(net.state_dict())
    checkpoint = options.checkpoint
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if options.resume:
        state = _restore(checkpoint, net, optimizer, generator)
        emit(TrainProgress("info", f"resumed after epoch {state['epoch']}", epoch=state["epoch"]))
    schedule = Schedule(options.lr, options.epochs * steps_per_epoch, options.minutes, state)

    class_weights = _class_weights(train["masks"], num_classes)
    plane_weights = _plane_weights(train["planes"], len(weights.planes))
    draw_weights = _sampling_weights(train["planes"], len(weights.planes))
    mirror_ok = torch.tensor(
        [s.plane >= 0 and weights.planes[s.plane] in MIRRORED_PLANES for s in train_samples]
    )
    while not schedule.done() and state["stale"] < options.patience:
        started = time.monotonic()
        net.train()
        draws = steps_per_epoch * options.batch_size
        order = torch.multinomial(draw_weights, draws, replacement=True, generator=generator)
        losses = []
        for rows in order.split(options.batch_size):
            if schedule.done():
                break
            if cancel.cancelled:
                state["seconds"] = schedule.elapsed()
                _save_checkpoint(checkpoint, net, optimizer, generator, state)
                raise Cancelled(
                    f"training cancelled at step {state['step']}; {checkpoint} keeps the run: "
                    "train again with resume to continue it"
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
            ) + F.cross_entropy(plane_logits, train["planes"][rows], plane_weights, ignore_index=-1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            schedule.set_lr(optimizer)
            optimizer.step()
            state["step"] += 1
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
        improved = metrics["score"] > state["best_score"]
        if improved:
            state["best_score"] = metrics["score"]
            state["best_state"] = _copy(net.state_dict())
            state["best_epoch"] = state["epoch"]
            state["stale"] = 0
        else:
            state["stale"] += 1
        state["seconds"] = schedule.elapsed()
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
        _save_checkpoint(checkpoint, net, optimizer, generator, state)

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
    weights.validation_metrics = after
    weights.training_data = (
        f"{len(train_samples)} training / {len(val_samples)} validation images from "
        + ", ".join(str(Path(d).resolve()) for d in options.data)
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


def _save_checkpoint(
    path: Path,
    net: EmbeddedNet,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    state: dict[str, Any],
) -> None:
    payload = {
        "net": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "state": state,
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)


def _restore(
    path: Path,
    net: EmbeddedNet,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> dict[str, Any]:
    if not path.is_file():
        raise ModelLoadError(f"nothing to resume: checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(payload["net"])
        optimizer.load_state_dict(payload["optimizer"])
        generator.set_state(payload["generator"])
    except Exception as exc:  # a damaged or foreign checkpoint
        raise ModelLoadError(
            f"cannot resume from {path} ({exc}); delete it and train without --resume"
        ) from None
    return payload["state"]
