"""Order an unordered folder of zoom-out images, innermost first, and leave out what does not fit.

Pairwise containment ("a sits inside b at zoom z") is scored for every ordered pair by
normalised cross-correlation on reduced copies (SIDE pixels wide): image a's trusted centre,
shrunk to its footprint at each candidate zoom, is matched against image b at every position
(so offsets do not matter), and the zoom is refined by a parabola. Each image's shrunk centres
are computed once, so a pair costs only the matching; every third zoom is tried first, and only
pairs that look related there are looked at closer. Every confident link says
log-width(b) - log-width(a) = log z; a weighted least-squares fit of all of them gives each image
a position on the zoom axis, and sorting by position gives the chain (exact for any n, and
robust: with small zoom factors an image links to several neighbours). Images with no confident
link are strays, two at the same position are variants of one step (the better-linked one is
kept), two linked groups are two series. ORB keypoints matched with RANSAC then measure every
link of the chain independently, as a check that also gives the scale.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import EverzoomError
from .register import COARSE_SIDE, centre_template, coarse_search, parabola_shift, zoom_grid
from .register import grey as reduce

log = logging.getLogger("everzoom")

SIDE = 72                # width of the reduced copies that are matched
CENTRE = 0.7             # fraction of an image's footprint that is compared (its border may be redrawn)
ZOOMS = (1.1, 4.5)       # candidate zoom factors between two images
ZOOM_STEP = 1.05
LINK = 0.75              # a correlation above this is a link
GATE = 0.45              # a pair whose coarse zoom curve stays below this is not looked at closer
GATE_STRIDE = 3          # the coarse curve samples every third candidate zoom
SAME_STEP = 0.25         # images closer than this fraction of a step are variants of one step
OUTLIER = 0.1            # a link whose zoom disagrees with the fitted positions by more (log) is dropped
REFINE_SPAN = np.exp(np.linspace(-0.06, 0.06, 13))  # zooms tried around a link's first estimate
DUPLICATE = 0.98         # correlation of two whole reduced images above this: the same picture


@dataclass
class Link:
    inner: str
    outer: str
    score: float
    zoom: float
    orb_zoom: float | None = None     # the scale ORB + RANSAC measured, where it found enough inliers
    orb_inliers: int = 0

    def as_dict(self) -> dict:
        return {"inner": self.inner, "outer": self.outer, "score": round(self.score, 4), "zoom": round(self.zoom, 4),
                "orb_zoom": None if self.orb_zoom is None else round(self.orb_zoom, 4), "orb_inliers": self.orb_inliers}


@dataclass
class Order:
    order: list[str]                      # innermost first
    links: list[Link]                     # between consecutive images of `order`
    left_out: dict[str, str]              # name -> why
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"order": self.order, "links": [link.as_dict() for link in self.links], "left_out": self.left_out,
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()}}


def _templates(image: np.ndarray, zooms: np.ndarray) -> list[np.ndarray | None]:
    """The image's trusted centre at its footprint size in an outer image SIDE wide, per zoom."""
    h, w = image.shape[:2]
    out = []
    for z in zooms:
        tw = max(4, round(SIDE / z))
        crop, _ = centre_template(image, tw, max(2, round(h * tw / w)), CENTRE)
        out.append(crop if min(crop.shape) >= 4 and crop.std() > 1e-3 else None)
    return out


def containment(images: list[np.ndarray], zooms: np.ndarray,
                progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """score[a, b]: how well a sits inside b (best over zooms and positions); zoom[a, b] there."""
    n = len(images)
    fine = [reduce(im, COARSE_SIDE) for im in images]  # every other copy is made from these
    outers = [reduce(f, SIDE) for f in fine]
    templates = [_templates(f, zooms) for f in fine]
    score = np.full((n, n), -1.0)
    zoom = np.ones((n, n))
    step = math.log(ZOOM_STEP)

    def match(a: int, b: int, k: int) -> float:
        t = templates[a][k]
        if t is None or t.shape[0] > outers[b].shape[0]:
            return -1.0
        return cv2.minMaxLoc(cv2.matchTemplate(outers[b], t, cv2.TM_CCOEFF_NORMED))[1]

    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            # every third zoom first: most pairs are unrelated and stop here
            curve = np.full(len(zooms), -1.0)
            for k in range(1, len(zooms), GATE_STRIDE):
                curve[k] = match(a, b, k)
            k = int(np.argmax(curve))
            if curve[k] < GATE:
                score[a, b] = curve[k]
                continue
            for j in range(max(0, k - GATE_STRIDE), min(len(zooms), k + GATE_STRIDE + 1)):
                if curve[j] == -1.0:
                    curve[j] = match(a, b, j)
            k = int(np.argmax(curve))
            score[a, b] = curve[k]
            inside = 0 < k < len(zooms) - 1 and curve[k - 1] != -1.0 and curve[k + 1] != -1.0
            # at the edge of the searched range the best zoom stands as it is (no parabola)
            zoom[a, b] = math.exp(math.log(zooms[k]) + (step * parabola_shift(*curve[k - 1:k + 2]) if inside else 0.0))
            if score[a, b] >= LINK:  # a link: measure its zoom precisely, as registration does
                zoom[a, b], _, _, again = coarse_search(fine[a], fine[b], zoom[a, b] * REFINE_SPAN)
                if again < LINK:
                    score[a, b] = min(score[a, b], again)
        if progress:
            progress(a + 1, n)
    return score, zoom


def duplicates(images: list[np.ndarray]) -> np.ndarray:
    """Correlation of every two whole images, reduced: near 1 means the same picture."""
    vecs = np.stack([cv2.resize(reduce(im, SIDE), (SIDE, SIDE)).reshape(-1) for im in images]).astype(np.float64)
    vecs -= vecs.mean(axis=1, keepdims=True)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    return vecs @ vecs.T


def positions(score: np.ndarray, zoom: np.ndarray, members: list[int]) -> np.ndarray:
    """Log-width of each member, from the confident links among them.

    Starts from a maximum spanning tree of the links (the strongest links decide, so a chance
    match at a wrong zoom cannot pull the start), then refits by weighted least squares on all
    links that agree with the current positions (the better the positions, the more links agree).
    """
    idx = {m: i for i, m in enumerate(members)}
    links = sorted(((score[a, b], idx[a], idx[b]) for a in members for b in members
                    if a != b and score[a, b] >= LINK), reverse=True)
    parent = list(range(len(members)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree: dict[int, list[tuple[int, float]]] = {i: [] for i in range(len(members))}
    for _, a, b in links:
        if root(a) != root(b):
            parent[root(a)] = root(b)
            step = math.log(zoom[members[a], members[b]])
            tree[a].append((b, step))
            tree[b].append((a, -step))
    pos = np.full(len(members), np.nan)
    pos[0], todo = 0.0, [0]
    while todo:
        a = todo.pop()
        for b, step in tree[a]:
            if np.isnan(pos[b]):
                pos[b] = pos[a] + step
                todo.append(b)
    rows = np.zeros((len(links) + 1, len(members)))
    for r, (_, a, b) in enumerate(links):
        rows[r, b], rows[r, a] = 1, -1
    rows[-1, 0] = 1  # the first member sits at 0
    rhs = np.array([math.log(zoom[members[a], members[b]]) for _, a, b in links] + [0.0])
    weight = np.array([s ** 4 for s, _, _ in links] + [1.0])
    for _ in range(3):
        agree = np.abs(rows @ pos - rhs) < OUTLIER
        agree[-1] = True
        w = np.sqrt(weight * agree)[:, None]
        pos = np.linalg.lstsq(rows * w, rhs * w[:, 0], rcond=None)[0]
    return pos


def _components(score: np.ndarray, alive: list[int]) -> list[list[int]]:
    linked = {a: {b for b in alive if b != a and max(score[a, b], score[b, a]) >= LINK} for a in alive}
    seen, groups = set(), []
    for start in alive:
        if start in seen:
            continue
        group, todo = [], [start]
        seen.add(start)
        while todo:
            a = todo.pop()
            group.append(a)
            for b in linked[a] - seen:
                seen.add(b)
                todo.append(b)
        groups.append(sorted(group))
    return groups


def _strength(score: np.ndarray, k: int, others: list[int]) -> float:
    """How well image k is linked to the others (as inner or outer): decides between variants."""
    return float(sum(max(score[k, j], score[j, k]) for j in others))


def orb_scale(inner: np.ndarray, outer: np.ndarray) -> tuple[float | None, int]:
    """The zoom ORB keypoints + RANSAC (similarity) measure between two images, and the inlier
    count (None where too few keypoints match)."""
    orb = cv2.ORB_create(nfeatures=800)
    feats = []
    for image in (inner, outer):
        g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if g.shape[1] > 512:
            g = cv2.resize(g, (512, round(g.shape[0] * 512 / g.shape[1])), interpolation=cv2.INTER_AREA)
        feats.append(orb.detectAndCompute(g, None) + (image.shape[1] / g.shape[1],))
    (ka, da, ra), (kb, db, rb) = feats
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return None, 0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 8:
        return None, 0
    pa = np.float32([ka[m.queryIdx].pt for m in matches]) * ra
    pb = np.float32([kb[m.trainIdx].pt for m in matches]) * rb
    matrix, inliers = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC, ransacReprojThreshold=3.0 * rb)
    count = int(inliers.sum()) if inliers is not None else 0
    if matrix is None or count < 8:
        return None, count
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    return outer.shape[1] / (inner.shape[1] * scale), count


def sort_images(images: list[np.ndarray], names: list[str],
                progress: Callable[[int, int], None] | None = None) -> Order:
    """Order the images innermost first; leave out (and say why) those that do not belong."""
    timings = {}
    t0 = time.perf_counter()
    zooms = zoom_grid(*ZOOMS, ZOOM_STEP)
    same = duplicates(images)
    timings["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    score, zoom = containment(images, zooms, progress)
    timings["pair_scores"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = len(images)
    left_out: dict[str, str] = {}
    alive = list(range(n))
    # exact duplicates: keep the first by name
    for a in range(n):
        for b in range(a):
            if b in alive and a in alive and same[a, b] >= DUPLICATE:
                alive.remove(a)
                left_out[names[a]] = f"a duplicate of {names[b]}"
    groups = _components(score, alive)
    for g in groups:
        if len(g) == 1:
            left_out[names[g[0]]] = "does not match any other image at any zoom between 1.1 and 4.5: an unrelated picture?"
    series = [g for g in groups if len(g) > 1]
    if not series:
        raise EverzoomError("no two images fit together as a zoom-out series")
    if len(series) > 1:
        listed = "; ".join(", ".join(names[i] for i in g) for g in series)
        raise EverzoomError(f"the folder holds {len(series)} separate zoom series: {listed}")
    members = series[0]
    pos = positions(score, zoom, members)
    order = [members[i] for i in np.argsort(pos)]
    pos_sorted = np.sort(pos)
    gaps = np.diff(pos_sorted)
    steps = gaps[gaps > math.log(ZOOMS[0]) / 2]  # a gap this small is no zoom step
    step = float(np.median(steps)) if steps.size else 1.0
    kept = [order[0]]
    for i in range(1, len(order)):
        if gaps[i - 1] < min(SAME_STEP * step, math.log(ZOOMS[0]) / 2):  # two variants of one step
            a, b = order[i], kept[-1]
            others = [j for j in members if j not in (a, b)]
            keep, drop = (a, b) if _strength(score, a, others) > _strength(score, b, others) else (b, a)
            kept[-1] = keep
            left_out[names[drop]] = f"another variant of the same step as {names[keep]}"
        else:
            kept.append(order[i])
    if len(kept) < 2:
        gone = "; ".join(f"{n}: {why}" for n, why in left_out.items())
        raise EverzoomError(f"only {names[kept[0]]} is left once the images that do not belong are left out "
                            f"({gone}): a zoom needs at least two")
    timings["ordering"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    links = []
    for a, b in zip(kept, kept[1:]):
        orb_zoom, inliers = orb_scale(images[a], images[b])
        links.append(Link(names[a], names[b], float(score[a, b]), float(zoom[a, b]), orb_zoom, inliers))
    timings["orb_check"] = time.perf_counter() - t0
    for link in links:
        if link.score < LINK:
            log.warning("%s and %s are next to each other in the order but barely match (score %.2f)",
                        link.inner, link.outer, link.score)
        if link.orb_zoom is not None and link.orb_inliers >= 20 and abs(math.log(link.orb_zoom / link.zoom)) > 0.1:
            log.warning("ORB measures %s inside %s at zoom %.2f, the pixels at %.2f: check this pair",
                        link.inner, link.outer, link.orb_zoom, link.zoom)
    return Order([names[i] for i in kept], links, left_out, timings)
