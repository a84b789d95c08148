"""Turn a drawn echogenicity map into a plausible B-mode ultrasound image.

The scene is sampled onto the probe's polar grid (depth x beam angle) where the physics is
simple: fully developed speckle is the magnitude of a spatially correlated complex Gaussian field
(Rayleigh distributed, elongated across the beam), strong reflectors such as bone shadow
everything deeper on the same beam line, echoes fade with depth and time-gain compensation
partly restores them. The result is scan-converted back to the image grid inside the sector fan
and log-compressed to 8 bits, as a scanner displays it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Speckle correlation lengths in polar grid cells (along the beam, across beams).
SPECKLE_SIGMA = (1.8, 3.0)
DYNAMIC_RANGE_DB = 48.0


@dataclass(frozen=True)
class Probe:
    """A sector probe: beams fan out from ``apex`` (x, y pixels, may lie above the image)."""

    apex: tuple[float, float]
    half_angle_deg: float
    r_min: float
    r_max: float
    n_depths: int = 480
    n_beams: int = 360

    def polar_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Image (y, x) coordinates of every polar cell, each of shape (n_depths, n_beams)."""
        r = np.linspace(self.r_min, self.r_max, self.n_depths)[:, None]
        theta = np.deg2rad(np.linspace(-self.half_angle_deg, self.half_angle_deg, self.n_beams))
        return self.apex[1] + r * np.cos(theta), self.apex[0] + r * np.sin(theta)

    def polar_index(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every image pixel: fractional (depth, beam) cell indices and an inside-fan mask."""
        yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
        dx, dy = xx - self.apex[0], yy - self.apex[1]
        r = np.hypot(dx, dy)
        theta = np.rad2deg(np.arctan2(dx, dy))
        depth = (r - self.r_min) / (self.r_max - self.r_min) * (self.n_depths - 1)
        beam = (theta + self.half_angle_deg) / (2 * self.half_angle_deg) * (self.n_beams - 1)
        inside = (depth >= 0) & (depth <= self.n_depths - 1) & (beam >= 0)
        inside &= beam <= self.n_beams - 1
        return depth, beam, inside


#: Independent looks averaged per pixel, as spatial compounding does on modern scanners: it
#: keeps the Rayleigh texture but fills the deepest nulls.
COMPOUND_LOOKS = 3


def speckle_noise(probe: Probe, rng: np.random.Generator) -> np.ndarray:
    """White complex Gaussian noise (unit variance), one polar grid per look."""
    shape = (COMPOUND_LOOKS, probe.n_depths, probe.n_beams)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


def rayleigh_speckle(noise: np.ndarray) -> np.ndarray:
    """Correlated, compounded speckle amplitude with unit mean from white complex noise."""
    sigma = (0, *SPECKLE_SIGMA)
    real = ndimage.gaussian_filter(noise.real, sigma)
    imag = ndimage.gaussian_filter(noise.imag, sigma)
    amplitude = np.sqrt(np.mean(real**2 + imag**2, axis=0))
    return amplitude / amplitude.mean()


def smooth_texture(
    shape: tuple[int, int], sigma: float, rng: np.random.Generator, low: float, high: float
) -> np.ndarray:
    """Low-frequency tissue variation scaled into ``low..high``."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    field = (field - field.min()) / (np.ptp(field) or 1.0)
    return low + (high - low) * field


def render_scan(
    echo: np.ndarray,
    reflectors: np.ndarray,
    probe: Probe,
    noise: np.ndarray,
    attenuation_db: float = 20.0,
    tgc_db: float = 14.0,
    shadow_strength: float = 0.035,
) -> np.ndarray:
    """An 8-bit B-mode image of the scene.

    ``echo`` is the mean displayed brightness (0..1, log scale: 0.5 is half the dynamic range
    below full scale) and ``reflectors`` the strength of bone-like interfaces (0..1).
    ``noise`` comes from :func:`speckle_noise` (pass correlated noise fields to make a cine
    whose speckle evolves smoothly).
    """
    ys, xs = probe.polar_grid()
    echo_polar = ndimage.map_coordinates(
        ndimage.gaussian_filter(echo, 1.5), [ys, xs], order=1, mode="nearest"
    )
    refl_polar = ndimage.map_coordinates(reflectors, [ys, xs], order=1, mode="constant")
    passed = np.cumsum(refl_polar, axis=0) - refl_polar  # what lies between probe and cell
    shadow = np.exp(-shadow_strength * passed)
    depth = np.linspace(0.0, 1.0, probe.n_depths)[:, None]
    decibels = (echo_polar - 1.0) * DYNAMIC_RANGE_DB - (attenuation_db - tgc_db) * depth
    intensity = 10 ** (decibels / 20) * shadow * rayleigh_speckle(noise)

    depth_idx, beam_idx, inside = probe.polar_index(echo.shape)
    image = ndimage.map_coordinates(intensity, [depth_idx, beam_idx], order=1, mode="nearest")
    decibels = 20 * np.log10(np.maximum(image, 1e-6))
    display = np.clip(1 + decibels / DYNAMIC_RANGE_DB, 0, 1) * 255
    display = ndimage.gaussian_filter(display, 1.0) * inside
    return np.round(display).astype(np.uint8)
