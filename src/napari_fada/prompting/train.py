"""Training the prompt model with a simulated annotator, as RITM trains.

Each step draws objects from the training split (rarer structures more often than their count),
starts an episode for each (:mod:`.simulate`: a jittered box, a first click on the whole image or
near the object, or a wrong proposal to correct), lets the network answer and click again 0 to
``max_clicks`` times without gradient, and learns from its answer after the last click. Every
``val_every`` steps the same simulation on validation objects scores the model; the best scoring
weights are written. A checkpoint next to the output lets ``resume`` continue; the learning rate
follows :class:`napari_fada.training.run.Schedule`, by the clock when given ``minutes``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from napari_fada.errors import DatasetError
from napari_fada.models.base import CancelToken
from napari_fada.prompting.clicks import dice
from napari_fada.prompting.frame import Pyramid
from napari_fada.prompting.net import PromptNet, PromptNetConfig
from napari_fada.prompting.simulate import STARTS, Episode, batch_inputs, click_step, draw_episode
from napari_fada.prompting.targets import Target, TargetSet, load_targets
from napari_fada.prompting.weights import PromptWeights, save_prompt_weights
from napari_fada.training.augment import intensity
from napari_fada.training.options import checkpoint_path
from napari_fada.training.run import Run

#: Validation objects per structure and the clicks each validation episode gets after its start.
VAL_PER_STRUCTURE = 24
VAL_CLICKS = 3


@dataclass(frozen=True)
class PromptTrainOptions:
    """One run of ``napari-fada train-prompt`` (the options of the same names)."""

    data: tuple[Path, ...]
    out: Path
    minutes: float | None = None
    steps: int = 20000
    batch_size: int = 16
    lr: float = 2e-3
    max_clicks: int = 3
    val_every: int = 250
    holdout: tuple[str, ...] = ()
    seed: int = 0
    resume: bool = False
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    config: PromptNetConfig = field(default_factory=PromptNetConfig)

    @property
    def checkpoint(self) -> Path:
        return checkpoint_path(self.out)


def _draw_weights(targets: Sequence[Target]) -> np.ndarray:
    """Each object's chance: structures by the square root of their count (rare ones more often
    than their share, without learning a few images by heart)."""
    names = [t.structure for t in targets]
    counts = {n: names.count(n) for n in set(names)}
    weights = np.array([counts[n] ** -0.5 for n in names])
    return weights / weights.sum()


def segmentation_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice per object, for (N, S, S) logits and 0/1 truth."""
    bce = F.binary_cross_entropy_with_logits(logits, truth)
    probs = logits.sigmoid()
    inter = (probs * truth).sum(dim=(1, 2))
    total = probs.sum(dim=(1, 2)) + truth.sum(dim=(1, 2))
    return bce + (1 - (2 * inter + 1) / (total + 1)).mean()


def _augment_images(episodes: Sequence[Episode], generator: torch.Generator) -> None:
    """Gain, contrast, gamma, attenuation, speckle and blur on the crops, restandardised."""
    crops = torch.stack([e.image for e in episodes])[:, None]
    low, high = crops.amin(dim=(2, 3), keepdim=True), crops.amax(dim=(2, 3), keepdim=True)
    changed = intensity((crops - low) / (high - low + 1e-6), generator)[:, 0]
    for episode, crop in zip(episodes, changed, strict=True):
        episode.image = (crop - crop.mean()) / (crop.std() + 1e-3)


def validation_episodes(
    val: TargetSet, pyramids: Sequence[Pyramid], config: PromptNetConfig, seed: int
) -> list[tuple[str, str, Target, int]]:
    """The fixed validation draws: up to :data:`VAL_PER_STRUCTURE` objects per structure, each
    started with a box and with a click on the whole image."""
    rng = np.random.default_rng(seed)
    chosen = []
    for structure in val.structures():
        rows = [t for t in val.targets if t.structure == structure]
        picks = rng.permutation(len(rows))[:VAL_PER_STRUCTURE]
        for start in ("box", "click"):
            chosen += [(structure, start, rows[i], seed + int(i)) for i in picks]
    return chosen


def validate(
    net: PromptNet,
    draws: Sequence[tuple[str, str, Target, int]],
    pyramids: Sequence[Pyramid],
) -> dict[str, float]:
    """Crop-space Dice after the start and after :data:`VAL_CLICKS` clicks, per structure and
    start, and their mean as ``score``."""
    net.eval()
    figures: dict[str, list[float]] = {}
    for begin in range(0, len(draws), 32):
        part = draws[begin : begin + 32]
        episodes = [
            draw_episode(t, pyramids[t.image], net.config, np.random.default_rng(seed), s, False)
            for _, s, t, seed in part
        ]
        first = click_step(net, episodes)
        for _ in range(VAL_CLICKS - 1):
            click_step(net, episodes)
        with torch.no_grad():
            last = (net(batch_inputs(episodes, net.config))[:, 0] > 0).numpy()
        for (structure, start, _, _), episode, a, b in zip(
            part, episodes, first, last, strict=True
        ):
            figures.setdefault(f"{structure}_{start}_0", []).append(dice(episode.truth, a))
            figures.setdefault(f"{structure}_{start}_{VAL_CLICKS}", []).append(
                dice(episode.truth, b)
            )
    metrics = {k: float(np.mean(v)) for k, v in sorted(figures.items())}
    metrics["score"] = float(np.mean(list(metrics.values())))
    return metrics


def _ignore(_: str) -> None:
    """The default log callback."""


def train_prompt_model(
    options: PromptTrainOptions,
    log: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> PromptWeights:
    """Train as ``options`` say and write the best weights to ``options.out``."""
    emit = log or _ignore
    cancel = cancel or CancelToken()
    torch.set_num_threads(max(1, options.threads))
    torch.manual_seed(options.seed)
    config = options.config
    sets = load_targets(options.data, options.holdout, ("train", "val"))
    train, val = sets["train"], sets["val"]
    if not train.targets or not val.targets:
        raise DatasetError("prompt training needs labelled objects in both train and val rows")
    emit(
        f"{len(train.targets)} training objects on {len(train.images)} images, "
        f"{len(val.targets)} validation objects on {len(val.images)} images"
    )
    train_pyramids = [Pyramid(i) for i in train.images]
    val_pyramids = [Pyramid(i) for i in val.images]
    draws = validation_episodes(val, val_pyramids, config, options.seed)

    net = PromptNet(config)
    run = Run(net, options.lr, options.seed, options.checkpoint, best_metrics={})
    if options.resume:
        run.resume()
        emit(f"resumed at step {run.state['step']}")
    state = run.state
    rng = np.random.default_rng(options.seed + 7919 * state["step"])
    schedule = run.start(options.steps, options.minutes)
    chances = _draw_weights(train.targets)
    starts, start_p = list(STARTS), np.array(list(STARTS.values()))
    losses: list[float] = []
    started = time.monotonic()
    while not schedule.done():
        run.stop_if_cancelled(
            cancel, f"prompt training cancelled; {options.checkpoint} keeps the run"
        )
        net.train()
        picks = rng.choice(len(train.targets), options.batch_size, p=chances)
        episodes = []
        for index in picks:
            target = train.targets[index]
            start = str(rng.choice(starts, p=start_p / start_p.sum()))
            episodes.append(draw_episode(target, train_pyramids[target.image], config, rng, start))
        _augment_images(episodes, run.generator)
        net.eval()  # the clicks come from the model as it would answer
        for _ in range(int(rng.integers(0, options.max_clicks + 1))):
            click_step(net, episodes)
        net.train()
        logits = net(batch_inputs(episodes, config))[:, 0]
        truth = torch.from_numpy(np.stack([e.truth for e in episodes]).astype(np.float32))
        loss = segmentation_loss(logits, truth)
        run.step(loss)
        losses.append(loss.item())
        if state["step"] % options.val_every == 0 or schedule.done():
            _checkpoint(run, draws, val_pyramids)
            lr = run.optimizer.param_groups[0]["lr"]
            emit(
                f"step {state['step']}: loss={np.mean(losses):.4f} "
                f"score={state['last_score']:.4f}{' best' if state['improved'] else ''} "
                f"({time.monotonic() - started:.0f} s, lr {lr:.2e})"
            )
            losses = []
    if state["best_state"] is None:
        _checkpoint(run, draws, val_pyramids)
    weights = PromptWeights(
        config=config,
        state_dict=state["best_state"],
        training_data=(
            f"{len(train.targets)} objects on {len(train.images)} training images from "
            + ", ".join(str(Path(d).resolve()) for d in options.data)
            + (f"; held out: {', '.join(options.holdout)}" if options.holdout else "")
            + f"; {state['step']} steps of {options.batch_size}"
        ),
        validation_metrics=state["best_metrics"],
    )
    save_prompt_weights(weights, options.out)
    emit(f"best validation score {state['best_score']:.4f}; wrote {options.out}")
    return weights


def _checkpoint(
    run: Run[PromptNet], draws: Sequence[tuple[str, str, Target, int]], pyramids: Sequence[Pyramid]
) -> None:
    """Validate, keep the best weights so far and save the checkpoint."""
    metrics = validate(run.net, draws, pyramids)
    state = run.state
    state["last_score"] = metrics["score"]
    state["improved"] = run.keep_if_best(metrics["score"])
    if state["improved"]:
        state["best_metrics"] = metrics
    state["epoch"] += 1
    run.save()
