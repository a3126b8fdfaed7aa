"""A natural-looking test scene: octaves of smooth lattice noise through a shaded palette.

Each octave i is a cubic B-spline through random values on a lattice 2**-i world units apart
(hashed from the seed, the octave and the lattice point, so any window of the world is the same
scene), all octaves with equal amplitude (the 1/f^2 spectrum of natural images). A camera with
pixel p sees octaves up to half its Nyquist frequency (the top one fading in), averages 2 x 2
samples per pixel and colours them through a palette with relief shading: a finer picture
shrunk is not the coarser picture, as in real outpainted series, and the texture is organic, not
the straight stripes of plane waves. Used where realism matters more than exact pixels
(registration and sorting); scene.py keeps the exact ground truth for rendering tests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _hash_normal(seed: int, octave: int, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Deterministic standard normal values for lattice points (splitmix64, Box-Muller)."""
    with np.errstate(over="ignore"):
        key = (np.uint64(seed * 1000003 + octave * 7919 + 17) * _M1
               + ix.astype(np.int64).astype(np.uint64)[None, :] * _M2
               + iy.astype(np.int64).astype(np.uint64)[:, None] * _M3)
        out = []
        for salt in (np.uint64(1), np.uint64(2)):
            z = key + salt * _M1
            z = (z ^ (z >> np.uint64(30))) * _M2
            z = (z ^ (z >> np.uint64(27))) * _M3
            z = z ^ (z >> np.uint64(31))
            out.append(((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0 ** 53)
    u1, u2 = out
    return np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)


def _bspline(t: np.ndarray, derivative: bool = False) -> np.ndarray:
    """Cubic B-spline weights (n, 4) of the lattice points floor-1 .. floor+2 at fraction t."""
    t = t[:, None]
    if derivative:
        return np.hstack([-(1 - t) ** 2 / 2, (3 * t ** 2 - 4 * t) / 2, (-3 * t ** 2 + 2 * t + 1) / 2, t ** 2 / 2])
    return np.hstack([(1 - t) ** 3, 3 * t ** 3 - 6 * t ** 2 + 4, -3 * t ** 3 + 3 * t ** 2 + 3 * t + 1, t ** 3]) / 6


def _axis(coords: np.ndarray, spacing: float, derivative: bool = False):
    """Interpolation matrix (len(coords), n) over the lattice points it needs, and their indices."""
    pos = coords / spacing
    base = np.floor(pos).astype(np.int64)
    first = base.min() - 1
    index = np.arange(first, base.max() + 3)
    weights = _bspline(pos - base, derivative)
    matrix = np.zeros((len(coords), len(index)))
    rows = np.arange(len(coords))[:, None]
    matrix[rows, base[:, None] - first + np.arange(-1, 3)[None, :]] = weights
    return matrix, index


@dataclass
class NoiseScene:
    seed: int = 0
    min_octave: int = -5
    max_octave: int = 14
    fresh: dict = field(default_factory=dict)  # octave -> seed of octaves redrawn (see reseeded)

    def reseeded(self, above: float, seed: int) -> "NoiseScene":
        """The same scene with new detail in the octaves finer than `above` cycles per unit."""
        fresh = {i: seed for i in range(self.min_octave, self.max_octave + 1) if 2.0 ** i > above}
        return NoiseScene(self.seed, self.min_octave, self.max_octave, fresh)

    def _fields(self, xs: np.ndarray, ys: np.ndarray, cutoff: float) -> np.ndarray:
        """Four fields (palette position x3, relief height) and the relief's slope, (h, w, 5)."""
        out = np.zeros((len(ys), len(xs), 5))
        for i in range(self.min_octave, self.max_octave + 1):
            weight = float(np.clip(cutoff - i, 0.0, 1.0))
            if weight <= 0:
                continue
            spacing = 2.0 ** -i
            ax, ix = _axis(xs, spacing)
            ay, iy = _axis(ys, spacing)
            seed = self.fresh.get(i, self.seed)
            for c in range(4):
                values = _hash_normal(seed * 4 + c, i, ix, iy)
                out[:, :, c] += weight * (ay @ values @ ax.T)
                if c == 3:  # the slope towards the light, in lattice units: each octave alike
                    dx, _ = _axis(xs, spacing, derivative=True)
                    dy, _ = _axis(ys, spacing, derivative=True)
                    out[:, :, 4] += weight * (0.6 * (ay @ values @ dx.T) + 0.8 * (dy @ values @ ax.T))
        return out

    def image(self, cx: float, cy: float, width: float, w: int, h: int) -> np.ndarray:
        """RGB uint8 picture of the world rectangle centred at (cx, cy), `width` wide."""
        pixel = width / w
        cutoff = math.log2(0.5 / pixel)  # the finest lattice 2 pixels apart: detail of a few pixels
        sub = (np.array([0.25, 0.75]))
        xs = (cx + (np.arange(w)[:, None] + sub[None, :] - w / 2) * pixel).ravel()
        ys = (cy + (np.arange(h)[:, None] + sub[None, :] - h / 2) * pixel).ravel()
        f = self._fields(xs, ys, cutoff)
        n = math.sqrt(self.max_octave - self.min_octave + 1) * 0.45
        mixed = np.stack([f[..., 0] + 0.5 * f[..., 1], f[..., 1] - 0.4 * f[..., 2], f[..., 2] + 0.3 * f[..., 0]], -1) / n
        shade = 1.0 + 0.3 * np.tanh(f[..., 4:5] / n)
        rgb = (np.array([120.0, 118.0, 110.0]) + 80.0 * np.tanh(mixed)) * shade
        rgb = rgb.reshape(h, 2, w, 2, 3).mean(axis=(1, 3))
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
