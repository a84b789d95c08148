"""Synthetic fetal ultrasound scenes with exact ground truth, for demos, tests and sample data.

Each scene is drawn from known shapes (:mod:`napari_fada.samples.shapes`) and rendered as a
B-mode scan (:mod:`napari_fada.samples.scan`), so its label mask, plane and head circumference
are known exactly. Everything is deterministic for a given seed. Label ids follow the shared
data's ``labels.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from napari_fada.samples.scan import Probe, render_scan, smooth_texture, speckle_noise
from napari_fada.samples.shapes import Ellipse, RotatedBox, line_mask

#: Label ids in mask images, as in the shared data's labels.json.
LABEL_IDS: dict[str, int] = {
    "pubic_symphysis": 1, "fetal_head": 2, "head": 3, "Brain": 4, "CSP": 5, "LV": 6,
}  # fmt: skip


@dataclass(frozen=True)
class SyntheticSample:
    """One still image and its ground truth (``mask`` holds :data:`LABEL_IDS`)."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    structures: tuple[str, ...]
    plane: str
    fada_plane_label: str
    pixel_spacing_mm: tuple[float, float]
    head_circumference_mm: float | None
    seed: int


@dataclass(frozen=True)
class SyntheticClip:
    """A (T, Y, X) cine sweep with a mask and a true head circumference per frame."""

    name: str
    frames: np.ndarray
    masks: np.ndarray
    structures: tuple[str, ...]
    plane: str
    fada_plane_label: str
    pixel_spacing_mm: tuple[float, float]
    frame_interval_ms: float
    head_circumference_mm: tuple[float, ...]
    seed: int


class _Canvas:
    """Echogenicity, bone reflectors and labels of a scene, painted region by region."""

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator) -> None:
        self.shape = shape
        self.rng = rng
        self.echo = smooth_texture(shape, 18.0, rng, 0.35, 0.6)
        self.reflectors = np.zeros(shape)
        self.labels = np.zeros(shape, np.uint8)

    def paint(self, region: np.ndarray, echo: float | np.ndarray, reflect: float = 0.0) -> None:
        self.echo[region] = echo[region] if isinstance(echo, np.ndarray) else echo
        self.reflectors[region] = reflect

    def label(self, region: np.ndarray, structure: str) -> None:
        self.labels[region] = LABEL_IDS[structure]


def _draw_skull(canvas: _Canvas, skull: Ellipse, thickness: float, brain_echo: float) -> None:
    """Brain parenchyma inside a bright, shadowing skull."""
    texture = smooth_texture(canvas.shape, 6.0, canvas.rng, 0.8, 1.2)
    canvas.paint(skull.mask(canvas.shape), texture * brain_echo)
    ring = skull.ring(canvas.shape, thickness)
    yy, xx = np.mgrid[: canvas.shape[0], : canvas.shape[1]]
    facing_probe = np.abs(yy - skull.cy) / np.maximum(np.hypot(xx - skull.cx, yy - skull.cy), 1)
    canvas.paint(ring, 0.78 + 0.2 * facing_probe, reflect=1.0)  # brightest where hit head-on


def _draw_cyst(canvas: _Canvas, box: RotatedBox, wall: float = 4.0) -> None:
    """A fluid-filled box (CSP, ventricle) with echogenic walls."""
    outer = RotatedBox(box.cx, box.cy, box.half_length + wall, box.half_width + wall, box.angle_deg)
    canvas.paint(outer.mask(canvas.shape), 0.7)
    canvas.paint(box.mask(canvas.shape), 0.1)


def _draw_head_plane(canvas: _Canvas, head: Ellipse) -> None:
    """A trans-thalamic section: fluid around the head, skull, midline, CSP and thalami."""
    canvas.paint(head.scaled(1.3).mask(canvas.shape), 0.1)
    _draw_skull(canvas, head, thickness=0.06 * head.b, brain_echo=0.35)
    start, end = head.point(-0.9, 0.0), head.point(0.9, 0.0)
    canvas.paint(line_mask(canvas.shape, start, end, 0.015 * head.b), 0.7)
    csp_x, csp_y = head.point(-0.38, 0.0)
    csp = RotatedBox(csp_x, csp_y, 0.1 * head.a, 0.045 * head.b, head.angle_deg)
    _draw_cyst(canvas, csp, wall=0.015 * head.b)
    for side in (-1, 1):
        x, y = head.point(0.08, 0.2 * side)
        thalamus = Ellipse(x, y, 0.16 * head.a, 0.1 * head.b, head.angle_deg - 20 * side)
        canvas.paint(thalamus.mask(canvas.shape), 0.22)
    canvas.label(head.mask(canvas.shape), "head")


def head_plane(seed: int = 0) -> SyntheticSample:
    """An 800x540 trans-thalamic head plane (HC18-like) with its true head circumference."""
    rng = np.random.default_rng(seed)
    shape, spacing = (540, 800), 0.12
    head = Ellipse(
        400 + rng.uniform(-25, 25), 280 + rng.uniform(-10, 10), 255, 195, rng.uniform(-15, 15)
    )
    canvas = _Canvas(shape, rng)
    _draw_head_plane(canvas, head)
    probe = Probe(apex=(400, -260), half_angle_deg=38, r_min=275, r_max=850)
    image = render_scan(canvas.echo, canvas.reflectors, probe, speckle_noise(probe, rng))
    return SyntheticSample(
        name="synthetic_head_plane",
        image=image,
        mask=canvas.labels,
        structures=("head",),
        plane="trans-thalamic",
        fada_plane_label="BPD_PLANE",
        pixel_spacing_mm=(spacing, spacing),
        head_circumference_mm=head.perimeter() * spacing,
        seed=seed,
    )


def pelvimetry_view(seed: int = 1) -> SyntheticSample:
    """A 256x256 transperineal view (PSFHS-like): pubic symphysis and fetal head."""
    rng = np.random.default_rng(seed)
    shape, spacing = (256, 256), 0.3
    canvas = _Canvas(shape, rng)
    fetal_head = Ellipse(
        160 + rng.uniform(-8, 8), 158 + rng.uniform(-6, 6), 76, 63, 20 + rng.uniform(-10, 10)
    )
    _draw_skull(canvas, fetal_head, thickness=5, brain_echo=0.3)
    symphysis = Ellipse(62 + rng.uniform(-5, 5), 68, 38, 9, -25 + rng.uniform(-8, 8))
    canvas.paint(symphysis.mask(shape), 0.8, reflect=0.5)
    canvas.label(fetal_head.mask(shape), "fetal_head")
    canvas.label(symphysis.mask(shape), "pubic_symphysis")
    probe = Probe(apex=(128, -60), half_angle_deg=42, r_min=72, r_max=330, n_depths=300)
    image = render_scan(canvas.echo, canvas.reflectors, probe, speckle_noise(probe, rng))
    return SyntheticSample(
        name="synthetic_pelvimetry_view",
        image=image,
        mask=canvas.labels,
        structures=("pubic_symphysis", "fetal_head"),
        plane="transperineal",
        fada_plane_label="",
        pixel_spacing_mm=(spacing, spacing),
        head_circumference_mm=None,
        seed=seed,
    )


def brain_plane(seed: int = 2) -> SyntheticSample:
    """A 959x661 trans-ventricular plane: Brain region, CSP and LV as small rotated boxes."""
    rng = np.random.default_rng(seed)
    shape, spacing = (661, 959), 0.1
    canvas = _Canvas(shape, rng)
    brain = Ellipse(480, 290, 345, 248, rng.uniform(-4, 4))
    canvas.paint(brain.scaled(1.25).mask(shape), 0.06)
    _draw_skull(canvas, brain.scaled(1.045), thickness=0.045 * brain.b, brain_echo=0.32)
    canvas.paint(line_mask(shape, brain.point(-0.95, 0), brain.point(0.95, 0), 3), 0.5)
    csp = RotatedBox(*brain.point(0.25, -0.05), 37, 16, brain.angle_deg - 10)
    lv = RotatedBox(*brain.point(-0.55, 0.34), 42, 24, brain.angle_deg + 10)
    _draw_cyst(canvas, csp)
    _draw_cyst(canvas, lv)
    plexus = Ellipse(lv.cx + 8, lv.cy, 26, 15, lv.angle_deg)
    canvas.paint(plexus.mask(shape), 0.5)
    canvas.label(brain.mask(shape), "Brain")
    canvas.label(csp.mask(shape), "CSP")
    canvas.label(lv.mask(shape), "LV")
    probe = Probe(apex=(480, -420), half_angle_deg=36, r_min=425, r_max=1110)
    image = render_scan(canvas.echo, canvas.reflectors, probe, speckle_noise(probe, rng))
    return SyntheticSample(
        name="synthetic_brain_plane",
        image=image,
        mask=canvas.labels,
        structures=("Brain", "CSP", "LV"),
        plane="trans-ventricular",
        fada_plane_label="BPD_PLANE",
        pixel_spacing_mm=(spacing, spacing),
        head_circumference_mm=None,
        seed=seed,
    )


def cine_clip(seed: int = 3, n_frames: int = 24) -> SyntheticClip:
    """A 400x300 sweep: the head section drifts across and grows then shrinks as the probe
    passes through its widest plane; the speckle decorrelates gradually between frames."""
    rng = np.random.default_rng(seed)
    shape, spacing = (300, 400), 0.2
    base = Ellipse(200, 150, 108, 84, rng.uniform(-15, 15))
    probe = Probe(apex=(200, -150), half_angle_deg=40, r_min=155, r_max=470, n_depths=320)
    noise_a, noise_b = speckle_noise(probe, rng), speckle_noise(probe, rng)
    frames, masks, circumferences = [], [], []
    for t in range(n_frames):
        s = t / max(n_frames - 1, 1)
        head = base.scaled(0.8 + 0.2 * math.sin(math.pi * s), -30 + 60 * s, 10 * math.sin(2 * s))
        canvas = _Canvas(shape, np.random.default_rng(seed))
        _draw_head_plane(canvas, head)
        phase = 0.5 * math.pi * s
        noise = math.cos(phase) * noise_a + math.sin(phase) * noise_b
        frames.append(render_scan(canvas.echo, canvas.reflectors, probe, noise))
        masks.append(canvas.labels)
        circumferences.append(head.perimeter() * spacing)
    return SyntheticClip(
        name="synthetic_cine_sweep",
        frames=np.stack(frames),
        masks=np.stack(masks),
        structures=("head",),
        plane="trans-thalamic",
        fada_plane_label="BPD_PLANE",
        pixel_spacing_mm=(spacing, spacing),
        frame_interval_ms=40.0,
        head_circumference_mm=tuple(circumferences),
        seed=seed,
    )
