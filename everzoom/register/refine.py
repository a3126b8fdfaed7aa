"""Refinement: Lucas-Kanade (Gauss-Newton) of the model the physics allows, scale + shift (plus
a grey-level gain and offset), at up to REFINE_SIDE pixels, on the inner image's central part;
a second pass leaves out regions that one image redrew and the other did not. Its normal
equations also give each parameter's uncertainty; the confidence of the result is the
correlation of the two images' detail (confidence.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .coarse import Candidate, centre_px, grey
from .confidence import detail_correlation

REFINE_SIDE = 512             # outer image width for the refinement
BORDER = 0.15                 # of the inner image's side, left out of the refinement (redrawn borders)...
AFFORD_BORDER = 100           # ...where the shrunk inner image is this many pixels or more, less below
OUTER_BLUR = 0.7              # pixels at the refinement size: widens the capture range
SOFTEN = (0.0, 0.7, 1.4, 2.8)  # extra blur tried on the shrunk inner image to meet the outer's sharpness
BLOCKS = 8                    # colours are compared as the means of BLOCKS x BLOCKS blocks


def fit_colours(src: np.ndarray, dst: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain and offset with dst ~ gain * src + offset, on aligned (h, w, 3) images.

    Compares colours, not detail: both are averaged over a BLOCKS x BLOCKS grid (where the mask
    allows), and the 64 pairs of block colours are fitted by least squares per channel. Detail
    the two images do not share averages out, so the slope is not biased by it."""
    weight = np.ones(src.shape[:2], np.float32) if mask is None else (mask > 0).astype(np.float32)
    size = (BLOCKS, BLOCKS)
    area = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    keep = area.reshape(-1) > 0.5 * area.max()
    means = []
    for image in (src, dst):
        summed = cv2.resize(image.astype(np.float32) * weight[:, :, None], size, interpolation=cv2.INTER_AREA)
        means.append((summed / np.maximum(area, 1e-6)[:, :, None]).reshape(-1, 3)[keep].astype(np.float64))
    x, y = means
    gain, offset = np.ones(3), np.zeros(3)
    for c in range(3):
        var = x[:, c].var()
        gain[c] = np.cov(x[:, c], y[:, c], bias=True)[0, 1] / var if var > 1.0 else 1.0
        offset[c] = y[:, c].mean() - gain[c] * x[:, c].mean()
    return gain, offset


def mismatch_mask(template: np.ndarray, seen: np.ndarray, most: float = 0.3) -> np.ndarray:
    """255 where the aligned images agree; 0 over regions (at most `most` of the area) whose
    smoothed residual is far above the typical one: detail one image redrew and the other not."""
    residual = cv2.GaussianBlur(np.abs(template - seen), (0, 0), 3.0)
    limit = max(3.0 * float(np.median(residual)), float(np.quantile(residual, 1 - most)))
    return np.where(residual <= limit, 255, 0).astype(np.uint8)


@dataclass
class Similarity:
    """template px (u, v) -> reduced outer px: s * (kx (u - uc), ky (v - vc)) + (cx, cy).

    s is the physical scale, full-size outer pixels per inner pixel; kx, ky turn template
    pixels into inner pixels and full-size outer pixels into reduced ones, per axis, since the
    rounded sizes of the template and the reduced outer image can differ slightly in aspect."""

    s: float
    cx: float
    cy: float
    uc: float
    vc: float
    kx: float = 1.0
    ky: float = 1.0

    def matrix(self) -> np.ndarray:
        ax, ay = self.s * self.kx, self.s * self.ky
        return np.array([[ax, 0, self.cx - ax * self.uc], [0, ay, self.cy - ay * self.vc]], np.float32)

    def sample(self, image: np.ndarray, shape) -> np.ndarray:
        """`image` resampled onto the template's grid."""
        return cv2.warpAffine(image, self.matrix(), (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT)


def lucas_kanade(template: np.ndarray, outer: np.ndarray, warp: Similarity, weight: np.ndarray,
                 iterations: int = 40) -> tuple[Similarity, np.ndarray]:
    """Gauss-Newton fit of scale, shift, grey gain and offset: template ~ a * outer(warp) + b.

    Returns the warp and the parameters' covariance (s, cx, cy), scaled for the correlation of
    neighbouring pixels so that it is an honest standard error."""
    h, w = template.shape
    u, v = np.meshgrid((np.arange(w, dtype=np.float32) - warp.uc) * warp.kx,
                       (np.arange(h, dtype=np.float32) - warp.vc) * warp.ky)
    wts = weight.astype(np.float32).ravel()
    s, cx, cy, a, b = warp.s, warp.cx, warp.cy, 1.0, 0.0
    hessian = np.eye(5)
    residual = template.ravel()
    for _ in range(iterations):
        seen = replace(warp, s=s, cx=cx, cy=cy).sample(outer, template.shape)
        gx = cv2.Sobel(seen, cv2.CV_32F, 1, 0, ksize=1, scale=0.5) / (s * warp.kx)   # outer gradient at the samples
        gy = cv2.Sobel(seen, cv2.CV_32F, 0, 1, ksize=1, scale=0.5) / (s * warp.ky)
        jac = np.stack([a * (gx * u + gy * v), a * gx, a * gy, seen, np.ones_like(seen)], -1).reshape(-1, 5)
        residual = template.ravel() - (a * seen.ravel() + b)
        jw = jac * wts[:, None]
        hessian = jw.T @ jac + 1e-9 * np.eye(5)
        step = np.linalg.solve(hessian, jw.T @ residual)
        s, cx, cy, a, b = s + step[0], cx + step[1], cy + step[2], a + step[3], b + step[4]
        if not (math.isfinite(s) and s > 0):
            break
        if abs(step[0]) * float(np.abs(u).max() + np.abs(v).max()) < 1e-3 and abs(step[1]) < 1e-3 and abs(step[2]) < 1e-3:
            break
    dof = max(1.0, float(wts.sum()) - 5)
    variance = float((wts * residual ** 2).sum()) / dof
    correlated = 9 * math.pi * 1.5 ** 2  # pixels per independent sample of blurred images, and a margin
    try:
        cov = np.linalg.inv(hessian)[:3, :3] * variance * correlated
    except np.linalg.LinAlgError:
        cov = np.full((3, 3), np.inf)
    return replace(warp, s=s, cx=cx, cy=cy), cov


@dataclass
class Refined:
    matrix: np.ndarray   # 3x3, inner px -> outer px
    confidence: float
    samples: float       # independent samples of detail the confidence rests on
    zoom_sd: float
    offset_sd: float
    gain: np.ndarray
    bias: np.ndarray


def compared_fraction(side: int) -> float:
    """How much of the shrunk inner image (`side` pixels, its shorter side) the refinement
    compares: its central 70%, leaving out a border an outpainter may have redrawn, when it is
    large enough to afford that; more of it when small, where every pixel counts."""
    return 1.0 - 2 * BORDER * min(1.0, side / AFFORD_BORDER)


Crop = tuple[slice, slice, Similarity]


class _Refinement:
    """The reduced images of one refinement and the warp as it improves (see refine)."""

    def __init__(self, inner: np.ndarray, outer: np.ndarray, start: Candidate):
        ih, iw = inner.shape[:2]
        oh, ow = outer.shape[:2]
        width = min(REFINE_SIDE, ow)
        o = cv2.resize(outer, (width, round(oh * width / ow)), interpolation=cv2.INTER_AREA).astype(np.float32)
        self.o = cv2.GaussianBlur(o, (0, 0), OUTER_BLUR)
        self.o_grey = grey(self.o)
        self.rx, self.ry = self.o.shape[1] / ow, self.o.shape[0] / oh
        self.tw = max(8, round(ow * self.rx / start.zoom))
        self.th = max(8, round(self.tw * ih / iw))
        small = cv2.resize(inner, (self.tw, self.th), interpolation=cv2.INTER_AREA).astype(np.float32)
        self.softened = {b: cv2.GaussianBlur(small, (0, 0), math.hypot(OUTER_BLUR, b)) for b in SOFTEN}
        sx, sy = self.tw / iw, self.th / ih
        self.to_small = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
        self.uc, self.vc = centre_px(self.to_small, iw, ih)
        self.warp = Similarity(ow / (start.zoom * iw), (start.cx + 0.5) * self.rx - 0.5,
                               (start.cy + 0.5) * self.ry - 0.5, self.uc, self.vc, self.rx / sx, self.ry / sy)

    def cropped(self, centre: float) -> Crop:
        x0, y0 = int(round(self.tw * (1 - centre) / 2)), int(round(self.th * (1 - centre) / 2))
        return (slice(y0, self.th - y0), slice(x0, self.tw - x0),
                replace(self.warp, uc=self.uc - x0, vc=self.vc - y0))

    def template(self, soften: float, crop: Crop, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The softened template's crop, its colours matched to the outer image's, in grey."""
        rows, cols, w = crop
        part = self.softened[soften][rows, cols]
        gain, bias = fit_colours(part, w.sample(self.o, part.shape), mask)
        return grey(part * gain + bias), gain, bias

    def sharpest(self, crop: Crop) -> float:
        """The softening whose template correlates best with the outer image where it now sits."""
        seen = crop[2].sample(self.o_grey, self.softened[0.0][crop[0], crop[1]].shape[:2])

        def score(b: float) -> float:
            t = self.template(b, crop)[0]
            return float(cv2.matchTemplate(seen, t, cv2.TM_CCOEFF_NORMED)[0, 0]) if t.std() > 1e-3 else -1.0
        return max(SOFTEN, key=score)

    def run(self, passes: int) -> tuple[float, np.ndarray]:
        """The Lucas-Kanade passes; the softening used last and the covariance."""
        cov, mask_full, soften = np.full((3, 3), np.inf), None, SOFTEN[0]
        centre = compared_fraction(min(self.tw, self.th))
        for _ in range(passes):
            crop = self.cropped(centre)
            soften = self.sharpest(crop)
            mask = None if mask_full is None else mask_full[crop[0], crop[1]]
            t = self.template(soften, crop, mask)[0]
            weight = np.ones(t.shape, np.float32) if mask is None else (mask > 0).astype(np.float32)
            fitted, cov = lucas_kanade(t, self.o_grey, crop[2], weight)
            self.warp = replace(fitted, uc=self.uc, vc=self.vc)
            crop = self.cropped(centre)
            t = self.template(soften, crop)[0]
            mask_full = np.full((self.th, self.tw), 255, np.uint8)
            mask_full[crop[0], crop[1]] = mismatch_mask(t, crop[2].sample(self.o_grey, t.shape))
        return soften, cov

    def confidence(self, soften: float) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Detail correlation (with its samples) over the compared part, and the colour fit."""
        rows, cols, _ = crop = self.cropped(compared_fraction(min(self.tw, self.th)))
        _, gain, bias = self.template(soften, crop)
        whole = grey(self.softened[soften] * gain + bias)  # the detail is taken with the context around
        sigma = max(3.0, min(rows.stop - rows.start, cols.stop - cols.start) / 8)
        confidence, samples = detail_correlation(whole, self.warp.sample(self.o_grey, whole.shape), sigma, (rows, cols))
        return confidence, samples, gain, bias

    def result(self, confidence: float, samples: float, cov: np.ndarray, gain, bias) -> Refined:
        rx, ry = self.rx, self.ry
        to_outer = np.array([[1 / rx, 0, 0.5 / rx - 0.5], [0, 1 / ry, 0.5 / ry - 0.5], [0, 0, 1]])
        total = to_outer @ np.vstack([self.warp.matrix().astype(np.float64), [0, 0, 1]]) @ self.to_small
        zoom_sd = math.sqrt(max(cov[0, 0], 0.0)) / max(self.warp.s, 1e-9)
        offset_sd = math.sqrt(max(cov[1, 1], cov[2, 2], 0.0)) / rx
        return Refined(total, confidence, samples, zoom_sd, offset_sd, gain, bias)


def refine(inner: np.ndarray, outer: np.ndarray, start: Candidate, passes: int = 2) -> Refined:
    """Lucas-Kanade refinement of a coarse placement at up to REFINE_SIDE pixels (see lucas_kanade).

    The template's colours are matched to the outer image per channel before both go grey, so
    per-channel colour drift cannot bias the fit; the template is softened (SOFTEN) to the outer
    image's sharpness, chosen by correlation where it sits. Each pass compares the inner image's
    central part (compared_fraction); every pass after the first also leaves out what the one
    before found not to match."""
    work = _Refinement(inner, outer, start)
    cov = np.full((3, 3), np.inf)
    gain, bias = np.ones(3), np.zeros(3)
    try:
        soften, cov = work.run(passes)
        confidence, samples, gain, bias = work.confidence(soften)
    except (cv2.error, np.linalg.LinAlgError):
        confidence, samples = -1.0, 0.0
    return work.result(confidence, samples, cov, gain, bias)
