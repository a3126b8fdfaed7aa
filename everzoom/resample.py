"""Exact-scale, sub-pixel resampling of an image by an axis-aligned scale and offset.

`cv2.resize` with an explicit fx (no output size) scales by exactly fx, several times faster
than `cv2.warpAffine` (bicubic to enlarge, bilinear after the anti-alias blur to shrink), but it places its output on a whole-pixel grid of the
region it reads. Per axis, the sub-pixel rest of the offset is met by choosing the region's
integer start and how many output pixels to skip, to within TOLERANCE output pixels (a search
over SEARCH candidates). Where no candidate is close enough (a scale that is a ratio of small
whole numbers), the rest goes into a separable pre-filter instead: a Lanczos-3 kernel shifted by
the fraction, convolved with the anti-alias Gaussian (`cv2.sepFilter2D`, slower, so rare).
cv2.resize copies instead of resampling when the output size rounds to the input size, so
scales that close to 1 (other than 1 itself) go through cv2.warpAffine.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

SEARCH = 256         # candidate output offsets per axis
TOLERANCE = 0.01     # largest accepted position error, output pixels
CUBIC_SUPPORT = 2    # source pixels bicubic reads on each side
LANCZOS = 3


def _aligned(t: float, s: float, margin: int) -> tuple[int, int] | None:
    """Integer source start u0 and output skip d with output pixel k sampling source (k - t)/s
    exactly enough: cv2.resize maps its output i to u0 + (i + 0.5)/s - 0.5, with k = i - d."""
    first = math.ceil(margin * s)
    d = np.arange(first, first + SEARCH)
    exact = (-t - d - 0.5) / s + 0.5
    good = np.flatnonzero(np.abs(exact - np.round(exact)) * s <= TOLERANCE)
    if not good.size:
        return None
    k = good[0]  # the fewest skipped output pixels: least extra work
    return int(round(exact[k])), int(d[k])


def shift_kernel(fraction: float, blur: float) -> np.ndarray:
    """Taps k[m], m = -r..r, with sum k[m] src[j + m] = (src blurred by `blur`) at j + fraction."""
    m = np.arange(-LANCZOS, LANCZOS + 1) - fraction
    lanczos = np.where(np.abs(m) < LANCZOS, np.sinc(m) * np.sinc(m / LANCZOS), 0.0)  # windowed: zero outside
    if blur > 0:
        r = math.ceil(3 * blur)
        g = np.exp(-0.5 * (np.arange(-r, r + 1) / blur) ** 2)
        lanczos = np.convolve(g / g.sum(), lanczos)
    return (lanczos / lanczos.sum()).astype(np.float32)


def _region(source: np.ndarray, v0: int, ly: int, u0: int, lx: int) -> np.ndarray:
    """source[v0:v0+ly, u0:u0+lx], with the border replicated where it reaches outside."""
    h, w = source.shape[:2]
    if 0 <= v0 and v0 + ly <= h and 0 <= u0 and u0 + lx <= w:
        return source[v0:v0 + ly, u0:u0 + lx]
    ys = np.clip(np.arange(v0, v0 + ly), 0, h - 1)
    xs = np.clip(np.arange(u0, u0 + lx), 0, w - 1)
    if ys[0] == ys[-1] or xs[0] == xs[-1] or v0 + ly <= 0 or u0 + lx <= 0 or v0 >= h or u0 >= w:
        return source[ys][:, xs]  # (nearly) wholly outside: index the replicated edge directly
    inside = source[max(0, v0):min(h, v0 + ly), max(0, u0):min(w, u0 + lx)]
    return cv2.copyMakeBorder(inside, max(0, -v0), max(0, v0 + ly - h), max(0, -u0), max(0, u0 + lx - w),
                              cv2.BORDER_REPLICATE)


def resample(source: np.ndarray, s: float, tx: float, ty: float, w: int, h: int, blur: float = 0.0) -> np.ndarray:
    """out[y, x] = source at ((x - tx)/s, (y - ty)/s), h x w (bicubic to enlarge, bilinear to
    shrink); `blur` (source pixels) is a Gaussian applied first, to the region read only
    (anti-aliasing when shrinking)."""
    margin = CUBIC_SUPPORT + 1 + math.ceil(3 * blur)
    plan = []
    for t in (tx, ty):
        found = _aligned(t, s, margin)
        if found:
            plan.append((found[0], found[1], None))
        else:  # integer start below the exact one, the fraction goes into the filter
            d = math.ceil(margin * s)
            exact = (-t - d - 0.5) / s + 0.5
            u0 = math.floor(exact)
            plan.append((u0, d, shift_kernel(exact - u0, blur)))
    (u0, dx, kx), (v0, dy, ky) = plan
    lx = math.ceil((dx + w) / s) + margin + 1
    ly = math.ceil((dy + h) / s) + margin + 1
    if s != 1.0 and round(lx * s) == lx and round(ly * s) == ly:
        return _warp(source, s, tx, ty, w, h, blur)  # cv2.resize would copy, ignoring fx
    if kx is None and ky is None:
        roi = _region(source, v0, ly, u0, lx)
        if blur:
            roi = cv2.GaussianBlur(roi, (0, 0), blur)
    else:
        pad = LANCZOS + math.ceil(3 * blur)
        roi = _region(source, v0 - pad, ly + 2 * pad, u0 - pad, lx + 2 * pad)
        kx = kx if kx is not None else shift_kernel(0.0, blur)
        ky = ky if ky is not None else shift_kernel(0.0, blur)
        roi = cv2.sepFilter2D(roi, -1, kx, ky)[pad:pad + ly, pad:pad + lx]
    return cv2.resize(roi, None, fx=s, fy=s, interpolation=_interpolation(s))[dy:dy + h, dx:dx + w]


def _interpolation(s: float) -> int:
    """Bicubic to enlarge; bilinear to shrink (after the anti-alias blur it loses nothing)."""
    return cv2.INTER_CUBIC if s > 1 else cv2.INTER_LINEAR


def _warp(source: np.ndarray, s: float, tx: float, ty: float, w: int, h: int, blur: float) -> np.ndarray:
    """For scales within 0.5/size of 1, where cv2.resize would only copy: warpAffine, blurring
    just the source region it reads."""
    if blur:
        pad = math.ceil(3 * blur) + CUBIC_SUPPORT + 1
        u0, v0 = max(0, math.floor(-tx / s) - pad), max(0, math.floor(-ty / s) - pad)
        u1 = min(source.shape[1], math.ceil((w - tx) / s) + pad)
        v1 = min(source.shape[0], math.ceil((h - ty) / s) + pad)
        if u1 > u0 and v1 > v0:
            source = cv2.GaussianBlur(source[v0:v1, u0:u1], (0, 0), blur)
            tx, ty = tx + s * u0, ty + s * v0
    return cv2.warpAffine(source, np.array([[s, 0.0, tx], [0.0, s, ty]]), (w, h), flags=_interpolation(s),
                          borderMode=cv2.BORDER_REPLICATE)
