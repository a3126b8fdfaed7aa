"""Local alignment: the outer image's zone around each inner image warped to meet it.

Outpainters (Midjourney's zoom-out above all) sometimes shift and bend the picture a little
when they zoom out, so no single placement makes image k match the centre of image k+1: a fade
between them ghosts, a cut jumps. After the global placement, this measures a dense
displacement between the two at the outer image's resolution (OpenCV's DIS optical flow, both
ways), trusts only textured pixels whose forward and backward flows agree, fits a smooth field
to them (a cubic B-spline mesh, KNOTS control points each way, pulled gently to no shift so it
falls back where nothing is trusted and carries on smoothly past the footprint), caps it at
MAX_SHIFT of the outer's side, and warps the OUTER image's zone
so that its content meets the inner image's: the full field over the footprint, tapering to no
change TAPER of the footprint further out. The inner image is never warped, so a frame that
passes exactly through it shows it as it is. Done once per layer; frames cost the same.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_SHIFT = 0.015   # the largest displacement applied, a fraction of the outer image's shorter side
TAPER = 0.12        # the warp fades out over this fraction of the footprint's side outside it
KNOTS = 14          # control points of the field's B-spline across the zone, each way
NOISE = 1.0         # px: a field whose p90 along the border is below this is taken for measurement noise
                    # (two renderings of one scene at different detail look shifted by up to ~0.9 px
                    # here and there) and leaves the outer image untouched
CONSISTENT = 0.5    # px: forward and backward flow must agree this well for a pixel to count
SIMILAR = 0.7       # and the two images, so matched, must correlate above this around it
TEXTURE = 4.0       # grey levels of gradient at which a pixel's texture counts half
AGREEING = 0.6      # share of the footprint's textured pixels whose flows must agree both ways, else the
                    # two do not show the same content there and nothing is warped
IMPROVES = 0.6      # the warp is kept only if it cuts the misalignment along the border to this share
BORDER_BAND = 0.1   # the residual is measured within this fraction of the footprint of its edge


@dataclass
class LocalWarp:
    """The field applied to one outer image around one inner image."""

    box: tuple[int, int, int, int]   # the zone warped, outer pixels (x0, y0, x1, y1)
    field: np.ndarray                # (h, w, 2) float32 over the zone: outer(x + field) meets inner(x)
    before: float                    # p90 misalignment in the inner image's border band, outer px
    after: float                     # the same after the warp
    applied: bool                    # False: within the noise, nothing trusted, or it did not help

    @property
    def largest(self) -> float:
        return float(np.sqrt((self.field ** 2).sum(axis=2)).max()) if self.field.size else 0.0

    def as_dict(self) -> dict:
        return {"residual_before_px": round(self.before, 3), "residual_after_px": round(self.after, 3),
                "largest_shift_px": round(self.largest, 3), "applied": self.applied}


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def inner_on_outer(inner: np.ndarray, outer: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inner image resampled onto the outer's pixel grid (low-passed first, so the shrink
    does not alias) over the outer image itself, and the mask of the inner's footprint.
    `matrix` (2x3) maps inner pixel indices to outer ones."""
    h, w = outer.shape[:2]
    scale = float(matrix[0, 0])
    sigma = 0.5 * np.sqrt(max(1 / scale ** 2 - 1, 0.0))
    soft = cv2.GaussianBlur(inner, (0, 0), sigma) if sigma > 0.1 else inner
    shrunk = cv2.warpAffine(soft, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    footprint = cv2.warpAffine(np.ones(inner.shape[:2], np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST)
    footprint = cv2.erode(footprint, np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(footprint[:, :, None], shrunk, outer), footprint


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow f with a(x) ~ b(x + f(x)), DIS at full resolution."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    return dis.calc(a, b, None)


def trusted_flow(a: np.ndarray, b: np.ndarray, inside: np.ndarray,
                 texture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flow from grey image a to b; a weight per pixel (a's `texture`, how alike the two look
    once matched, zero where the backward flow does not bring it back or outside `inside`);
    and where the flows are consistent both ways."""
    forward, backward = _flow(a, b), _flow(b, a)
    moved = pixel_grid(a.shape) + forward
    back = cv2.remap(backward, moved, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    consistent = np.hypot(*(forward + back).transpose(2, 0, 1)) < CONSISTENT
    matched = cv2.remap(b, moved, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alike = np.clip((local_correlation(a, matched) - SIMILAR) / (1 - SIMILAR), 0, 1)
    weight = texture * alike * (consistent & inside)
    return forward, weight.astype(np.float32), consistent & inside


def pixel_grid(shape: tuple[int, ...]) -> np.ndarray:
    """(h, w, 2) float32: each pixel's own (x, y), the identity map of cv2.remap."""
    return np.indices(shape[:2], dtype=np.float32)[::-1].transpose(1, 2, 0)


def local_correlation(a: np.ndarray, b: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    """Correlation of two grey images in a Gaussian window around each pixel: near 1 where they
    show the same content, near 0 where one was redrawn (a flow can pair unrelated detail
    consistently both ways, but cannot make it alike)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), sigma)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va, vb = blur(a * a) - ma * ma, blur(b * b) - mb * mb
    return (blur(a * b) - ma * mb) / np.sqrt(np.maximum(va * vb, 1e-6))


def _texture(grey: np.ndarray) -> np.ndarray:
    """0 (flat) to 1 (textured): how well a flow can be measured at each pixel."""
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8, cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
    energy = cv2.GaussianBlur(gx * gx + gy * gy, (0, 0), 2.0)
    return energy / (energy + TEXTURE ** 2)


def bspline_basis(n: int, knots: int) -> np.ndarray:
    """(n, knots) uniform cubic B-spline basis over n pixels with `knots` control points."""
    t = (np.arange(n) + 0.5) / n * (knots - 3) + 1  # control point j sits at t = j
    d = np.abs(t[:, None] - np.arange(knots)[None, :])
    return np.where(d < 1, 2 / 3 - d ** 2 + d ** 3 / 2, np.where(d < 2, (2 - d) ** 3 / 6, 0.0))


def spline_field(flow: np.ndarray, weight: np.ndarray, knots: int, stride: int = 3) -> np.ndarray:
    """A smooth field fitted to the trusted flow: a tensor-product cubic B-spline with `knots` x
    `knots` control points over the zone (weighted least squares with a little pull to no
    shift, so it extrapolates smoothly past the footprint and falls back where nothing is trusted)."""
    h, w = weight.shape
    by, bx = bspline_basis(h, knots), bspline_basis(w, knots)
    ys, xs = np.arange(0, h, stride), np.arange(0, w, stride)
    rows = (by[ys][:, None, :, None] * bx[xs][None, :, None, :]).reshape(len(ys) * len(xs), knots * knots)
    wt = weight[np.ix_(ys, xs)].reshape(-1)
    normal = rows.T @ (rows * wt[:, None])
    diff = np.diff(np.eye(knots), 2, axis=0)
    smooth = np.kron(diff.T @ diff, np.eye(knots)) + np.kron(np.eye(knots), diff.T @ diff)
    normal += 1e-3 * (wt.sum() / knots ** 2 + 1e-6) * (np.eye(knots * knots) + smooth)
    out = np.empty((h, w, 2), np.float32)
    for c in range(2):
        coef = np.linalg.solve(normal, rows.T @ (wt * flow[np.ix_(ys, xs)][:, :, c].reshape(-1)))
        out[:, :, c] = by @ coef.reshape(knots, knots) @ bx.T
    return out


def _taper(footprint: np.ndarray, width: float) -> np.ndarray:
    """1 over the footprint, easing to 0 `width` px outside it."""
    outside = cv2.distanceTransform((~footprint).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(1 - outside / max(width, 1.0), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _border_band(footprint: np.ndarray, depth: float) -> np.ndarray:
    inside = cv2.distanceTransform(footprint.astype(np.uint8), cv2.DIST_L2, 5)
    return footprint & (inside <= depth)


def _p90(flow: np.ndarray, weight: np.ndarray, band: np.ndarray) -> float:
    pick = band & (weight > 0.5)
    if pick.sum() < 20:
        return 0.0
    return float(np.quantile(np.hypot(flow[pick, 0], flow[pick, 1]), 0.9))


def local_warp(inner: np.ndarray, outer: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, LocalWarp]:
    """The outer image with its zone around the inner image warped to meet it, and the warp.
    `matrix` (2x3): inner pixel indices to outer ones."""
    h, w = outer.shape[:2]
    side = matrix[0, 0] * min(inner.shape[:2])
    margin = int(np.ceil(TAPER * side)) + 2
    corners = matrix @ np.array([[0, 0, 1], [inner.shape[1], inner.shape[0], 1]], float).T
    x0, y0 = (max(0, int(np.floor(c)) - margin) for c in corners[:, 0])
    x1, y1 = (min(n, int(np.ceil(c)) + margin) for c, n in zip(corners[:, 1], (w, h), strict=True))
    zone = outer[y0:y1, x0:x1]
    local = matrix - np.array([[0, 0, x0], [0, 0, y0]])
    seen, footprint = inner_on_outer(inner, zone, local)
    a, b = _grey(seen), _grey(zone)
    texture = _texture(a)
    flow, weight, consistent = trusted_flow(a, b, footprint, texture)
    band = _border_band(footprint, BORDER_BAND * side)
    before = _p90(flow, weight, band)
    field = spline_field(flow, weight, KNOTS) * _taper(footprint, TAPER * side)[:, :, None]
    cap = MAX_SHIFT * min(h, w)
    length = np.hypot(field[:, :, 0], field[:, :, 1])
    field *= np.minimum(1, cap / np.maximum(length, 1e-6))[:, :, None]
    textured = texture[footprint] > 0.5
    agreeing = float(consistent[footprint][textured].mean()) if textured.any() else 0.0
    if agreeing < AGREEING or _p90(field, weight, band) < NOISE:
        return outer, LocalWarp((x0, y0, x1, y1), field, before, before, False)
    warped = cv2.remap(zone, pixel_grid(zone.shape) + field, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    result = outer.copy()
    result[y0:y1, x0:x1] = warped
    after_flow, after_weight, _ = trusted_flow(a, _grey(warped), footprint, texture)
    after = _p90(after_flow, after_weight, band)
    if after > IMPROVES * before:  # the warp must be seen to work, or it is not worth the risk
        return outer, LocalWarp((x0, y0, x1, y1), field, before, before, False)
    return result, LocalWarp((x0, y0, x1, y1), field, before, after, True)
