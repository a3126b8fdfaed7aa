"""Measure where each image really sits inside the next one.

Per consecutive pair (image k inside image k+1): a coarse search (normalised cross-correlation of
the inner image's trusted centre, shrunk to each candidate footprint, against a reduced copy of
the outer image, over log-spaced zoom factors), then ECC refinement (`cv2.findTransformECC`,
affine, reduced to scale + offset) at up to REFINE_SIDE pixels. Only the inner image's centre
is compared, so a border band the outpainting redrew does not pull the fit. The ECC
correlation is the pair's confidence.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import EverzoomError
from .stack import Layer, Stack

log = logging.getLogger("everzoom")

SEARCH_RANGE = (1.1, 4.5)     # zoom factors tried when none is given
PRIOR_SPAN = 1.12             # with a given factor, search factor/1.12 .. factor*1.12
COARSE_SIDE = 160             # outer image width for the coarse search
REFINE_SIDE = 512             # outer image width for ECC
CENTRE = 0.7                  # fraction of the inner image compared (its redrawn border is left out)
ECC_BLUR = 1.0                # pixels, at REFINE_SIDE: widens ECC's capture range
BLOCKS = 8                    # colours are compared as the means of BLOCKS x BLOCKS blocks
MIN_CONFIDENCE = 0.7          # below this ECC correlation a pair is reported as not matching
SNAP_OFFSET = 0.2             # pixels: a pair this close to centred, and
SNAP_ZOOM = 0.001             # this close to the common factor, is placed exactly (see snap)
MAX_DISTORTION = 0.02         # a nested image is a pure scale + shift; more shear/rotation = false match


@dataclass
class PairFit:
    """Image `inner` inside image `outer`: outer_px = scale_px * inner_px + (tx, ty)."""

    inner: str
    outer: str
    scale_px: float
    tx: float
    ty: float
    zoom: float               # outer world width / inner world width
    offset: tuple[float, float]  # inner centre minus outer centre, in outer pixels
    confidence: float
    gain: np.ndarray = field(repr=False, default_factory=lambda: np.ones(3))    # inner colours -> outer's
    bias: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(3))

    @property
    def ok(self) -> bool:
        return self.confidence >= MIN_CONFIDENCE

    def as_dict(self) -> dict:
        return {"inner": self.inner, "outer": self.outer, "zoom_factor": round(self.zoom, 6),
                "offset_px": [round(self.offset[0], 3), round(self.offset[1], 3)],
                "confidence": round(self.confidence, 4), "ok": self.ok}


def grey(image: np.ndarray, width: int) -> np.ndarray:
    """Float32 grey copy, area-reduced to `width` pixels wide (never enlarged)."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = g.shape
    if width < w:
        g = cv2.resize(g, (width, max(2, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return g.astype(np.float32)


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


def coarse_search(inner: np.ndarray, outer: np.ndarray, zooms: np.ndarray,
                  centre: float = CENTRE) -> tuple[float, float, float, float]:
    """Best (zoom, x, y, score) over candidate zoom factors; (x, y): the inner image's centre in
    outer pixels. Works on reduced copies; the zoom is refined by a parabola through the best
    three scores."""
    o = grey(outer, COARSE_SIDE)
    r = o.shape[1] / outer.shape[1]
    ih, iw = inner.shape[:2]
    g = grey(inner, COARSE_SIDE)
    scores = np.full(len(zooms), -1.0)
    centres = np.zeros((len(zooms), 2))
    for n, z in enumerate(zooms):
        tw, th = round(o.shape[1] / z), round(o.shape[1] / z * ih / iw)
        if not (4 <= tw <= o.shape[1] and 4 <= th <= o.shape[0]):
            continue
        crop, to_crop = centre_template(g, tw, th, centre)
        if min(crop.shape) < 4 or crop.std() < 1e-3:
            continue
        _, scores[n], _, loc = cv2.minMaxLoc(cv2.matchTemplate(o, crop, cv2.TM_CCOEFF_NORMED))
        cx, cy = _centre_px(to_crop, g.shape[1], g.shape[0]) + loc  # reduced outer pixels
        centres[n] = (cx + 0.5) / r - 0.5, (cy + 0.5) / r - 0.5
    best = int(np.argmax(scores))
    z = float(zooms[best])
    if 0 < best < len(zooms) - 1 and min(scores[best - 1], scores[best + 1]) > -1:
        z *= math.exp(math.log(zooms[best + 1] / zooms[best]) * parabola_shift(*scores[best - 1:best + 2]))
    return z, float(centres[best, 0]), float(centres[best, 1]), float(scores[best])


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


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY)


def refine(inner: np.ndarray, outer: np.ndarray, zoom: float, cx: float, cy: float,
           centre: float = CENTRE) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """ECC refinement of a coarse placement.

    Returns the 3x3 matrix inner px -> outer px (full resolution), the correlation coefficient
    (0 when ECC does not converge), and the per-channel gain and offset that map the inner
    image's colours onto the outer one's. The template's colours are matched to the outer image
    before both go grey, so per-channel colour drift cannot bias the fit.
    """
    ih, iw = inner.shape[:2]
    width = min(REFINE_SIDE, outer.shape[1])
    o = cv2.resize(outer, (width, round(outer.shape[0] * width / outer.shape[1])), interpolation=cv2.INTER_AREA)
    o = cv2.GaussianBlur(o.astype(np.float32), (0, 0), ECC_BLUR)
    rx, ry = o.shape[1] / outer.shape[1], o.shape[0] / outer.shape[0]
    tw = max(8, round(outer.shape[1] * rx / zoom))
    th = max(8, round(tw * ih / iw))
    crop, to_crop = centre_template(inner.astype(np.float32), tw, th, centre, blur=ECC_BLUR)
    ccx, ccy = _centre_px(to_crop, iw, ih)
    warp = np.array([[1, 0, (cx + 0.5) * rx - 0.5 - ccx], [0, 1, (cy + 0.5) * ry - 0.5 - ccy]], np.float32)

    def under(w: np.ndarray) -> np.ndarray:  # the outer image sampled on the template's grid
        return cv2.warpAffine(o, w, (crop.shape[1], crop.shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT)

    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    o_grey = _grey(o)
    mask = np.full(crop.shape[:2], 255, np.uint8)
    rho = 0.0
    try:
        for _ in range(2):  # the second pass leaves out what the first found not to match
            gain, offset = fit_colours(crop, under(warp), mask)
            matched = _grey(crop * gain + offset)
            # gaussFiltSize 1: ECC's own smoothing biases the scale by ~0.1%; both images are
            # already blurred whole, before the template is cropped
            rho, warp = cv2.findTransformECCWithMask(matched, o_grey, mask, None, warp, cv2.MOTION_AFFINE, criteria, 1)
            mask = mismatch_mask(matched, _grey(under(warp)))
        gain, offset = fit_colours(crop, under(warp), mask)
    except cv2.error:
        rho = 0.0
    to_outer = np.array([[1 / rx, 0, 0.5 / rx - 0.5], [0, 1 / ry, 0.5 / ry - 0.5], [0, 0, 1]])
    total = to_outer @ np.vstack([warp.astype(np.float64), [0, 0, 1]]) @ to_crop
    return total, float(rho), gain, offset


def register_pair(inner: np.ndarray, outer: np.ndarray, zoom_prior: float | None = None,
                  names: tuple[str, str] = ("inner", "outer")) -> PairFit:
    """Scale and offset of `inner` inside `outer`, to sub-pixel accuracy, with a confidence."""
    lo, hi = search_range(zoom_prior)
    zooms = zoom_grid(lo, hi, 1.03)
    z, cx, cy, score = coarse_search(inner, outer, zooms)
    matrix, rho, gain, bias = refine(inner, outer, z, cx, cy)
    a = math.sqrt(abs(np.linalg.det(matrix[:2, :2])))  # similarity part (shear/rotation dropped)
    distortion = float(np.abs(matrix[:2, :2] / a - np.eye(2)).max())
    ih, iw = inner.shape[:2]
    oh, ow = outer.shape[:2]
    centre = _centre_px(matrix, iw, ih)
    tx, ty = centre - a * np.array([(iw - 1) / 2, (ih - 1) / 2])
    zoom = ow / (iw * a)
    offset = (float(centre[0] - (ow - 1) / 2), float(centre[1] - (oh - 1) / 2))
    if rho == 0.0 or distortion > MAX_DISTORTION or not (lo / 1.05 <= zoom <= hi * 1.05):
        rho = min(rho or score, MIN_CONFIDENCE - 1e-3)
    return PairFit(names[0], names[1], a, float(tx), float(ty), float(zoom), offset, rho, gain, bias)


def nominal_fit(inner: np.ndarray, outer: np.ndarray, zoom: float, names: tuple[str, str]) -> PairFit:
    """The placement a perfect outpainting series would have: centred, `zoom` times wider."""
    (ih, iw), (oh, ow) = inner.shape[:2], outer.shape[:2]
    a = ow / (iw * zoom)
    return PairFit(names[0], names[1], a, (ow - 1) / 2 - a * (iw - 1) / 2, (oh - 1) / 2 - a * (ih - 1) / 2,
                   zoom, (0.0, 0.0), 1.0)


def snap(fits: list[PairFit], images: list[np.ndarray], zoom: float) -> list[PairFit]:
    """Pairs whose measurement is within noise of a perfect series (centred, at `zoom`) take that
    placement exactly: measuring can only add its noise there. Their colour fit is kept."""
    out = []
    for k, f in enumerate(fits):
        if f.ok and max(abs(f.offset[0]), abs(f.offset[1])) <= SNAP_OFFSET and abs(f.zoom / zoom - 1) <= SNAP_ZOOM:
            ideal = nominal_fit(images[k], images[k + 1], zoom, (f.inner, f.outer))
            ideal.confidence, ideal.gain, ideal.bias = f.confidence, f.gain, f.bias
            out.append(ideal)
        else:
            out.append(f)
    return out


def outermost_first(images: list[np.ndarray], zoom_prior: float | None = None) -> bool:
    """Whether the set runs outermost first: at both ends, the first image sits inside the second
    clearly worse than the second inside the first."""
    lo, hi = search_range(zoom_prior)
    zooms = zoom_grid(lo, hi, 1.05)
    votes = []
    for a, b in {(0, 1), (len(images) - 2, len(images) - 1)}:
        forward = coarse_search(images[a], images[b], zooms)[3]
        backward = coarse_search(images[b], images[a], zooms)[3]
        votes.append(backward > forward + 0.1)
    return all(votes)


def register(images: list[np.ndarray], names: list[str], zoom_prior: float | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[PairFit]:
    """Fit every consecutive pair (image k inside image k+1)."""
    fits = []
    for k in range(len(images) - 1):
        fits.append(register_pair(images[k], images[k + 1], zoom_prior, (names[k], names[k + 1])))
        if progress:
            progress(k + 1, len(images) - 1)
    return fits


def placed_stack(images: list[np.ndarray], names: list[str], fits: list[PairFit]) -> Stack:
    """Chain the pair fits into world placements: image 0 is 1 wide at the origin."""
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


def search_range(zoom_prior: float | None) -> tuple[float, float]:
    return (zoom_prior / PRIOR_SPAN, zoom_prior * PRIOR_SPAN) if zoom_prior else SEARCH_RANGE


def check(fits: list[PairFit], force: bool, zoom_prior: float | None = None) -> None:
    """Warn about (and, unless forced, refuse) pairs that do not match."""
    lo, hi = search_range(zoom_prior)
    bad = [f for f in fits if not f.ok]
    for f in bad:
        log.warning("image %s does not appear inside %s at any scale between %.3g and %.3g "
                    "(correlation %.2f): wrong order or an unrelated image?", f.inner, f.outer, lo, hi, f.confidence)
    if bad and not force:
        names = ", ".join(f"{f.inner} in {f.outer}" for f in bad)
        raise EverzoomError(f"{len(bad)} image pair(s) do not match ({names}): "
                            "check the order, or pass --force to render anyway")
