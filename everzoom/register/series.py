"""The series: every consecutive pair registered (both cores), then the series helps each pair:
pairs refused alone are judged again against the series' anchor (the spot where its inner
images sit) and searched again near its common factor; every accepted pair's factor is pooled
with the common one, and pairs within noise of a perfect series are snapped to it."""
from __future__ import annotations

import concurrent.futures as cf
import logging
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..errors import EverzoomError
from .coarse import NO_ANCHOR, Anchor, anchor_of, coarse_search, search_range, zoom_grid
from .confidence import GUIDED, GUIDED_NEAR, SEARCH
from .pair import PairFit, detail_problem, nominal_fit, register_pair, with_zoom

log = logging.getLogger("everzoom")

RETRY_SPAN = 1.04             # a refused pair is searched again within this of the series' factor
ANCHOR_AGREE = 0.03           # accepted pairs whose anchors agree within this (half widths) make a series anchor
SNAP_SIGMAS = 2.0             # a pair within this many standard errors of a perfect series is placed exactly,
SNAP_OFFSET = 0.2             # or within this many pixels
SNAP_ZOOM = 0.001             # and this relative zoom
MIN_SPREAD = 0.001            # least spread (log) of a series' zoom factors assumed beyond measurement noise
THREADS = 2                   # pairs registered at once (OpenCV releases the GIL)

Pair = tuple[int, int]        # (inner, outer) indices into the images


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


def series_anchor(fits: list[PairFit], outer_shapes: list[tuple[int, ...]]) -> Anchor:
    """Where the series' inner images sit in their outer ones (half widths from the centre):
    the median anchor of the accepted pairs when at least two agree on it, else the centre."""
    if len(fits) != len(outer_shapes):
        raise ValueError("one outer image shape per fit")
    anchors = np.array([anchor_of(f.offset, s) for f, s in zip(fits, outer_shapes) if f.ok])
    if len(anchors) < 2:
        return NO_ANCHOR
    median = np.median(anchors, axis=0)
    agree = np.abs(anchors - median).max(axis=1) <= ANCHOR_AGREE
    return (float(median[0]), float(median[1])) if agree.sum() >= 2 else NO_ANCHOR


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


def register_pairs(images: list[np.ndarray], names: list[str], pairs: list[Pair],
                   priors: list[float | None], progress: Callable[[int, int], None] | None = None) -> list[PairFit]:
    """register_pair for each (inner, outer) of `pairs` with its zoom prior, THREADS at a time,
    in order; progress reported as they finish."""
    if len(pairs) != len(priors):
        raise ValueError("one zoom prior per pair")

    def one(job: tuple[Pair, float | None]) -> PairFit:
        (a, b), prior = job
        return register_pair(images[a], images[b], prior, (names[a], names[b]))
    with cf.ThreadPoolExecutor(THREADS, thread_name_prefix="everzoom-register") as pool_:
        fits = []
        for fit in pool_.map(one, zip(pairs, priors)):
            fits.append(fit)
            if progress:
                progress(len(fits), len(pairs))
    return fits


def second_look(fits: list[PairFit], images: list[np.ndarray], pairs: list[Pair]) -> list[PairFit]:
    """The refused pairs of a series looked at again with what the accepted ones tell: judged
    against the series' anchor (not a new search), else searched near its factor and anchor
    with the guided acceptance (then marked `guided`)."""
    series = series_zoom(fits)
    if series is None:
        return fits
    anchor = series_anchor(fits, [images[b].shape for _, b in pairs])
    out = list(fits)
    for k, (f, (a, b)) in enumerate(zip(fits, pairs, strict=True)):
        if f.ok:
            continue
        if f.problem.startswith("its detail") and not detail_problem(f, images[b].shape, SEARCH, anchor):
            out[k] = replace(f, problem="")
            continue
        again = register_pair(images[a], images[b], series[0], (f.inner, f.outer), RETRY_SPAN, GUIDED,
                              GUIDED_NEAR, anchor)
        if again.ok:
            out[k] = replace(again, guided=True)
    return out


def register(images: list[np.ndarray], names: list[str], zoom_prior: float | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[PairFit]:
    """Fit every consecutive pair (image k inside image k+1), then use the series (second_look)
    and pool every accepted pair's factor with the common one (see pool)."""
    pairs = [(k, k + 1) for k in range(len(images) - 1)]
    fits = register_pairs(images, names, pairs, [zoom_prior] * len(pairs), progress)
    fits = second_look(fits, images, pairs)
    series = series_zoom(fits)
    return pool(fits, images, *series) if series else fits


def closing_fit(images: list[np.ndarray], names: list[str], fits: list[PairFit]) -> PairFit:
    """Whether the series closes into a loop: the outermost image registered inside the innermost
    one like any pair (judged against the series' anchor), as a zoomquilt's does."""
    anchor = series_anchor(fits, [im.shape for im in images[1:len(fits) + 1]])
    fit = register_pair(images[-1], images[0], None, (names[-1], names[0]), anchor=anchor)
    if fit.problem.startswith("its detail") and not detail_problem(fit, images[0].shape, SEARCH, anchor):
        fit = replace(fit, problem="")
    return fit


def midjourney_note(zoom: float) -> str:
    """Midjourney's "1.5x" zoom-out button really zooms 4/3: say so when that is what we measured."""
    return " (Midjourney 1.5x button)" if abs(zoom * 3 / 4 - 1) < 0.004 else ""


def describe(fits: list[PairFit]) -> str:
    zooms = [f.zoom for f in fits]
    text = ", ".join(f"{z:.3f}" for z in zooms)
    return f"measured zoom factors: {text}{midjourney_note(float(np.median(zooms)))}"


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
