"""Coarse search: at which zoom and where a shrunk copy of the inner image best matches the
outer one, over every position (normalised cross-correlation on reduced copies).

The shrunk inner image carries detail up to the reduced outer image's Nyquist frequency, while
a soft outer image (an outpainter's, or one never sharper than half its resolution) carries
less; each template is therefore also tried softened (COARSE_SOFTEN), and the best correlation
per position kept. Each peak's zoom is refined by a parabola over the zooms. Placements are
ranked by score, less a prior for lying away from where the inner image is expected: the
outer image's centre, or the series' anchor (ComfyUI's uneven outpaint padding puts every
inner image the same way off centre).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SEARCH_RANGE = (1.1, 4.5)     # zoom factors tried when none is given
PRIOR_SPAN = 1.12             # with a given factor, search factor/1.12 .. factor*1.12
COARSE_SIDE = 160             # outer image width for the coarse search
COARSE_STEP = 1.04            # ratio between the zoom factors the coarse search tries
CENTRE = 0.8                  # fraction of the inner image the coarse search compares
COARSE_SOFTEN = (0.0, 1.2)    # extra blur tried on the shrunk inner image, at the coarse size
CANDIDATES = 3                # coarse peaks refined when the best is not convincing
CENTRE_PRIOR = 2.0            # correlation asked extra of a footprint off the expected spot, per (offset / half width)^2
NO_ANCHOR = (0.0, 0.0)        # the expected spot: the outer image's centre

Anchor = tuple[float, float]  # where the inner centre is expected, from the outer's centre, in half widths


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


def search_range(zoom_prior: float | None, span: float = PRIOR_SPAN) -> tuple[float, float]:
    return (zoom_prior / span, zoom_prior * span) if zoom_prior else SEARCH_RANGE


def parabola_shift(y0, y1, y2):
    """Offset (in grid steps) of the peak of the parabola through three samples around a
    maximum y1; 0 where they do not form a peak. Works on scalars and arrays alike."""
    y0, y1, y2 = np.asarray(y0, np.float64), np.asarray(y1, np.float64), np.asarray(y2, np.float64)
    curvature = y0 - 2 * y1 + y2
    shift = np.where(curvature < 0, 0.5 * (y0 - y2) / np.where(curvature < 0, curvature, -1.0), 0.0)
    return float(shift) if shift.ndim == 0 else shift


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


def centre_px(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """Where the centre of a width x height image lands under a 3x3 pixel matrix."""
    return (matrix @ np.array([(width - 1) / 2, (height - 1) / 2, 1.0]))[:2]


def anchor_px(shape: tuple[int, ...], anchor: Anchor = NO_ANCHOR) -> tuple[float, float]:
    """The outer pixel where the inner image's centre is expected."""
    h, w = shape[:2]
    return (w - 1) / 2 + anchor[0] * w / 2, (h - 1) / 2 + anchor[1] * w / 2


def off_anchor(x, y, shape: tuple[int, ...], anchor: Anchor = NO_ANCHOR):
    """Squared distance of (x, y) from the expected spot, in units of half the image width."""
    ax, ay = anchor_px(shape, anchor)
    return ((np.asarray(x) - ax) ** 2 + (np.asarray(y) - ay) ** 2) / (shape[1] / 2) ** 2


def anchor_of(offset: tuple[float, float], shape: tuple[int, ...]) -> Anchor:
    """An offset from the outer centre (pixels) as an anchor (half widths)."""
    return offset[0] / (shape[1] / 2), offset[1] / (shape[1] / 2)


@dataclass
class Candidate:
    score: float   # correlation of the coarse match
    zoom: float
    cx: float      # the inner image's centre in outer pixels
    cy: float


def _match_maps(inner: np.ndarray, o: np.ndarray, zooms: np.ndarray, centre: float):
    """Per zoom: the best correlation map over the softenings (None where the template does
    not fit) and the template centre's offset within it (reduced outer pixels)."""
    g = grey(inner, 2 * COARSE_SIDE)
    ih, iw = inner.shape[:2]
    maps, geometry = [], []
    for z in zooms:
        tw, th = round(o.shape[1] / z), round(o.shape[1] / z * ih / iw)
        best, where = None, None
        if 6 <= tw <= o.shape[1] and 6 <= th <= o.shape[0]:
            for soften in COARSE_SOFTEN:
                crop, to_crop = centre_template(g, tw, th, centre, blur=math.hypot(0.5, soften))
                if min(crop.shape) < 4 or crop.std() < 1e-3:
                    continue
                m = cv2.matchTemplate(o, crop, cv2.TM_CCOEFF_NORMED)
                best = m if best is None else np.maximum(best, m)
            where = centre_px(to_crop, g.shape[1], g.shape[0])
        maps.append(best)
        geometry.append(where)
    return maps, geometry


def _peaks(maps, geometry, zooms: np.ndarray, r: float) -> tuple[np.ndarray, ...]:
    """Every local maximum above 0.1 of every zoom's map: score, refined zoom and the inner
    centre in full-size outer pixels (arrays)."""
    out = []
    for n, m in enumerate(maps):
        if m is None:
            continue
        local = (m >= cv2.dilate(m, np.ones((5, 5), np.uint8))) & (m > 0.1)
        ys, xs = np.nonzero(local)
        score = m[ys, xs].astype(np.float64)
        zoom = np.full(len(score), float(zooms[n]))
        if 0 < n < len(zooms) - 1 and maps[n - 1] is not None and maps[n + 1] is not None \
                and maps[n - 1].shape == m.shape and maps[n + 1].shape == m.shape:
            shift = parabola_shift(maps[n - 1][ys, xs], score, maps[n + 1][ys, xs])
            zoom = zoom * np.exp(math.log(zooms[n + 1] / zooms[n]) * shift)
        cx, cy = geometry[n][0] + xs, geometry[n][1] + ys
        out.append(np.stack([score, zoom, (cx + 0.5) / r - 0.5, (cy + 0.5) / r - 0.5]))
    return tuple(np.concatenate(out, axis=1)) if out else tuple(np.zeros((4, 0)))


def candidates(inner: np.ndarray, outer: np.ndarray, zooms: np.ndarray, count: int = CANDIDATES,
               centre: float = CENTRE, near: float = 1.0, anchor: Anchor = NO_ANCHOR) -> list[Candidate]:
    """The best `count` distinct placements of the inner image in the outer one, over the zoom
    factors and every position, best first (nearer the expected spot preferred). Only
    placements whose centre lies within `near` of the width from the expected spot count."""
    o = cv2.GaussianBlur(grey(outer, COARSE_SIDE), (0, 0), 0.5)
    maps, geometry = _match_maps(inner, o, zooms, centre)
    score, zoom, cx, cy = _peaks(maps, geometry, zooms, o.shape[1] / outer.shape[1])
    ax, ay = anchor_px(outer.shape, anchor)
    inside = np.maximum(np.abs(cx - ax), np.abs(cy - ay)) <= near * outer.shape[1]
    rank = score - CENTRE_PRIOR * off_anchor(cx, cy, outer.shape, anchor)
    order = np.argsort(-rank, kind="stable")
    distinct: list[Candidate] = []
    apart = 0.05 * outer.shape[1]
    for i in order[inside[order]]:
        if all(abs(cx[i] - d.cx) > apart or abs(cy[i] - d.cy) > apart for d in distinct):
            distinct.append(Candidate(float(score[i]), float(zoom[i]), float(cx[i]), float(cy[i])))
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
