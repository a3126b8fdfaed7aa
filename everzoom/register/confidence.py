"""How sure a placement is: the correlation of the two images' *detail* (a band-pass of what
both carry) over the compared region after alignment, and what it must reach to be accepted.

Smooth gradients correlate with almost anything, detail only with itself: 1 is the same
detail, 0 unrelated. A pair is accepted when its confidence beats both a floor and, clearly,
what unrelated detail reaches by chance (which depends on how much detail there is to
compare), more so away from where the inner image is expected (the centre, or the series'
anchor), with its zoom factor inside the searched range and its footprint inside the outer
image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .coarse import CENTRE_PRIOR, NO_ANCHOR, Anchor, off_anchor

MIN_CONFIDENCE = 0.55         # detail correlation a centred pair needs, searched over every zoom and position,
MIN_SIGNIFICANCE = 2.0        # ... and that many times what unrelated detail reaches by chance (see Acceptance);
GUIDED_CONFIDENCE = 0.3       # searched again only near the series' factor and near its expected spot
GUIDED_SIGNIFICANCE = 1.5     # (GUIDED_NEAR of the width), where far fewer chance matches could come from
GUIDED_NEAR = 0.1
MIN_DETAIL = 1.0              # grey levels (rms) of detail an image needs to be placed by it


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


@dataclass(frozen=True)
class Acceptance:
    """What a pair's detail correlation must reach: `least`, and `significance` times the
    spread that unrelated detail resting on the same number of independent samples shows by
    chance (1 / sqrt(samples)), plus CENTRE_PRIOR for lying away from the expected spot
    (outpainting keeps the inner image in one place, the centre unless the series says
    otherwise; a chance match is as likely anywhere)."""

    least: float = MIN_CONFIDENCE
    significance: float = MIN_SIGNIFICANCE

    def needed(self, samples: float, offset: tuple[float, float], outer_shape,
               anchor: Anchor = NO_ANCHOR) -> float:
        h, w = outer_shape[:2]
        off = float(off_anchor((w - 1) / 2 + offset[0], (h - 1) / 2 + offset[1], outer_shape, anchor))
        chance = self.significance / math.sqrt(samples) if samples > 0 else math.inf
        return max(self.least, chance) + CENTRE_PRIOR * off


SEARCH = Acceptance()
GUIDED = Acceptance(GUIDED_CONFIDENCE, GUIDED_SIGNIFICANCE)
