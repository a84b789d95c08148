"""Fetal head biometry from a head mask: an ellipse fit, HC, BPD, OFD and gestational age.

The skull outline is fitted with a least-squares ellipse (the direct, ellipse-specific fit of
Fitzgibbon et al. 1999 in the numerically stable form of Halir & Flusser 1998) through the
mask's boundary points. The fit is done in millimetres when the pixel spacing is known, so that
anisotropic (row, col) spacing scales each axis before the ellipse is fitted; the ellipse is then
mapped back to pixels for drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_fada.core.polygon_fill import fill_polygon
from napari_fada.core.proposal import Annotation

#: Points fewer than this cannot determine an ellipse (five degrees of freedom, plus one).
MIN_BOUNDARY_POINTS = 6

#: The visible outline must run along at least this fraction of the fitted ellipse's perimeter.
MIN_OUTLINE_COVERAGE = 0.5

#: Hadlock et al. 1984 fitted their regressions on fetuses of 14 to 42 menstrual weeks.
HADLOCK_VALID_WEEKS = (14.0, 42.0)


@dataclass(frozen=True)
class Ellipse:
    """An ellipse by its centre and shape matrix ``sigma``: ``(p - c)^T sigma^-1 (p - c) = 1``.

    The shape matrix form survives the per-axis scaling between pixels and millimetres.
    """

    center: tuple[float, float]
    sigma: np.ndarray

    @property
    def semi_axes(self) -> tuple[float, float]:
        """(major, minor) semi-axis lengths."""
        values = np.linalg.eigvalsh(self.sigma)
        return (math.sqrt(values[1]), math.sqrt(values[0]))

    @property
    def angle_deg(self) -> float:
        """Angle of the major axis from +x towards +y, in [0, 180)."""
        _, vectors = np.linalg.eigh(self.sigma)
        major = vectors[:, 1]
        return math.degrees(math.atan2(major[1], major[0])) % 180.0

    @property
    def perimeter(self) -> float:
        return ellipse_perimeter(*self.semi_axes)

    def scaled(self, sx: float, sy: float) -> Ellipse:
        """The same ellipse with x multiplied by ``sx`` and y by ``sy``."""
        scale = np.diag([sx, sy])
        return Ellipse((self.center[0] * sx, self.center[1] * sy), scale @ self.sigma @ scale)


def ellipse_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation of the perimeter of an ellipse with semi-axes a, b."""
    h = ((a - b) / (a + b)) ** 2 if a + b > 0 else 0.0
    return math.pi * (a + b) * (1.0 + 3.0 * h / (10.0 + math.sqrt(4.0 - 3.0 * h)))


def fit_ellipse(points: np.ndarray) -> Ellipse | None:
    """Least-squares ellipse through ``(N, 2)`` points ``(x, y)``; None when degenerate."""
    points = np.asarray(points, dtype=float)
    if len(points) < MIN_BOUNDARY_POINTS:
        return None
    # Centre and scale the points so that the normal equations are well conditioned.
    mean = points.mean(axis=0)
    scale = float(np.sqrt(((points - mean) ** 2).sum(axis=1).mean())) or 1.0
    x, y = ((points - mean) / scale).T
    d1 = np.column_stack([x * x, x * y, y * y])
    d2 = np.column_stack([x, y, np.ones_like(x)])
    s1, s2, s3 = d1.T @ d1, d1.T @ d2, d2.T @ d2
    try:
        t = -np.linalg.solve(s3, s2.T)
        m = s1 + s2 @ t
        m = np.array([m[2] / 2.0, -m[1], m[0] / 2.0])
        _, vectors = np.linalg.eig(m)
    except np.linalg.LinAlgError:
        return None
    vectors = np.real(vectors)
    condition = 4.0 * vectors[0] * vectors[2] - vectors[1] ** 2
    candidates = np.flatnonzero(condition > 0)
    if candidates.size == 0:
        return None
    a_, b_, c_ = vectors[:, candidates[0]]
    d_, e_, f_ = t @ vectors[:, candidates[0]]
    q = np.array([[a_, b_ / 2.0], [b_ / 2.0, c_]])
    try:
        center = np.linalg.solve(2.0 * q, [-d_, -e_])
    except np.linalg.LinAlgError:
        return None
    offset = f_ + 0.5 * (d_ * center[0] + e_ * center[1])
    sigma = -offset * np.linalg.inv(q)
    if not np.all(np.isfinite(sigma)) or np.any(np.linalg.eigvalsh(sigma) <= 0):
        return None
    center_px = center * scale + mean
    return Ellipse((float(center_px[0]), float(center_px[1])), sigma * scale * scale)


def boundary_points(mask: np.ndarray) -> np.ndarray:
    """Outline of the mask's largest region as ``(x, y)`` points on pixel edges.

    Holes are filled and points on the image border dropped, so that a head cut off by the
    image edge is fitted on its visible outline only.
    """
    from scipy.ndimage import binary_fill_holes
    from skimage.measure import find_contours, label

    mask = np.asarray(mask, dtype=bool)
    components = label(mask, connectivity=2)
    if components.max() == 0:
        return np.empty((0, 2))
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    region = binary_fill_holes(components == int(sizes.argmax()))
    contours = find_contours(np.pad(region, 1).astype(np.uint8), 0.5)
    outline = max(contours, key=len)
    # Padded (row, col) of pixel centres -> (x, y) with pixel edges at integers.
    xy = np.column_stack([outline[:, 1] - 0.5, outline[:, 0] - 0.5])
    height, width = mask.shape
    inside = (xy[:, 0] > 0) & (xy[:, 0] < width) & (xy[:, 1] > 0) & (xy[:, 1] < height)
    return xy[inside]


def outline_length(points: np.ndarray) -> float:
    """Length of an ordered outline, leaving out the gaps where image-border points were cut."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    return float(steps[steps < 2.0].sum())


def hadlock_ga_weeks(hc_mm: float) -> float | None:
    """Gestational (menstrual) age in weeks from head circumference, by Hadlock et al. 1984.

    Hadlock FP, Deter RL, Harrist RB, Park SK. Estimating fetal age: computer-assisted analysis
    of multiple fetal growth parameters. Radiology 1984;152:497-501, head circumference model:
    ``MA = 8.96 + 0.540 HC + 0.0003 HC^3`` with HC in cm. The study covered 14 to 42 weeks;
    outside that range (HC below about 8.9 cm or above about 35.8 cm) the answer is None.
    """
    hc_cm = hc_mm / 10.0
    weeks = 8.96 + 0.540 * hc_cm + 0.0003 * hc_cm**3
    low, high = HADLOCK_VALID_WEEKS
    return weeks if low <= weeks <= high else None


def head_biometry(
    mask: np.ndarray, pixel_spacing_mm: tuple[float, float] | None = None
) -> dict[str, Any] | None:
    """HC, BPD, OFD (mm) and GA (weeks) of the head in ``mask``, with the ellipse for drawing.

    Returns None when the mask holds no outline an ellipse can be fitted to. ``pixel_spacing_mm``
    is (row, col); without it the mm keys and ``ga_weeks`` are None. ``axes_px`` are the
    (major, minor) semi-axes in pixels, ``angle_deg`` the major axis's angle from +x towards +y
    (image y runs down), ``center_xy`` in pixel coordinates with pixel edges at integers.
    """
    points = boundary_points(mask)
    row_mm, col_mm = pixel_spacing_mm if pixel_spacing_mm else (1.0, 1.0)
    fitted = fit_ellipse(points * [col_mm, row_mm])
    if fitted is None:
        return None
    in_px = fitted.scaled(1.0 / col_mm, 1.0 / row_mm)
    if outline_length(points) < MIN_OUTLINE_COVERAGE * in_px.perimeter:
        # Too little of the ellipse is backed by the outline: an extrapolation, not a head.
        return None
    result: dict[str, Any] = {
        "hc_mm": None,
        "bpd_mm": None,
        "ofd_mm": None,
        "ga_weeks": None,
        "center_xy": in_px.center,
        "axes_px": in_px.semi_axes,
        "angle_deg": in_px.angle_deg,
    }
    if pixel_spacing_mm:
        major, minor = fitted.semi_axes
        hc = fitted.perimeter
        result.update(
            hc_mm=hc, bpd_mm=2.0 * minor, ofd_mm=2.0 * major, ga_weeks=hadlock_ga_weeks(hc)
        )
    return result


#: The keys of Proposal.biometry, in the order they are shown.
BIOMETRY_KEYS: tuple[str, ...] = ("hc_mm", "bpd_mm", "ofd_mm", "ga_weeks")
#: The structure whose outline is measured (HC18's skull ellipse; FADA's "head").
HEAD_STRUCTURE = "head"


def biometry_values(measured: dict[str, Any] | None) -> dict[str, float]:
    """The measurements of a :func:`head_biometry` result that are known, for Proposal.biometry."""
    if measured is None:
        return {}
    return {key: float(measured[key]) for key in BIOMETRY_KEYS if measured.get(key) is not None}


#: Statuses of the outlines a person kept.
KEPT: tuple[str, ...] = ("accepted", "edited")


def reviewed_head_biometry(
    annotations: Sequence[Annotation],
    width: int,
    height: int,
    pixel_spacing_mm: tuple[float, float] | None,
    statuses: Sequence[str] = KEPT,
) -> dict[str, float]:
    """HC, BPD, OFD and GA of the largest head outline with one of ``statuses``.

    By default only outlines a person kept count, so that what is saved with the labels is what
    the person confirmed. Empty without such a head polygon or a pixel spacing.
    """
    heads = [
        a.polygon
        for a in annotations
        if a.label == HEAD_STRUCTURE and a.polygon and a.status in statuses
    ]
    if not heads or not pixel_spacing_mm:
        return {}
    masks = [fill_polygon(polygon, width, height) for polygon in heads]
    largest = max(masks, key=lambda mask: int(mask.sum()))
    return biometry_values(head_biometry(largest, pixel_spacing_mm))


def format_biometry(biometry: dict[str, float]) -> str:
    """One line for people: ``HC 172.3 mm · BPD 46.1 mm · OFD 62.0 mm · GA 20w3d``."""
    parts = [
        f"{name} {biometry[key]:.1f} mm"
        for key, name in (("hc_mm", "HC"), ("bpd_mm", "BPD"), ("ofd_mm", "OFD"))
        if key in biometry
    ]
    if "ga_weeks" in biometry:
        weeks = biometry["ga_weeks"]
        whole, days = int(weeks), round((weeks - int(weeks)) * 7)
        whole, days = (whole + 1, 0) if days == 7 else (whole, days)
        parts.append(f"GA {whole}w{days}d (Hadlock 1984)")
    return " · ".join(parts)
