"""Interactive evaluation: the simulated annotator prompts every labelled object of a dataset.

Per object the session starts with the object's box (``start="box"``) or a click at its centre
(``start="click"``), then clicks where the mask is most wrong (:func:`.clicks.next_click`) up to
``max_clicks`` times. Per structure it reports the Dice after the box and after 1, 3 and 5
clicks, NoC@85 and NoC@90 (mean clicks to reach that Dice; after a box start, the clicks after
the box: 0 when the box alone does; failures count ``max_clicks``), and the median
milliseconds per prompt (network and pasting of one prompt; the image is encoded once), by the
clock and in processor time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from napari_fada.prompting.clicks import Click, clicks_to_reach, dice, next_click
from napari_fada.prompting.session import PromptPredictor, PromptSession
from napari_fada.prompting.targets import Target, TargetSet

Start = Literal["box", "click"]
#: The clicks after which Dice is reported.
REPORTED_CLICKS = (1, 3, 5)
THRESHOLDS = {"noc85": 0.85, "noc90": 0.90}


@dataclass(frozen=True)
class ObjectRun:
    """One simulated session: Dice after k clicks (``dices[0]``: after the box, NaN after a
    click start), the seconds each prompt took and the processor seconds it used (all
    threads: on a busy machine the wall-clock time is longer than the work)."""

    structure: str
    dices: tuple[float, ...]
    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...]


@dataclass
class InteractiveReport:
    """The figures per structure (mappings structure -> value), and how many objects each."""

    start: Start
    max_clicks: int
    dice_box: dict[str, float | None] = field(default_factory=dict)
    dice_clicks: dict[str, dict[str, float]] = field(default_factory=dict)
    noc85: dict[str, float] = field(default_factory=dict)
    noc90: dict[str, float] = field(default_factory=dict)
    ms_per_prompt: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_prompt: dict[str, float] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "max_clicks": self.max_clicks,
            "dice_box": self.dice_box,
            "dice_clicks": self.dice_clicks,
            "noc85": self.noc85,
            "noc90": self.noc90,
            "ms_per_prompt": self.ms_per_prompt,
            "cpu_ms_per_prompt": self.cpu_ms_per_prompt,
            "objects": self.objects,
        }

    def table(self) -> str:
        """One line a structure, as a plain-text table."""
        head = f"{'structure':<17}{'n':>5}{'box':>7}" + "".join(
            f"{f'{k} clk':>8}" for k in REPORTED_CLICKS
        )
        lines = [head + f"{'NoC@85':>8}{'NoC@90':>8}{'ms':>7}{'cpu ms':>8}"]
        for name in sorted(self.objects):
            box = self.dice_box.get(name)
            cells = f"{'-':>7}" if box is None else f"{box:>7.3f}"
            cells += "".join(f"{self.dice_clicks[name][str(k)]:>8.3f}" for k in REPORTED_CLICKS)
            lines.append(
                f"{name:<17}{self.objects[name]:>5}{cells}{self.noc85[name]:>8.2f}"
                f"{self.noc90[name]:>8.2f}{self.ms_per_prompt[name]:>7.1f}"
                f"{self.cpu_ms_per_prompt[name]:>8.1f}"
            )
        return "\n".join(lines)


def run_object(session: PromptSession, target: Target, start: Start, max_clicks: int) -> ObjectRun:
    """Simulate the annotator on one object; stops once Dice passed 0.90 and the reported
    clicks are done (later clicks change none of the figures)."""
    truth = target.mask
    dices: list[float] = []
    seconds: list[float] = []
    cpu_seconds: list[float] = []

    def timed(prompt: Callable[[], np.ndarray]) -> float:
        began, cpu_began = time.perf_counter(), time.process_time()
        mask = prompt()
        seconds.append(time.perf_counter() - began)
        cpu_seconds.append(time.process_time() - cpu_began)
        return dice(truth, mask)

    if start == "box":
        dices.append(timed(lambda: session.set_box(target.box)))
    else:
        dices.append(math.nan)
    while len(dices) <= max_clicks:
        if len(dices) > max(REPORTED_CLICKS) and any(d >= 0.90 for d in dices):
            break
        mask = session.mask
        click = next_click(truth, mask if mask is not None else np.zeros_like(truth))
        if click is None:  # exact: every later click would keep it so
            dices += [1.0] * (max_clicks + 1 - len(dices))
            break
        at = Click(click.x + 0.5, click.y + 0.5, click.positive)  # the pixel's centre
        dices.append(timed(lambda at=at: session.add_click(at)))  # type: ignore[misc]
    return ObjectRun(target.structure, tuple(dices), tuple(seconds), tuple(cpu_seconds))


def summarise(runs: list[ObjectRun], start: Start, max_clicks: int) -> InteractiveReport:
    """The report of ``runs``, per structure."""
    report = InteractiveReport(start=start, max_clicks=max_clicks)
    for name in sorted({r.structure for r in runs}):
        mine = [r for r in runs if r.structure == name]
        report.objects[name] = len(mine)
        report.dice_box[name] = (
            float(np.mean([r.dices[0] for r in mine])) if start == "box" else None
        )
        report.dice_clicks[name] = {
            str(k): float(np.mean([_after(r.dices, k) for r in mine])) for k in REPORTED_CLICKS
        }
        for key, threshold in THRESHOLDS.items():
            clicks = [
                clicks_to_reach(_filled(r.dices, max_clicks), threshold, max_clicks) for r in mine
            ]
            getattr(report, key)[name] = float(np.mean(clicks))
        report.ms_per_prompt[name] = 1000 * float(np.median([s for r in mine for s in r.seconds]))
        report.cpu_ms_per_prompt[name] = 1000 * float(
            np.median([s for r in mine for s in r.cpu_seconds])
        )
    return report


def _after(dices: tuple[float, ...], clicks: int) -> float:
    """Dice after ``clicks`` clicks; a session stopped earlier keeps its last mask."""
    return dices[min(clicks, len(dices) - 1)]


def _filled(dices: tuple[float, ...], max_clicks: int) -> list[float]:
    return [_after(dices, k) for k in range(max_clicks + 1)]


def evaluate_interactive(
    predictor: PromptPredictor,
    targets: TargetSet,
    max_clicks: int = 20,
    start: Start = "box",
    on_object: Callable[[int, int], None] | None = None,
) -> InteractiveReport:
    """Simulate the annotator on every object of ``targets``; ``on_object(done, total)`` after
    each. Each image is encoded once for all its objects."""
    if max_clicks < max(REPORTED_CLICKS):
        raise ValueError(f"max_clicks must be at least {max(REPORTED_CLICKS)}")
    runs = []
    pyramids: dict[int, Any] = {}
    for done, target in enumerate(targets.targets, start=1):
        if target.image not in pyramids:
            pyramids = {target.image: predictor.encode(targets.images[target.image])}
        session = PromptSession(predictor, pyramids[target.image])
        runs.append(run_object(session, target, start, max_clicks))
        if on_object is not None:
            on_object(done, len(targets.targets))
    return summarise(runs, start, max_clicks)
