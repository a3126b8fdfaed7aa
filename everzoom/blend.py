"""Where each inner image meets the outer one: decided once per layer, from the two images.

Two bands, handled each the way that hides its step at the least cost in detail:
- Coarse (colour, brightness): where the two low-pass images differ along an edge by more
  than COLOUR_OK grey levels, the inner image's border is shifted towards the outer image's
  low-pass colours, fading from the full shift at the edge to none at a depth that grows with
  the step (up to COARSE_WIDTH of the side). Only the low-pass offset moves, so the inner
  image keeps all its detail; the result is the layer's blended picture (`pixels`).
- Fine (detail): along each side, at each depth from the edge, how differently the two images'
  detail runs is measured in a Laplacian band at the outer image's resolution (the finest it
  renders reliably), above the pair's baseline (resampling, compression, a palette that looks
  different zoomed out). Outpainters redraw near the border, so the excess is largest there.
  Where it exceeds AGREE at the edge the side is marked as disagreeing (`depths`: how far in
  it does), and the renderer crosses the detail over a few pixels of the frame there (--seam-
  width, centred on the edge); where the two agree, the inner image's detail reaches to within
  2 of its pixels of its edge.
The fine transition is kept in frame pixels, not precomputed in the layer's own, because a
layer is seen at every scale: a width fixed in its pixels would be a hard edge when the layer
is small in the frame and a wide, soft band (lost detail) when it fills it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

COARSE_WIDTH = 0.12      # the widest colour transition, a fraction of the shorter side
COLOUR_OK, COLOUR_BAD = 8.0, 16.0  # grey levels of colour step along an edge: up to COLOUR_OK none is made;
                                   # from COLOUR_BAD up, it crosses over the full COARSE_WIDTH
BAND_STEP = 2            # depth bins of the disagreement profile, in pixels of the band measured
AGREE = 0.2              # excess disagreement below this counts as agreeing
BASELINE_QUANTILE = 0.25  # the pair's baseline disagreement: this quantile over all depths and sides
SIDES = ("left", "top", "right", "bottom")


@dataclass
class Blend:
    """One layer's meeting with the layer behind it."""

    pixels: np.ndarray | None                   # RGB uint8: the image, its border's colours eased (None: no need)
    insets: tuple[int, int, int, int]           # px from the left, top, right, bottom edge within which it differs
    depths: tuple[float, float, float, float]   # how deep the detail disagrees per side, px (0: it agrees)
    colour: tuple[float, float, float, float]   # the colour transition's depth per side, px
    disagreement: tuple[float, float, float, float]  # excess disagreement at each edge (0: agrees)

    @property
    def seams(self) -> tuple[bool, bool, bool, bool]:
        """Per side, whether the detail disagrees (the renderer then crosses it over a few pixels)."""
        return tuple(d > 0 for d in self.depths)

    def as_dict(self) -> dict:
        return {side: {"detail_disagrees_px": round(d, 1), "disagreement": round(e, 3),
                       "colour_transition_px": round(c, 1)}
                for side, d, c, e in zip(SIDES, self.depths, self.colour, self.disagreement, strict=True)}


def outer_on_inner_grid(outer: np.ndarray, inner_shape: tuple[int, int], matrix: np.ndarray) -> np.ndarray:
    """The outer image resampled onto the inner image's pixel grid; `matrix` (2x3) maps inner
    pixel indices to outer pixel indices."""
    h, w = inner_shape
    return cv2.warpAffine(outer, matrix.astype(np.float64), (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def detail_band(image: np.ndarray, level: int) -> np.ndarray:
    """Band `level` of the grey image's Laplacian pyramid: detail of about 2**level pixels."""
    current = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for _ in range(level):
        current = cv2.pyrDown(current)
    return current - cv2.pyrUp(cv2.pyrDown(current), dstsize=(current.shape[1], current.shape[0]))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def edge_ramp(shape: tuple[int, int], widths: tuple[float, ...]) -> np.ndarray:
    """0 at each edge, 1 from `widths[side]` px in (left, top, right, bottom; 0: 1 right at the
    edge); separable, a product of a column and a row ramp."""
    h, w = shape
    x, y = np.arange(w) + 0.5, np.arange(h) + 0.5
    wl, wt, wr, wb = widths

    def ramp(d: np.ndarray, width: float) -> np.ndarray:
        return _smoothstep(d / width) if width > 0 else np.ones_like(d)
    cols = np.minimum(ramp(x, wl), ramp(w - x, wr))
    rows = np.minimum(ramp(y, wt), ramp(h - y, wb))
    return np.outer(rows, cols).astype(np.float32)


def _strip(array: np.ndarray, side: int, start: int, stop: int, margin: int) -> np.ndarray:
    """The part of an array between depths start and stop from one side, corners left out."""
    h, w = array.shape[:2]
    if side == 0:
        return array[margin:h - margin, start:stop]
    if side == 1:
        return array[start:stop, margin:w - margin]
    if side == 2:
        return array[margin:h - margin, w - stop:w - start]
    return array[h - stop:h - start, margin:w - margin]


def _disagreement(a: np.ndarray, b: np.ndarray) -> float:
    """0 for the same detail, 1 for unrelated detail of equal strength, 2 for opposite."""
    a = a - a.mean()
    b = b - b.mean()
    energy = float((a * a).sum() + (b * b).sum())
    return float(((a - b) ** 2).sum()) / energy if energy > 1e-3 else 0.0


def disagreement_profile(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per side, the disagreement of two detail bands at depths 0, BAND_STEP, ... up to half
    the side, each smoothed with its neighbours."""
    h, w = a.shape
    margin = max(1, min(h, w) // 8)
    bins = max(1, (min(h, w) // 2) // BAND_STEP)
    profile = np.array([[_disagreement(_strip(a, s, j * BAND_STEP, (j + 1) * BAND_STEP, margin),
                                       _strip(b, s, j * BAND_STEP, (j + 1) * BAND_STEP, margin))
                         for j in range(bins)] for s in range(4)])
    return np.stack([np.convolve(np.pad(p, 1, mode="edge"), np.ones(3) / 3, mode="valid") for p in profile])


def disagreeing_depths(profile: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Per side: how deep (image px, `scale` of them per profile pixel) the detail disagrees
    beyond the pair's baseline, contiguously from the edge; and the excess disagreement at the
    edge."""
    excess = profile - float(np.quantile(profile, BASELINE_QUANTILE))
    depths = np.zeros(4)
    for s in range(4):
        agree = excess[s] <= AGREE
        run = int(np.argmax(agree)) if agree.any() else excess.shape[1]
        depths[s] = run * BAND_STEP * scale
    return depths, excess[:, 0]


def colour_offset(inner: np.ndarray, outer_seen: np.ndarray, sigma: float) -> np.ndarray:
    """The outer image's low-pass colours minus the inner's (float32, h x w x 3)."""
    blur = lambda im: cv2.GaussianBlur(im.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    return blur(outer_seen) - blur(inner)


def differing_insets(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int]:
    """How far in from each side (left, top, right, bottom) two same-sized pictures differ:
    outside the rectangle these insets leave, they are equal."""
    h, w = a.shape[:2]
    differ = np.any(a != b, axis=2)
    rows, cols = differ[h // 4:h - h // 4], differ[:, w // 4:w - w // 4]
    hit_cols, hit_rows = np.flatnonzero(rows.any(axis=0)), np.flatnonzero(cols.any(axis=1))
    left = int(hit_cols[hit_cols < w // 2].max() + 1) if (hit_cols < w // 2).any() else 0
    right = int(w - hit_cols[hit_cols >= w // 2].min()) if (hit_cols >= w // 2).any() else 0
    top = int(hit_rows[hit_rows < h // 2].max() + 1) if (hit_rows < h // 2).any() else 0
    bottom = int(h - hit_rows[hit_rows >= h // 2].min()) if (hit_rows >= h // 2).any() else 0
    return left, top, right, bottom


def blend(inner: np.ndarray, outer_seen: np.ndarray, zoom: float) -> Blend:
    """How the inner image meets the outer one (already on the inner's grid, see
    outer_on_inner_grid), `zoom` times wider."""
    h, w = inner.shape[:2]
    side = min(h, w)
    cap = COARSE_WIDTH * side
    # the finest band the outer image renders reliably: one octave below its own resolution
    level = max(0, min(int(math.log2(max(side, 16) / 16)), int(math.floor(math.log2(zoom) + 0.5)) + 1))
    profile = disagreement_profile(detail_band(inner, level), detail_band(outer_seen, level))
    depths, edge = disagreeing_depths(profile, 2 ** level)
    offset = colour_offset(inner, outer_seen, cap / 4)
    steps = np.array([float(np.abs(_strip(offset, s, 0, 2, side // 8).reshape(-1, 3).mean(axis=0)).max())
                      for s in range(4)])
    colour = cap * np.clip((steps - COLOUR_OK) / (COLOUR_BAD - COLOUR_OK), 0, 1)
    pixels, insets = None, (0, 0, 0, 0)
    if colour.any():
        eased = inner.astype(np.float32) + (1 - edge_ramp((h, w), tuple(colour)))[:, :, None] * offset
        pixels = np.clip(eased + 0.5, 0, 255).astype(np.uint8)
        insets = differing_insets(pixels, inner)
    return Blend(pixels, insets, tuple(float(d) for d in depths), tuple(float(c) for c in colour),
                 tuple(float(e) for e in edge))
