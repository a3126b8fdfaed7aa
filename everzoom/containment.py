"""How well each image of a set sits inside each other one: fast coarse scores for every ordered
pair, the candidates that sorting then confirms by registration (ordering.py).

Image a's trusted centre, shrunk to its footprint at each candidate zoom, is matched by
normalised cross-correlation against a reduced copy of image b (about AREA pixels, whatever the
aspect ratio) at every position, so offsets do not matter. Each image's shrunk centres are made
once, so a pair costs only the matching; every other zoom is tried first, and only pairs that
look related there are looked at closer: the zoom curve filled in around its best, then the
best zoom matched again on copies of FINE_AREA pixels (small copies of one scene correlate by
chance at many zooms; larger ones tell the real footprint from a look-alike), the zoom refined
by a parabola. Rows of the score matrix are computed on both cores (OpenCV releases the GIL).
"""
from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Callable

import cv2
import numpy as np

from .register import centre_template, grey, parabola_shift

AREA = 80 * 80           # pixels of the reduced copies that are matched
FINE_AREA = 120 * 120    # ... and of those that score the pairs that look related
CENTRE = 0.7             # fraction of an image's footprint that is compared (its border may be redrawn)
ZOOMS = (1.1, 4.5)       # zoom factors between two images that are looked for
ZOOM_STEP = 1.05         # (the curve runs a step further each way: a best zoom at its end is no peak)
GATE = 0.45              # a pair whose coarse zoom curve stays below this is not looked at closer
GATE_STRIDE = 2          # the coarse curve samples every other candidate zoom
DUPLICATE = 0.98         # correlation of two whole reduced images above this: the same picture
THREADS = 2


def reduced(image: np.ndarray, area: int = AREA) -> np.ndarray:
    """Grey copy of about `area` pixels, the aspect ratio kept."""
    h, w = image.shape[:2]
    return grey(image, max(8, round(math.sqrt(area * w / h))))


def template(image: np.ndarray, width: int, zoom: float) -> np.ndarray | None:
    """The image's trusted centre at its footprint size in an outer image `width` wide."""
    h, w = image.shape[:2]
    tw = max(4, round(width / zoom))
    crop, _ = centre_template(image, tw, max(2, round(h * tw / w)), CENTRE)
    return crop if min(crop.shape) >= 4 and crop.std() > 1e-3 else None


def best_match(outer: np.ndarray, t: np.ndarray | None) -> float:
    """The highest correlation of a template anywhere inside an image (-1 where it does not fit)."""
    if t is None or t.shape[0] > outer.shape[0] or t.shape[1] > outer.shape[1]:
        return -1.0
    return cv2.minMaxLoc(cv2.matchTemplate(outer, t, cv2.TM_CCOEFF_NORMED))[1]


class Scorer:
    """The reduced copies and templates of a set, and the scoring of one pair."""

    def __init__(self, images: list[np.ndarray], zooms: np.ndarray):
        self.sources = [grey(im, 2 * round(math.sqrt(FINE_AREA * im.shape[1] / im.shape[0]))) for im in images]
        self.outers = [reduced(s) for s in self.sources]
        self.fine = [reduced(s, FINE_AREA) for s in self.sources]
        widths = {o.shape[1] for o in self.outers}  # one, unless the images differ in shape
        self.templates = [{w: [template(s, w, z) for z in zooms] for w in widths} for s in self.sources]
        self.zooms = zooms

    def match(self, a: int, b: int, k: int) -> float:
        o = self.outers[b]
        return best_match(o, self.templates[a][o.shape[1]][k])

    def fine_score(self, a: int, b: int, zoom: float) -> float:
        """The match at `zoom` (and a step either side) on the larger copies."""
        o = self.fine[b]
        return max(best_match(o, template(self.sources[a], o.shape[1], zoom * ZOOM_STEP ** j)) for j in (-1, 0, 1))

    def pair(self, a: int, b: int) -> tuple[float, float]:
        """(score, zoom) of a inside b: the best correlation over zooms and positions."""
        zooms = self.zooms
        curve = np.full(len(zooms), -1.0)
        for k in range(1, len(zooms), GATE_STRIDE):  # most pairs are unrelated and stop here
            curve[k] = self.match(a, b, k)
        k = int(np.argmax(curve))
        if curve[k] < GATE:
            return float(curve[k]), 1.0
        for j in range(max(0, k - GATE_STRIDE), min(len(zooms), k + GATE_STRIDE + 1)):
            if curve[j] == -1.0:
                curve[j] = self.match(a, b, j)
        k = int(np.argmax(curve))
        if not (0 < k < len(zooms) - 1 and curve[k - 1] != -1.0 and curve[k + 1] != -1.0):
            return -1.0, float(zooms[k])  # the curve still rises at the end of the range: no footprint
        zoom = math.exp(math.log(zooms[k]) + math.log(ZOOM_STEP) * parabola_shift(*curve[k - 1:k + 2]))
        return self.fine_score(a, b, zoom), zoom


def zoom_curve() -> np.ndarray:
    """The zooms each pair is tried at: powers of ZOOM_STEP over ZOOMS and a step beyond each end."""
    first = math.floor(math.log(ZOOMS[0]) / math.log(ZOOM_STEP)) - 1
    last = math.ceil(math.log(ZOOMS[1]) / math.log(ZOOM_STEP)) + 1
    return ZOOM_STEP ** np.arange(first, last + 1, dtype=np.float64)


def containment(images: list[np.ndarray], zooms: np.ndarray | None = None,
                progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """score[a, b]: how well a sits inside b (best over zooms and positions); zoom[a, b] there."""
    zooms = zoom_curve() if zooms is None else zooms
    n = len(images)
    scorer = Scorer(images, zooms)
    score = np.full((n, n), -1.0)
    zoom = np.ones((n, n))

    def row(a: int) -> int:
        for b in range(n):
            if b != a:
                score[a, b], zoom[a, b] = scorer.pair(a, b)
        return a
    with cf.ThreadPoolExecutor(THREADS, thread_name_prefix="everzoom-sort") as pool:
        for done, _ in enumerate(pool.map(row, range(n)), 1):
            if progress:
                progress(done, n)
    return score, zoom


def duplicates(images: list[np.ndarray]) -> np.ndarray:
    """Correlation of every two whole images, reduced: near 1 means the same picture."""
    side = round(math.sqrt(AREA))
    vecs = np.stack([cv2.resize(reduced(im), (side, side)).reshape(-1) for im in images]).astype(np.float64)
    vecs -= vecs.mean(axis=1, keepdims=True)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    return vecs @ vecs.T
