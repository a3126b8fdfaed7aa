"""Measure where each image really sits inside the next one.

Per consecutive pair (image k inside image k+1):
1. Coarse search: the inner image, shrunk to each candidate footprint (log-spaced zoom factors)
   and softened to the outer image's sharpness, is matched (normalised cross-correlation) against
   a reduced copy of the outer image at every position. The best few distinct peaks, nearer the
   centre preferred (outpainting keeps the inner image near the middle), are candidates.
2. Refinement: Lucas-Kanade (Gauss-Newton) of the model the physics allows, scale + shift (plus a
   grey-level gain and offset), at up to REFINE_SIDE pixels, on the inner image's central
   CENTRE fraction; a second pass leaves out regions that one image redrew and the other did not.
   Its normal equations also give each parameter's uncertainty.
3. Confidence: the correlation of the two images' *detail* (a band-pass of what both carry) over
   the compared region after alignment. Smooth gradients correlate with almost anything, detail
   only with itself: 1 is the same detail, 0 unrelated. A pair is accepted when its confidence
   beats both MIN_CONFIDENCE and, clearly, what unrelated detail reaches by chance (which
   depends on how much detail there is to compare), more so off centre, with its zoom factor
   inside the searched range and its footprint inside the outer image.
4. The series: the zoom factors of a series are nearly equal, so each pair's factor is pulled
   towards the series' common factor by as much as its own uncertainty allows (small images
   measure poorly alone), and a refused pair is searched again near that factor.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .errors import EverzoomError
from .stack import Layer, Stack

log = logging.getLogger("everzoom")

SEARCH_RANGE = (1.1, 4.5)     # zoom factors tried when none is given
PRIOR_SPAN = 1.12             # with a given factor, search factor/1.12 .. factor*1.12
RETRY_SPAN = 1.04             # a refused pair is searched again within this of the series' factor
COARSE_SIDE = 160             # outer image width for the coarse search
COARSE_STEP = 1.04            # ratio between the zoom factors the coarse search tries
REFINE_SIDE = 512             # outer image width for the refinement
CENTRE = 0.8                  # fraction of the inner image the coarse search compares
BORDER = 0.15                 # of the inner image's side, left out of the refinement (redrawn borders)...
AFFORD_BORDER = 100           # ...where the shrunk inner image is this many pixels or more, less below
OUTER_BLUR = 0.7              # pixels at the refinement size: widens the capture range
SOFTEN = (0.0, 0.7, 1.4, 2.8)  # extra blur tried on the shrunk inner image to meet the outer's sharpness
COARSE_SOFTEN = (0.0, 1.2)    # the same for the coarse search, at its smaller size
CANDIDATES = 3                # coarse peaks refined when the best is not convincing
CONVINCING = 0.75             # a refined confidence this high ends the search
CENTRE_PRIOR = 2.0            # correlation asked extra of a footprint off centre, per (offset / half width)^2
BLOCKS = 8                    # colours are compared as the means of BLOCKS x BLOCKS blocks
MIN_CONFIDENCE = 0.55         # detail correlation a centred pair needs, searched over every zoom and position,
MIN_SIGNIFICANCE = 2.0        # ... and that many times what unrelated detail reaches by chance (see Acceptance);
GUIDED_CONFIDENCE = 0.3       # searched again only near the series' factor (RETRY_SPAN) and near the centre
GUIDED_SIGNIFICANCE = 1.5     # (GUIDED_NEAR of the width), where far fewer chance matches could come from
GUIDED_NEAR = 0.1
MIN_DETAIL = 1.0              # grey levels (rms) of detail an image needs to be placed by it
SNAP_SIGMAS = 2.0             # a pair within this many standard errors of a perfect series is placed exactly,
SNAP_OFFSET = 0.2             # or within this many pixels
SNAP_ZOOM = 0.001             # and this relative zoom
MIN_SPREAD = 0.001            # least spread (log) of a series' zoom factors assumed beyond measurement noise


@dataclass
class PairFit:
    """Image `inner` inside image `outer`: outer_px = scale_px * inner_px + (tx, ty)."""

    inner: str
    outer: str
    scale_px: float
    tx: float
    ty: float
    zoom: float                  # outer world width / inner world width
    offset: tuple[float, float]  # inner centre minus outer centre, in outer pixels
    confidence: float            # detail correlation after alignment, -1..1
    samples: float = 0.0         # independent samples of detail the confidence rests on
    zoom_sd: float = 0.0         # standard error of log(zoom)
    offset_sd: float = 0.0       # standard error of the offset, outer pixels
    problem: str = ""            # why the placement is implausible, if it is
    gain: np.ndarray = field(repr=False, default_factory=lambda: np.ones(3))    # inner colours -> outer's
    bias: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(3))

    @property
    def ok(self) -> bool:
        return not self.problem

    def as_dict(self) -> dict:
        return {"inner": self.inner, "outer": self.outer, "zoom_factor": round(self.zoom, 6),
                "offset_px": [round(self.offset[0], 3), round(self.offset[1], 3)],
                "confidence": round(self.confidence, 4), "detail_samples": round(self.samples, 1),
                "zoom_sd": round(self.zoom_sd, 6),
                "offset_sd_px": round(self.offset_sd, 4), "ok": self.ok, "problem": self.problem}


def grey(image: np.ndarray, width: int | None = None) -> np.ndarray:
    """Float32 grey copy, area-reduced to `width` pixels wide (never enlarged)."""
    img = image.astype(np.float32) if image.dtype == np.float64 else image
    g = (cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img).astype(np.float32)
    h, w = g.shape
    if width and width < w:
        g = cv2.resize(g, (width, max(2, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return g


def zoom_grid(lo: float, hi: float, step: float) -> np.ndarray:
    """Candidate zoom factors from lo to hi, `step` apart multiplicatively."""
    return np.exp(np.arange(math.log(lo), math.log(hi) + 1e-9, math.log(step)))


def parabola_shift(y0: float, y1: float, y2: float) -> float:
    """Offset (in grid steps, within +-0.5) of the peak of the parabola through three samples
    around a maximum y1; 0 where they do not form a peak."""
    curvature = y0 - 2 * y1 + y2
    return 0.5 * (y0 - y2) / curvature if curvature < 0 else 0.0


def centre_template(inner: np.ndarray, width: int, height: int, centre: float, blur: float = 0.0):
    """The inner image shrunk to width x height (and blurred), cropped to its central `centre`
    fraction. Returns the crop and the 3x3 matrix from inner pixels to crop pixels."""
    small = cv2.resize(inner, (width, height), interpolation=cv2.INTER_AREA)
    if blur:
        small = cv2.GaussianBlur(small, (0, 0), blur)
    cx0 = int(round(width * (1 - centre) / 2))
    cy0 = int(round(height * (1 - centre) / 2))
    crop = small[cy0:height - cy0, cx0:width - cx0]
    sx, sy = width / inner.shape[1], height / inner.shape[0]
    to_crop = np.array([[sx, 0, 0.5 * sx - 0.5 - cx0], [0, sy, 0.5 * sy - 0.5 - cy0], [0, 0, 1]])
    return crop, to_crop


def _centre_px(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """Where the centre of a width x height image lands under a 3x3 pixel matrix."""
    return (matrix @ np.array([(width - 1) / 2, (height - 1) / 2, 1.0]))[:2]


def _off_centre(x: float, y: float, shape: tuple[int, ...]) -> float:
    """Squared distance of (x, y) from the image centre, in units of half the image width."""
    h, w = shape[:2]
    return ((x - (w - 1) / 2) ** 2 + (y - (h - 1) / 2) ** 2) / (w / 2) ** 2


@dataclass
class Candidate:
    score: float   # correlation of the coarse match
    zoom: float
    cx: float      # the inner image's centre in outer pixels
    cy: float

    def rank(self, outer_shape) -> float:
        return self.score - CENTRE_PRIOR * _off_centre(self.cx, self.cy, outer_shape)


def candidates(inner: np.ndarray, outer: np.ndarray, zooms: np.ndarray, count: int = CANDIDATES,
               centre: float = CENTRE, near: float = 1.0) -> list[Candidate]:
    """The best `count` distinct placements of the inner image in the outer one, over candidate
    zoom factors and every position, best first (nearer the centre preferred).

    The shrunk inner image carries detail up to the reduced outer image's Nyquist frequency,
    while a soft outer image (an outpainter's, or one never sharper than half its resolution)
    carries less; each template is therefore also tried softened (SOFTEN), and the best
    correlation per position kept. Each peak's zoom is refined by a parabola over the zooms.
    Only placements whose centre lies within `near` of the width from the outer image's centre
    count."""
    o = cv2.GaussianBlur(grey(outer, COARSE_SIDE), (0, 0), 0.5)
    r = o.shape[1] / outer.shape[1]
    g = grey(inner, 2 * COARSE_SIDE)
    ih, iw = inner.shape[:2]
    maps: list[np.ndarray | None] = []
    geometry = []
    for z in zooms:
        tw, th = round(o.shape[1] / z), round(o.shape[1] / z * ih / iw)
        best = None
        if 6 <= tw <= o.shape[1] and 6 <= th <= o.shape[0]:
            for soften in COARSE_SOFTEN:
                crop, to_crop = centre_template(g, tw, th, centre, blur=math.hypot(0.5, soften))
                if min(crop.shape) < 4 or crop.std() < 1e-3:
                    continue
                m = cv2.matchTemplate(o, crop, cv2.TM_CCOEFF_NORMED)
                best = m if best is None else np.maximum(best, m)
            geometry.append(_centre_px(to_crop, g.shape[1], g.shape[0]))
        else:
            geometry.append(None)
        maps.append(best)
    peaks = []
    for n, m in enumerate(maps):
        if m is None:
            continue
        local = (m >= cv2.dilate(m, np.ones((5, 5), np.uint8))) & (m > 0.1)
        for y, x in zip(*np.nonzero(local)):
            score, z = float(m[y, x]), float(zooms[n])
            if 0 < n < len(zooms) - 1 and maps[n - 1] is not None and maps[n + 1] is not None \
                    and maps[n - 1].shape == m.shape and maps[n + 1].shape == m.shape:
                shift = parabola_shift(float(maps[n - 1][y, x]), score, float(maps[n + 1][y, x]))
                z *= math.exp(math.log(zooms[n + 1] / zooms[n]) * shift)
            cx, cy = geometry[n] + (x, y)
            c = Candidate(score, z, (cx + 0.5) / r - 0.5, (cy + 0.5) / r - 0.5)
            if max(abs(c.cx - (outer.shape[1] - 1) / 2), abs(c.cy - (outer.shape[0] - 1) / 2)) <= near * outer.shape[1]:
                peaks.append(c)
    peaks.sort(key=lambda c: c.rank(outer.shape), reverse=True)
    distinct: list[Candidate] = []
    near = 0.05 * outer.shape[1]
    for c in peaks:
        if all(abs(c.cx - d.cx) > near or abs(c.cy - d.cy) > near for d in distinct):
            distinct.append(c)
            if len(distinct) == count:
                break
    return distinct


def coarse_search(inner: np.ndarray, outer: np.ndarray, zooms: np.ndarray,
                  centre: float = CENTRE) -> tuple[float, float, float, float]:
    """The best coarse placement: (zoom, x, y, score), (x, y) the inner image's centre in outer
    pixels; score -1 where nothing fits."""
    found = candidates(inner, outer, zooms, 1, centre)
    if not found:
        return float(zooms[len(zooms) // 2]), (outer.shape[1] - 1) / 2, (outer.shape[0] - 1) / 2, -1.0
    c = found[0]
    return c.zoom, c.cx, c.cy, c.score


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


def detail_correlation(a: np.ndarray, b: np.ndarray, sigma: float,
                       region: tuple[slice, slice] | None = None) -> tuple[float, float]:
    """Correlation of the detail of two aligned grey images over `region` (default: all), and
    how many independent samples of detail it rests on.

    Detail is each image minus its Gaussian blur of `sigma` pixels: the structure finer than
    that, which smooth gradients and colour casts do not share by chance. Pixels within 2 sigma
    of the images' borders, where the blur would invent detail of its own, are left out. The
    samples are the compared area over the area one feature of that detail covers (2 pi l^2,
    with l^2 = var(d) / var(grad d), the correlation length of a smooth random field). 0 where
    either image has less detail than MIN_DETAIL grey levels (rms): there only interpolation
    ripples would correlate."""
    h, w = a.shape
    rows, cols = region or (slice(0, h), slice(0, w))
    m = int(math.ceil(2 * sigma))
    y0, y1 = max(rows.start, min(m, h // 3)), min(rows.stop, h - min(m, h // 3))
    x0, x1 = max(cols.start, min(m, w // 3)), min(cols.stop, w - min(m, w // 3))
    da = (a - cv2.GaussianBlur(a, (0, 0), sigma))[y0:y1, x0:x1]
    db = (b - cv2.GaussianBlur(b, (0, 0), sigma))[y0:y1, x0:x1]
    da = da - da.mean()
    db = db - db.mean()
    if min(float(da.std()), float(db.std())) < MIN_DETAIL:
        return 0.0, 0.0  # too little detail to place by it
    slopes = sum(float(np.var(np.diff(d, axis=axis))) for d in (da, db) for axis in (0, 1))
    length2 = 2 * (float(da.var()) + float(db.var())) / max(slopes, 1e-9)
    samples = da.size / (2 * math.pi * max(length2, 0.25))
    norm = math.sqrt(float((da * da).sum()) * float((db * db).sum()))
    return float((da * db).sum()) / norm, samples


@dataclass
class _Similarity:
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


def lucas_kanade(template: np.ndarray, outer: np.ndarray, warp: _Similarity, weight: np.ndarray,
                 iterations: int = 40) -> tuple[_Similarity, np.ndarray]:
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
class _Refined:
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


def refine(inner: np.ndarray, outer: np.ndarray, start: Candidate, passes: int = 2) -> _Refined:
    """Lucas-Kanade refinement of a coarse placement at up to REFINE_SIDE pixels (see lucas_kanade).

    The template's colours are matched to the outer image per channel before both go grey, so
    per-channel colour drift cannot bias the fit; the template is softened (SOFTEN) to the outer
    image's sharpness, chosen by correlation where it sits. Each pass compares the inner image's
    central `centres[i]` fraction: a wide first pass is robust on small images, a narrower last
    one keeps a redrawn border out; every pass after the first also leaves out what the one
    before found not to match."""
    ih, iw = inner.shape[:2]
    oh, ow = outer.shape[:2]
    width = min(REFINE_SIDE, ow)
    o = cv2.resize(outer, (width, round(oh * width / ow)), interpolation=cv2.INTER_AREA).astype(np.float32)
    o = cv2.GaussianBlur(o, (0, 0), OUTER_BLUR)
    o_grey = grey(o)
    rx, ry = o.shape[1] / ow, o.shape[0] / oh
    tw = max(8, round(ow * rx / start.zoom))
    th = max(8, round(tw * ih / iw))
    small = cv2.resize(inner, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)
    softened = {b: cv2.GaussianBlur(small, (0, 0), math.hypot(OUTER_BLUR, b)) for b in SOFTEN}
    sx, sy = tw / iw, th / ih
    to_small = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
    uc, vc = _centre_px(to_small, iw, ih)
    warp = _Similarity(ow / (start.zoom * iw), (start.cx + 0.5) * rx - 0.5, (start.cy + 0.5) * ry - 0.5, uc, vc,
                       rx / sx, ry / sy)

    def cropped(centre: float) -> tuple[slice, slice, _Similarity]:
        x0, y0 = int(round(tw * (1 - centre) / 2)), int(round(th * (1 - centre) / 2))
        return slice(y0, th - y0), slice(x0, tw - x0), replace(warp, uc=uc - x0, vc=vc - y0)

    def template(soften: float, crop: tuple, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, cols, w = crop
        part = softened[soften][rows, cols]
        gain, bias = fit_colours(part, w.sample(o, part.shape), mask)
        return grey(part * gain + bias), gain, bias

    def sharpest(crop: tuple) -> float:
        """The softening whose template correlates best with the outer image where it now sits."""
        seen = crop[2].sample(o_grey, softened[0.0][crop[0], crop[1]].shape[:2])

        def score(b: float) -> float:
            t = template(b, crop)[0]
            return float(cv2.matchTemplate(seen, t, cv2.TM_CCOEFF_NORMED)[0, 0]) if t.std() > 1e-3 else -1.0
        return max(SOFTEN, key=score)

    cov = np.full((3, 3), np.inf)
    mask_full = None
    try:
        centre = compared_fraction(min(tw, th))
        for _ in range(passes):
            crop = cropped(centre)
            soften = sharpest(crop)
            mask = None if mask_full is None else mask_full[crop[0], crop[1]]
            t, gain, bias = template(soften, crop, mask)
            weight = np.ones(t.shape, np.float32) if mask is None else (mask > 0).astype(np.float32)
            fitted, cov = lucas_kanade(t, o_grey, crop[2], weight)
            warp = replace(fitted, uc=uc, vc=vc)
            crop = cropped(centre)
            t = template(soften, crop)[0]
            mask_full = np.full((th, tw), 255, np.uint8)
            mask_full[crop[0], crop[1]] = mismatch_mask(t, crop[2].sample(o_grey, t.shape))
        rows, cols, _ = cropped(centre)
        _, gain, bias = template(soften, cropped(centre))
        whole = grey(softened[soften] * gain + bias)  # the detail is taken with the context around
        confidence, samples = detail_correlation(whole, warp.sample(o_grey, whole.shape),
                                                 max(3.0, min(rows.stop - rows.start, cols.stop - cols.start) / 8),
                                                 (rows, cols))
    except (cv2.error, np.linalg.LinAlgError):
        confidence, samples = -1.0, 0.0
    to_outer = np.array([[1 / rx, 0, 0.5 / rx - 0.5], [0, 1 / ry, 0.5 / ry - 0.5], [0, 0, 1]])
    total = to_outer @ np.vstack([warp.matrix().astype(np.float64), [0, 0, 1]]) @ to_small
    zoom_sd = math.sqrt(max(cov[0, 0], 0.0)) / max(warp.s, 1e-9)
    offset_sd = math.sqrt(max(cov[1, 1], cov[2, 2], 0.0)) / rx
    return _Refined(total, confidence, samples, zoom_sd, offset_sd, gain, bias)


@dataclass(frozen=True)
class Acceptance:
    """What a pair's detail correlation must reach: `least`, and `significance` times the
    spread that unrelated detail resting on the same number of independent samples shows by
    chance (1 / sqrt(samples)), plus CENTRE_PRIOR for being off centre (outpainting keeps the
    inner image near the middle; a chance match is as likely anywhere)."""

    least: float = MIN_CONFIDENCE
    significance: float = MIN_SIGNIFICANCE

    def needed(self, samples: float, offset: tuple[float, float], outer_shape) -> float:
        h, w = outer_shape[:2]
        off = _off_centre((w - 1) / 2 + offset[0], (h - 1) / 2 + offset[1], outer_shape)
        chance = self.significance / math.sqrt(samples) if samples > 0 else math.inf
        return max(self.least, chance) + CENTRE_PRIOR * off


SEARCH = Acceptance()
GUIDED = Acceptance(GUIDED_CONFIDENCE, GUIDED_SIGNIFICANCE)


def _fit(inner: np.ndarray, outer: np.ndarray, names: tuple[str, str], refined: _Refined,
         zoom_range: tuple[float, float], accept: Acceptance) -> PairFit:
    """The pair fit of a refined placement, with what makes it implausible, if anything."""
    matrix = refined.matrix
    a = float(matrix[0, 0])
    ih, iw = inner.shape[:2]
    oh, ow = outer.shape[:2]
    centre = _centre_px(matrix, iw, ih)
    tx, ty = centre - a * np.array([(iw - 1) / 2, (ih - 1) / 2])
    zoom = ow / (iw * a) if a > 0 else math.inf
    offset = (float(centre[0] - (ow - 1) / 2), float(centre[1] - (oh - 1) / 2))
    lo, hi = zoom_range
    problem = ""
    if not lo / 1.02 <= zoom <= hi * 1.02:
        problem = f"zoom {zoom:.3g} is outside the searched {lo:.3g}-{hi:.3g}"
    elif abs(offset[0]) + 0.5 * ow / zoom > 0.5 * ow + 1 or abs(offset[1]) + 0.5 * oh / zoom > 0.5 * oh + 1:
        problem = "its footprint would reach outside the outer image"
    elif refined.confidence < accept.needed(refined.samples, offset, outer.shape):
        problem = (f"its detail correlates only {refined.confidence:.2f} with the best spot "
                   f"(needs {accept.needed(refined.samples, offset, outer.shape):.2f} there)")
    return PairFit(names[0], names[1], a, float(tx), float(ty), float(zoom), offset, refined.confidence,
                   refined.samples, refined.zoom_sd, refined.offset_sd, problem, refined.gain, refined.bias)


def register_pair(inner: np.ndarray, outer: np.ndarray, zoom_prior: float | None = None,
                  names: tuple[str, str] = ("inner", "outer"), span: float = PRIOR_SPAN,
                  accept: Acceptance = SEARCH, near: float = 1.0) -> PairFit:
    """Scale and offset of `inner` inside `outer`, to sub-pixel accuracy, with a confidence;
    only placements within `near` of the outer image's width from its centre are tried."""
    zoom_range = search_range(zoom_prior, span)
    best: PairFit | None = None
    for start in candidates(inner, outer, zoom_grid(*zoom_range, COARSE_STEP), near=near):
        fit = _fit(inner, outer, names, refine(inner, outer, start), zoom_range, accept)
        if best is None or _merit(fit, outer.shape, accept) > _merit(best, outer.shape, accept):
            best = fit
        if best.ok and best.confidence >= CONVINCING:
            break
    if best is None:  # nothing of the right size fits at all
        best = replace(nominal_fit(inner, outer, zoom_range[0], names), confidence=-1.0,
                       problem="it does not fit inside at any searched zoom")
    return best


def _merit(fit: PairFit, outer_shape, accept: Acceptance) -> float:
    """Which of two refined placements to believe: by how much its correlation beats the one
    it needs; an implausible size or position loses to any other."""
    geometry_problem = fit.problem and not fit.problem.startswith("its detail")
    return fit.confidence - accept.needed(fit.samples, fit.offset, outer_shape) - (2.0 if geometry_problem else 0.0)


def nominal_fit(inner: np.ndarray, outer: np.ndarray, zoom: float, names: tuple[str, str]) -> PairFit:
    """The placement a perfect outpainting series would have: centred, `zoom` times wider."""
    (ih, iw), (oh, ow) = inner.shape[:2], outer.shape[:2]
    a = ow / (iw * zoom)
    return PairFit(names[0], names[1], a, (ow - 1) / 2 - a * (iw - 1) / 2, (oh - 1) / 2 - a * (ih - 1) / 2,
                   zoom, (0.0, 0.0), 1.0)


def with_zoom(fit: PairFit, inner: np.ndarray, outer: np.ndarray, zoom: float) -> PairFit:
    """The same pair, its measured centre kept, at another zoom factor."""
    (ih, iw), (oh, ow) = inner.shape[:2], outer.shape[:2]
    a = ow / (iw * zoom)
    cx, cy = (ow - 1) / 2 + fit.offset[0], (oh - 1) / 2 + fit.offset[1]
    return replace(fit, scale_px=a, tx=cx - a * (iw - 1) / 2, ty=cy - a * (ih - 1) / 2, zoom=zoom)


def series_zoom(fits: list[PairFit]) -> tuple[float, float] | None:
    """The series' common zoom factor and how much the pairs' true factors spread around it (in
    log); None if no pair was accepted. The spread is what the pairs' scatter (its median
    absolute deviation, robust to one odd pair) shows beyond their measurement noise, at least
    MIN_SPREAD; the factor is the mean of the pairs, each weighted by how well it is known."""
    good = [f for f in fits if f.ok]
    if not good:
        return None
    logs = np.log([f.zoom for f in good])
    sd = np.array([max(f.zoom_sd, 1e-5) for f in good])
    median = float(np.median(logs))
    scatter = 1.4826 * float(np.median(np.abs(logs - median))) if len(logs) > 2 else 0.0
    spread = math.sqrt(max(MIN_SPREAD ** 2, scatter ** 2 - float(np.median(sd ** 2))))
    weights = 1 / (sd ** 2 + spread ** 2)
    return math.exp(float((logs * weights).sum() / weights.sum())), spread


def likely_factor(fits: list[PairFit], prior: float | None = None) -> float | None:
    """The factor a perfect series of these pairs would have: their precision-weighted mean,
    or, where that is within SNAP_SIGMAS standard errors of it, the factor given (`prior`) or a
    simple ratio p/q (q up to 4: 2, 3/2, 4/3 ... as tools zoom out by). None if no pair was
    accepted."""
    good = [f for f in fits if f.ok]
    if not good:
        return None
    weights = 1 / np.array([max(f.zoom_sd, 1e-5) for f in good]) ** 2
    mean = float((np.log([f.zoom for f in good]) * weights).sum() / weights.sum())
    error = 1 / math.sqrt(float(weights.sum()))
    simple = [p / q for q in range(1, 5) for p in range(q + 1, 5 * q + 1)]
    candidates = ([prior] if prior else []) + sorted(simple, key=lambda r: abs(math.log(r) - mean))[:1]
    for candidate in candidates:
        if abs(math.log(candidate) - mean) <= SNAP_SIGMAS * error:
            return float(candidate)
    return math.exp(mean)


def pool(fits: list[PairFit], images: list[np.ndarray], common: float, spread: float) -> list[PairFit]:
    """Each accepted pair's zoom pulled towards the series' factor as far as its uncertainty
    allows: a precision-weighted mean in log of its own measurement and the common factor
    (believed within `spread`). Large images keep their own value, small ones lean on the
    series; a pair clearly unlike the rest (beyond 3 standard deviations) keeps its own."""
    out = []
    for k, f in enumerate(fits):
        sd = max(f.zoom_sd, 1e-5)
        if not f.ok or abs(math.log(f.zoom / common)) > 3 * math.hypot(sd, spread):
            out.append(f)
            continue
        own, prior = 1 / sd ** 2, 1 / spread ** 2
        zoom = math.exp((own * math.log(f.zoom) + prior * math.log(common)) / (own + prior))
        out.append(with_zoom(f, images[k], images[k + 1], zoom))
    return out


def snap(fits: list[PairFit], images: list[np.ndarray], zoom: float) -> list[PairFit]:
    """Pairs whose measurement is within noise of a perfect series (centred, at `zoom`) take that
    placement exactly: measuring can only add its noise there. Their colour fit is kept."""
    out = []
    for k, f in enumerate(fits):
        near_offset = max(abs(f.offset[0]), abs(f.offset[1])) <= max(SNAP_OFFSET, SNAP_SIGMAS * f.offset_sd)
        near_zoom = abs(math.log(f.zoom / zoom)) <= max(SNAP_ZOOM, SNAP_SIGMAS * f.zoom_sd)
        if f.ok and near_offset and near_zoom:
            ideal = nominal_fit(images[k], images[k + 1], zoom, (f.inner, f.outer))
            out.append(replace(ideal, confidence=f.confidence, zoom_sd=f.zoom_sd, offset_sd=f.offset_sd,
                               gain=f.gain, bias=f.bias))
        else:
            out.append(f)
    return out


def outermost_first(images: list[np.ndarray], zoom_prior: float | None = None) -> bool:
    """Whether the set runs outermost first: at both ends, the first image sits inside the second
    clearly worse than the second inside the first."""
    zooms = zoom_grid(*search_range(zoom_prior), 1.05)
    votes = []
    for a, b in {(0, 1), (len(images) - 2, len(images) - 1)}:
        forward = coarse_search(images[a], images[b], zooms)[3]
        backward = coarse_search(images[b], images[a], zooms)[3]
        votes.append(backward > forward + 0.1)
    return all(votes)


def register(images: list[np.ndarray], names: list[str], zoom_prior: float | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[PairFit]:
    """Fit every consecutive pair (image k inside image k+1), then use the series: pairs refused
    alone are searched again near the common zoom factor, and every accepted pair's factor is
    pooled with it (see pool)."""
    fits = []
    for k in range(len(images) - 1):
        fits.append(register_pair(images[k], images[k + 1], zoom_prior, (names[k], names[k + 1])))
        if progress:
            progress(k + 1, len(images) - 1)
    series = series_zoom(fits)
    if series is None:
        return fits
    for k, f in enumerate(fits):
        if not f.ok:
            again = register_pair(images[k], images[k + 1], series[0], (f.inner, f.outer), RETRY_SPAN,
                                  GUIDED, GUIDED_NEAR)
            if again.ok:
                fits[k] = again
    return pool(fits, images, *series_zoom(fits))


def placed_stack(images: list[np.ndarray], names: list[str], fits: list[PairFit]) -> Stack:
    """Chain the pair fits into world placements: image 0 is 1 wide at the origin."""
    if len(fits) != len(images) - 1:
        raise ValueError(f"{len(images)} images need {len(images) - 1} pair fits, not {len(fits)}")
    layers = [Layer(images[0], 0.0, 0.0, 1.0, names[0])]
    for fit, image, name in zip(fits, images[1:], names[1:]):
        inner = layers[-1]
        left, top, _, _ = inner.rect()
        pixel = inner.pixel / fit.scale_px       # world size of one outer pixel
        oh, ow = image.shape[:2]
        # inner px (u, v) is world left + (u + 0.5) * inner.pixel and outer px a*u + t
        o_left = left + 0.5 * inner.pixel - (fit.tx + 0.5) * pixel
        o_top = top + 0.5 * inner.pixel - (fit.ty + 0.5) * pixel
        layers.append(Layer(image, o_left + ow * pixel / 2, o_top + oh * pixel / 2, ow * pixel, name))
    return Stack(layers)


def midjourney_note(zoom: float) -> str:
    """Midjourney's "1.5x" zoom-out button really zooms 4/3: say so when that is what we measured."""
    return " (Midjourney 1.5x button)" if abs(zoom * 3 / 4 - 1) < 0.004 else ""


def describe(fits: list[PairFit]) -> str:
    zooms = [f.zoom for f in fits]
    text = ", ".join(f"{z:.3f}" for z in zooms)
    return f"measured zoom factors: {text}{midjourney_note(float(np.median(zooms)))}"


def search_range(zoom_prior: float | None, span: float = PRIOR_SPAN) -> tuple[float, float]:
    return (zoom_prior / span, zoom_prior * span) if zoom_prior else SEARCH_RANGE


def check(fits: list[PairFit], force: bool) -> None:
    """Warn about (and, unless forced, refuse) pairs that do not match."""
    bad = [f for f in fits if not f.ok]
    for f in bad:
        log.warning("image %s does not appear inside %s: %s; wrong order or an unrelated image?",
                    f.inner, f.outer, f.problem)
    if bad and not force:
        names = ", ".join(f"{f.inner} in {f.outer}" for f in bad)
        raise EverzoomError(f"{len(bad)} image pair(s) do not match ({names}): "
                            "check the order, or pass --force to render anyway")
