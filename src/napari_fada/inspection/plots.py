"""The summary figures of an inspection, drawn with matplotlib's object API (no pyplot, so no
global state and no GUI backend): the napari dock puts them in Qt canvases, the report and the
CLI save them as PNG."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from napari_fada.core.atomic import write_bytes_atomic
from napari_fada.core.metrics import plane_confusion
from napari_fada.inspection.per_image import FAILURE_DICE, InspectionCase

RELIABILITY_BINS = 10
_FIGSIZE = (6.4, 4.0)


@dataclass(frozen=True)
class ReliabilityBin:
    """Predictions whose score lies in ``[low, high)`` (the last bin includes 1.0)."""

    low: float
    high: float
    mean_score: float
    accuracy: float
    count: int


def reliability_bins(
    scores: Sequence[float], outcomes: Sequence[bool], n_bins: int = RELIABILITY_BINS
) -> list[ReliabilityBin]:
    """The non-empty bins of a reliability diagram: mean score against the fraction right."""
    values = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    right = np.asarray(outcomes, dtype=bool)
    index = np.minimum((values * n_bins).astype(int), n_bins - 1)
    bins = []
    for b in range(n_bins):
        inside = index == b
        if inside.any():
            bins.append(
                ReliabilityBin(
                    b / n_bins,
                    (b + 1) / n_bins,
                    float(values[inside].mean()),
                    float(right[inside].mean()),
                    int(inside.sum()),
                )
            )
    return bins


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float | None:
    """Count-weighted mean gap between score and accuracy over the bins."""
    total = sum(b.count for b in bins)
    if total == 0:
        return None
    return sum(b.count * abs(b.mean_score - b.accuracy) for b in bins) / total


def _by_model(cases: Iterable[InspectionCase]) -> dict[str, list[InspectionCase]]:
    grouped: dict[str, list[InspectionCase]] = {}
    for case in cases:
        grouped.setdefault(case.model_id, []).append(case)
    return dict(sorted(grouped.items()))


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def dice_figure(cases: Sequence[InspectionCase]) -> Figure:
    """Dice distribution per structure, one box per model, every image as a dot."""
    figure = Figure(figsize=_FIGSIZE, layout="constrained")
    ax = figure.add_subplot()
    models = _by_model(cases)
    labels = sorted({label for case in cases for label in case.result.dice})
    if not labels:
        _empty(ax, "no structure was outlined")
        return figure
    width = 0.8 / len(models)
    for m, (model_id, model_cases) in enumerate(models.items()):
        offset = (m - (len(models) - 1) / 2) * width
        values = [[c.result.dice[s] for c in model_cases if s in c.result.dice] for s in labels]
        positions = [i + offset for i, v in enumerate(values) if v]
        filled = [v for v in values if v]
        if not filled:
            continue
        color = f"C{m}"
        ax.boxplot(
            filled,
            positions=positions,
            widths=width * 0.8,
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": color, "alpha": 0.3},
        )
        for position, value in zip(positions, filled, strict=True):
            jitter = np.linspace(-width / 4, width / 4, len(value)) if len(value) > 1 else [0.0]
            ax.plot(np.add(position, jitter), value, ".", color=color, alpha=0.7)
        ax.plot([], [], "s", color=color, alpha=0.5, label=model_id)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Dice per image")
    ax.axhline(FAILURE_DICE, color="grey", linestyle=":", linewidth=1)
    ax.set_title("Dice distribution per structure")
    ax.legend(fontsize="small", loc="lower left")
    return figure


def plane_confusion_figure(cases: Sequence[InspectionCase]) -> Figure:
    """Confusion matrix of plane classes (true rows, predicted columns), one panel per model."""
    models = _by_model(c for c in cases if c.result.plane_correct is not None)
    figure = Figure(figsize=(_FIGSIZE[0], _FIGSIZE[1] * max(1, len(models))), layout="constrained")
    if not models:
        _empty(figure.add_subplot(), "no image has a true plane")
        return figure
    for row, (model_id, model_cases) in enumerate(models.items()):
        ax = figure.add_subplot(len(models), 1, row + 1)
        confusion = plane_confusion(
            (c.result.plane_true or "", c.result.plane_predicted) for c in model_cases
        )
        truths = sorted(confusion)
        predicted = sorted({p for counts in confusion.values() for p in counts})
        matrix = np.array([[confusion[t].get(p, 0) for p in predicted] for t in truths])
        ax.imshow(matrix, cmap="Blues", vmin=0)
        for (i, j), count in np.ndenumerate(matrix):
            dark = count > matrix.max() / 2
            ax.text(j, i, str(count), ha="center", va="center", color="white" if dark else "black")
        ax.set_xticks(range(len(predicted)), predicted, rotation=30, ha="right")
        ax.set_yticks(range(len(truths)), truths)
        ax.set_xlabel("predicted plane")
        ax.set_ylabel("true plane")
        ax.set_title(f"Plane classes: {model_id}")
    return figure


def _calibration_series(
    cases: Sequence[InspectionCase],
) -> list[tuple[str, list[float], list[bool]]]:
    """(name, scores, outcomes): structures (a box hit at IoU 0.50) and plane calls, per model."""
    series = []
    for model_id, model_cases in _by_model(cases).items():
        detections = [d for c in model_cases for d in c.detections]
        series.append(
            (
                f"{model_id}: structures",
                [d.score for d in detections],
                [d.matched for d in detections],
            )
        )
        planes = [c for c in model_cases if c.plane_score is not None]
        planes = [c for c in planes if c.result.plane_correct is not None]
        series.append(
            (
                f"{model_id}: plane",
                [float(c.plane_score or 0.0) for c in planes],
                [bool(c.result.plane_correct) for c in planes],
            )
        )
    return [s for s in series if s[1]]


def calibration_figure(cases: Sequence[InspectionCase]) -> Figure:
    """Reliability diagram: mean score against the fraction right, per score bin."""
    figure = Figure(figsize=_FIGSIZE, layout="constrained")
    ax = figure.add_subplot()
    series = _calibration_series(cases)
    if not series:
        _empty(ax, "no scored predictions")
        return figure
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfectly calibrated")
    for index, (name, scores, outcomes) in enumerate(series):
        bins = reliability_bins(scores, outcomes)
        ece = expected_calibration_error(bins)
        ax.plot(
            [b.mean_score for b in bins],
            [b.accuracy for b in bins],
            "o-",
            color=f"C{index}",
            label=f"{name} (n={len(scores)}, ECE {ece:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("predicted score")
    ax.set_ylabel("fraction right")
    ax.set_title("Score calibration")
    ax.legend(fontsize="small", loc="upper left")
    return figure


def failures_figure(cases: Sequence[InspectionCase]) -> Figure:
    """Fraction of failed images (see :attr:`InspectionCase.failed`) per source dataset."""
    figure = Figure(figsize=_FIGSIZE, layout="constrained")
    ax = figure.add_subplot()
    models = _by_model(cases)
    sources = sorted({c.source_dataset or "(unknown)" for c in cases})
    if not sources:
        _empty(ax, "no images")
        return figure
    width = 0.8 / max(1, len(models))
    for m, (model_id, model_cases) in enumerate(models.items()):
        for s, source in enumerate(sources):
            chosen = [c for c in model_cases if (c.source_dataset or "(unknown)") == source]
            failed = sum(c.failed for c in chosen)
            x = s + (m - (len(models) - 1) / 2) * width
            fraction = failed / len(chosen) if chosen else 0.0
            ax.bar(x, fraction, width * 0.9, color=f"C{m}", label=model_id if s == 0 else None)
            ax.text(x, fraction, f"{failed}/{len(chosen)}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(sources)), sources, rotation=20, ha="right")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("fraction of images failed")
    ax.set_title(f"Failures by source dataset (mean Dice < {FAILURE_DICE} or wrong plane)")
    ax.legend(fontsize="small")
    return figure


#: File stem -> figure maker, in the order the dock shows them.
FIGURES = {
    "dice_per_structure": dice_figure,
    "plane_confusion": plane_confusion_figure,
    "calibration": calibration_figure,
    "failures_by_source": failures_figure,
}


def summary_figures(cases: Sequence[InspectionCase]) -> dict[str, Figure]:
    return {name: make(cases) for name, make in FIGURES.items()}


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_figures(figures: dict[str, Figure], folder: str | Path) -> list[Path]:
    """Write each figure as ``<name>.png`` in ``folder`` (created if missing)."""
    folder = Path(folder)
    paths = []
    for name, figure in figures.items():
        path = folder / f"{name}.png"
        write_bytes_atomic(path, figure_png(figure))
        paths.append(path)
    return paths
