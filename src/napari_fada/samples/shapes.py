"""Exact shapes the synthetic scenes are drawn from, so their ground truth is known exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _rotated_coords(
    shape: tuple[int, int], center: tuple[float, float], angle_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u along the rotated x axis, v across it) relative to ``center``."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    dx, dy = xx - center[0], yy - center[1]
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return dx * cos + dy * sin, -dx * sin + dy * cos


@dataclass(frozen=True)
class Ellipse:
    """Centre (x, y) in pixels, semi-axes ``a`` (along ``angle_deg``) and ``b``, in pixels."""

    cx: float
    cy: float
    a: float
    b: float
    angle_deg: float = 0.0

    def perimeter(self) -> float:
        """Ramanujan's second approximation (the HC18 challenge's circumference formula)."""
        h = ((self.a - self.b) / (self.a + self.b)) ** 2
        return math.pi * (self.a + self.b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))

    def radius(self, shape: tuple[int, int]) -> np.ndarray:
        """Normalized radius: 1 on the ellipse, below 1 inside."""
        u, v = _rotated_coords(shape, (self.cx, self.cy), self.angle_deg)
        return np.sqrt((u / self.a) ** 2 + (v / self.b) ** 2)

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        return self.radius(shape) <= 1.0

    def ring(self, shape: tuple[int, int], thickness: float) -> np.ndarray:
        """A band of about ``thickness`` pixels just inside the ellipse (a skull, a contour)."""
        radius = self.radius(shape)
        return (radius <= 1.0) & (radius >= 1.0 - thickness / min(self.a, self.b))

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> Ellipse:
        """The same ellipse resized by ``factor`` and moved by (dx, dy)."""
        return Ellipse(self.cx + dx, self.cy + dy, self.a * factor, self.b * factor, self.angle_deg)

    def point(self, u: float, v: float) -> tuple[float, float]:
        """Image (x, y) of the point at fractions (u, v) of the semi-axes in the ellipse frame."""
        cos, sin = math.cos(math.radians(self.angle_deg)), math.sin(math.radians(self.angle_deg))
        du, dv = u * self.a, v * self.b
        return self.cx + du * cos - dv * sin, self.cy + du * sin + dv * cos


@dataclass(frozen=True)
class RotatedBox:
    """A rectangle centred at (cx, cy) with half-sizes along and across ``angle_deg``."""

    cx: float
    cy: float
    half_length: float
    half_width: float
    angle_deg: float = 0.0

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        u, v = _rotated_coords(shape, (self.cx, self.cy), self.angle_deg)
        return (np.abs(u) <= self.half_length) & (np.abs(v) <= self.half_width)


def line_mask(
    shape: tuple[int, int], start: tuple[float, float], end: tuple[float, float], width: float
) -> np.ndarray:
    """Pixels within ``width / 2`` of the segment from ``start`` to ``end`` (x, y)."""
    cx, cy = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    angle = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
    return RotatedBox(cx, cy, length / 2, width / 2, angle).mask(shape)
