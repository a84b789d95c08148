"""The plumbing a training loop shares (the embedded model's and the prompt model's).

:class:`Run` holds the network, its optimiser and random generator, the state a checkpoint keeps
(step, epoch, seconds, the best score and weights) and the learning-rate :class:`Schedule`; it
takes optimiser steps, keeps the best weights, writes checkpoints and stops a cancelled run with
its checkpoint written, so that ``resume`` continues it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from napari_fada.errors import Cancelled, ModelLoadError
from napari_fada.models import weights_file
from napari_fada.models.base import CancelToken

NetT = TypeVar("NetT", bound=torch.nn.Module)


class Run(Generic[NetT]):
    """One run's optimiser (AdamW), random generator and checkpointed state.

    ``state`` adds a loop's own entries to the shared ones; :meth:`start` makes the schedule,
    after a :meth:`resume` where there is one.
    """

    def __init__(self, net: NetT, lr: float, seed: int, checkpoint: Path, **state: Any) -> None:
        self.net, self.lr, self.checkpoint = net, lr, checkpoint
        self.optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        self.generator = torch.Generator().manual_seed(seed)
        self.state: dict[str, Any] = {
            "epoch": 0, "step": 0, "seconds": 0.0, "best_score": -1.0, "best_state": None,
            **state,
        }  # fmt: skip
        self.schedule: Schedule | None = None

    def resume(self) -> None:
        """Continue from the checkpoint (ModelLoadError when it is missing or damaged)."""
        self.state = restore_checkpoint(self.checkpoint, self.net, self.optimizer, self.generator)

    def start(self, total_steps: int, minutes: float | None) -> Schedule:
        """The schedule, over ``total_steps`` or ``minutes``, from where the state is."""
        self.schedule = Schedule(self.lr, total_steps, minutes, self.state)
        return self.schedule

    def _schedule(self) -> Schedule:
        if self.schedule is None:
            raise RuntimeError("the run has not started")
        return self.schedule

    def step(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss`` at the schedule's learning rate."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._schedule().set_lr(self.optimizer)
        self.optimizer.step()
        self.state["step"] += 1

    def keep(self, score: float) -> None:
        """Keep the network's weights as the best, scoring ``score``."""
        self.state["best_score"] = score
        self.state["best_state"] = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def keep_if_best(self, score: float) -> bool:
        """Keep the weights if ``score`` beats the best so far; whether it did."""
        improved = score > self.state["best_score"]
        if improved:
            self.keep(score)
        return improved

    def save(self) -> None:
        """Write the checkpoint, with the time spent so far."""
        self.state["seconds"] = self._schedule().elapsed()
        save_checkpoint(self.checkpoint, self.net, self.optimizer, self.generator, self.state)

    def stop_if_cancelled(self, cancel: CancelToken, message: str) -> None:
        """Write the checkpoint and raise Cancelled(``message``) when ``cancel`` is set."""
        if cancel.cancelled:
            self.save()
            raise Cancelled(message)


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


def save_checkpoint(
    path: Path,
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    state: dict[str, Any],
) -> None:
    """Write the run's state to ``path`` (atomically) for a later resume."""
    payload = {
        "net": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "state": state,
    }
    weights_file.write(payload, path)


def restore_checkpoint(
    path: Path,
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``net``, ``optimizer`` and
    ``generator``; returns the run's state. ModelLoadError when it is missing or damaged."""
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
