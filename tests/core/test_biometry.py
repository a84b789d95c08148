"""Head biometry: ellipse fits of known ellipses, the HC18 reference HCs, Hadlock's GA."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_fada.core.biometry import (
    ellipse_perimeter,
    fit_ellipse,
    hadlock_ga_weeks,
    head_biometry,
)


def ellipse_mask(
    shape: tuple[int, int],
    center_mm: tuple[float, float],
    semi_axes_mm: tuple[float, float],
    angle_deg: float,
    spacing: tuple[float, float],
) -> np.ndarray:
    """Pixels whose centres, in mm, lie inside a rotated ellipse given in mm."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    x = (cols + 0.5) * spacing[1] - center_mm[0]
    y = (rows + 0.5) * spacing[0] - center_mm[1]
    t = math.radians(angle_deg)
    u = x * math.cos(t) + y * math.sin(t)
    v = -x * math.sin(t) + y * math.cos(t)
    return (u / semi_axes_mm[0]) ** 2 + (v / semi_axes_mm[1]) ** 2 <= 1.0


@pytest.mark.parametrize(
    ("axes", "angle", "spacing"),
    [
        ((40.0, 30.0), 0.0, (0.2, 0.2)),
        ((40.0, 30.0), 35.0, (0.2, 0.2)),
        ((45.0, 28.0), 120.0, (0.25, 0.15)),
        ((30.0, 29.0), 70.0, (0.12, 0.2)),
    ],
)
def test_known_ellipse_gives_hc_bpd_ofd(axes, angle, spacing) -> None:
    mask = ellipse_mask((500, 700), (55.0, 50.0), axes, angle, spacing)
    result = head_biometry(mask, spacing)
    assert result is not None
    expected_hc = ellipse_perimeter(*axes)
    assert result["hc_mm"] == pytest.approx(expected_hc, rel=0.005)
    assert result["ofd_mm"] == pytest.approx(2 * axes[0], rel=0.01)
    assert result["bpd_mm"] == pytest.approx(2 * axes[1], rel=0.01)
    # The centre in pixels is the mm centre divided by the (col, row) spacing.
    assert result["center_xy"][0] == pytest.approx(55.0 / spacing[1], abs=0.5)
    assert result["center_xy"][1] == pytest.approx(50.0 / spacing[0], abs=0.5)


def test_pixel_ellipse_for_drawing_has_the_mask_axes_and_angle() -> None:
    mask = ellipse_mask((400, 400), (200.0, 200.0), (150.0, 90.0), 30.0, (1.0, 1.0))
    result = head_biometry(mask, None)
    assert result is not None
    assert result["hc_mm"] is None and result["bpd_mm"] is None and result["ga_weeks"] is None
    assert result["axes_px"] == pytest.approx((150.0, 90.0), abs=1.0)
    assert result["angle_deg"] == pytest.approx(30.0, abs=0.5)


def test_anisotropic_spacing_maps_the_mm_ellipse_back_to_pixels() -> None:
    # A circle of radius 30 mm with rows 0.3 mm and cols 0.15 mm apart: 200 px wide, 100 px tall.
    mask = ellipse_mask((300, 500), (37.5, 45.0), (30.0, 30.0), 0.0, (0.3, 0.15))
    result = head_biometry(mask, (0.3, 0.15))
    assert result is not None
    assert result["hc_mm"] == pytest.approx(2 * math.pi * 30.0, rel=0.005)
    assert result["axes_px"] == pytest.approx((200.0, 100.0), abs=1.0)
    assert result["angle_deg"] % 180 == pytest.approx(0.0, abs=0.5)


def test_partial_and_noisy_mask_still_fits_the_head() -> None:
    spacing = (0.2, 0.2)
    axes = (40.0, 30.0)
    # The head runs off the right edge of the image; a speck and holes add noise.
    mask = ellipse_mask((500, 520), (75.0, 50.0), axes, 20.0, spacing)
    assert mask[:, -1].any()
    mask[10:14, 10:14] = True
    mask[240:250, 300:330] = False
    result = head_biometry(mask, spacing)
    assert result is not None
    assert result["hc_mm"] == pytest.approx(ellipse_perimeter(*axes), rel=0.01)


def test_empty_or_tiny_mask_has_no_biometry() -> None:
    assert head_biometry(np.zeros((50, 50), bool), (0.1, 0.1)) is None
    assert fit_ellipse(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])) is None


def test_ramanujan_perimeter_of_circle_and_flat_ellipse() -> None:
    assert ellipse_perimeter(10.0, 10.0) == pytest.approx(2 * math.pi * 10.0)
    # A degenerate ellipse is a segment traversed twice: perimeter 4a.
    assert ellipse_perimeter(10.0, 0.0) == pytest.approx(40.0, rel=1e-3)


def _hc18_rows(samples_dir: Path) -> list[dict[str, str]]:
    with open(samples_dir / "manifest.csv", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["source_dataset"] == "HC18"]


def test_hc18_masks_match_published_head_circumference(samples_dir: Path) -> None:
    rows = _hc18_rows(samples_dir)
    assert len(rows) == 7
    head_id = 3  # labels.json: 3 = head
    for row in rows:
        mask = np.asarray(Image.open(samples_dir / row["mask"])) == head_id
        spacing = float(row["pixel_size_mm"])
        result = head_biometry(mask, (spacing, spacing))
        assert result is not None
        assert result["hc_mm"] == pytest.approx(float(row["head_circumference_mm"]), abs=1.5)


@pytest.mark.parametrize(
    ("hc_mm", "weeks"),
    # Hadlock 1984: MA = 8.96 + 0.540 HC + 0.0003 HC^3 (HC in cm), computed by hand.
    [(100.0, 14.66), (200.0, 22.16), (250.0, 27.1475), (300.0, 33.26), (350.0, 40.7225)],
)
def test_hadlock_formula_values(hc_mm: float, weeks: float) -> None:
    assert hadlock_ga_weeks(hc_mm) == pytest.approx(weeks, abs=1e-9)


@pytest.mark.parametrize(
    ("hc_cm", "weeks"),
    # Menstrual age for HC as tabulated from Hadlock's data (medicalalgorithms.com, "from
    # Hadlock (1984)"); the regression's 2 SD is 1-3 weeks, so agreement within 1.2 weeks.
    [(9.7, 14.0), (13.8, 17.0), (17.7, 20.0), (22.4, 24.0), (28.4, 30.0), (34.6, 40.0)],
)
def test_hadlock_agrees_with_published_table(hc_cm: float, weeks: float) -> None:
    estimate = hadlock_ga_weeks(hc_cm * 10.0)
    assert estimate is not None
    assert estimate == pytest.approx(weeks, abs=1.2)


def test_hadlock_outside_its_study_range_is_none() -> None:
    assert hadlock_ga_weeks(70.0) is None  # about 13 weeks
    assert hadlock_ga_weeks(370.0) is None  # about 44 weeks
    assert hadlock_ga_weeks(90.0) is not None


def test_too_little_outline_gives_no_biometry() -> None:
    # A "head" filling the image but for its corner pixels: an ellipse through the four corners
    # would be pure extrapolation.
    mask = np.ones((540, 800), bool)
    mask[0, 0] = mask[0, -1] = mask[-1, 0] = mask[-1, -1] = False
    assert head_biometry(mask, (0.1, 0.1)) is None
    assert head_biometry(np.ones((50, 50), bool), (0.1, 0.1)) is None


def _ellipse_polygon(cx: float, cy: float, a: float, b: float, n: int = 400) -> list:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return list(zip(cx + a * np.cos(t), cy + b * np.sin(t), strict=True))


def test_reviewed_biometry_measures_only_a_kept_head_outline() -> None:
    from napari_fada.core.biometry import ellipse_perimeter, reviewed_head_biometry
    from napari_fada.core.proposal import Annotation

    big = Annotation("head", polygon=_ellipse_polygon(200, 150, 120, 80), status="proposed")
    small = Annotation("head", polygon=_ellipse_polygon(200, 150, 60, 40), status="accepted")
    brain = Annotation("Brain", polygon=_ellipse_polygon(200, 150, 150, 100), status="accepted")
    annotations = [big, small, brain]
    spacing = (0.2, 0.2)
    kept = reviewed_head_biometry(annotations, 400, 300, spacing)
    assert kept["hc_mm"] == pytest.approx(ellipse_perimeter(60 * 0.2, 40 * 0.2), rel=0.02)
    assert kept["bpd_mm"] == pytest.approx(2 * 40 * 0.2, rel=0.03)
    assert kept["ofd_mm"] == pytest.approx(2 * 60 * 0.2, rel=0.03)
    with_proposed = reviewed_head_biometry(annotations, 400, 300, spacing, ("accepted", "proposed"))
    assert with_proposed["hc_mm"] == pytest.approx(ellipse_perimeter(24, 16), rel=0.02)
    assert reviewed_head_biometry(annotations, 400, 300, None) == {}
    assert reviewed_head_biometry([big], 400, 300, spacing) == {}


def test_biometry_reads_as_a_clinician_writes_it() -> None:
    from napari_fada.core.biometry import format_biometry

    text = format_biometry({"hc_mm": 172.34, "bpd_mm": 46.07, "ofd_mm": 62.0, "ga_weeks": 20.43})
    assert text == "HC 172.3 mm · BPD 46.1 mm · OFD 62.0 mm · GA 20w3d (Hadlock 1984)"
    assert format_biometry({"ga_weeks": 20.97}) == "GA 21w0d (Hadlock 1984)"
