"""One pair: where image `inner` sits inside image `outer` (coarse.py finds candidates,
refine.py refines them, confidence.py judges them), as a PairFit."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .coarse import COARSE_STEP, NO_ANCHOR, PRIOR_SPAN, Anchor, candidates, centre_px, search_range, zoom_grid
from .confidence import SEARCH, Acceptance
from .refine import Refined, refine

CONVINCING = 0.75             # a refined confidence this high ends the search


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
    guided: bool = False         # accepted only with the series' guidance (its factor and anchor)

    @property
    def ok(self) -> bool:
        return not self.problem

    def as_dict(self) -> dict:
        return {"inner": self.inner, "outer": self.outer, "zoom_factor": round(self.zoom, 6),
                "offset_px": [round(self.offset[0], 3), round(self.offset[1], 3)],
                "confidence": round(self.confidence, 4), "detail_samples": round(self.samples, 1),
                "zoom_sd": round(self.zoom_sd, 6),
                "offset_sd_px": round(self.offset_sd, 4), "ok": self.ok, "problem": self.problem}


def detail_problem(fit: PairFit, outer_shape, accept: Acceptance, anchor: Anchor = NO_ANCHOR) -> str:
    """Why the fit's detail correlation is too weak where it sits (empty if it is strong enough)."""
    needed = accept.needed(fit.samples, fit.offset, outer_shape, anchor)
    if fit.confidence >= needed:
        return ""
    return f"its detail correlates only {fit.confidence:.2f} with the best spot (needs {needed:.2f} there)"


def judged(inner: np.ndarray, outer: np.ndarray, names: tuple[str, str], refined: Refined,
           zoom_range: tuple[float, float], accept: Acceptance, anchor: Anchor = NO_ANCHOR) -> PairFit:
    """The pair fit of a refined placement, with what makes it implausible, if anything."""
    matrix = refined.matrix
    a = float(matrix[0, 0])
    ih, iw = inner.shape[:2]
    oh, ow = outer.shape[:2]
    centre = centre_px(matrix, iw, ih)
    tx, ty = centre - a * np.array([(iw - 1) / 2, (ih - 1) / 2])
    zoom = ow / (iw * a) if a > 0 else math.inf
    offset = (float(centre[0] - (ow - 1) / 2), float(centre[1] - (oh - 1) / 2))
    fit = PairFit(names[0], names[1], a, float(tx), float(ty), float(zoom), offset, refined.confidence,
                  refined.samples, refined.zoom_sd, refined.offset_sd, "", refined.gain, refined.bias)
    lo, hi = zoom_range
    if not lo / 1.02 <= zoom <= hi * 1.02:
        fit.problem = f"zoom {zoom:.3g} is outside the searched {lo:.3g}-{hi:.3g}"
    elif abs(offset[0]) + 0.5 * ow / zoom > 0.5 * ow + 1 or abs(offset[1]) + 0.5 * oh / zoom > 0.5 * oh + 1:
        fit.problem = "its footprint would reach outside the outer image"
    else:
        fit.problem = detail_problem(fit, outer.shape, accept, anchor)
    return fit


def merit(fit: PairFit, outer_shape, accept: Acceptance, anchor: Anchor = NO_ANCHOR) -> float:
    """Which of two refined placements to believe: by how much its correlation beats the one
    it needs; an implausible size or position loses to any other."""
    geometry_problem = fit.problem and not fit.problem.startswith("its detail")
    return (fit.confidence - accept.needed(fit.samples, fit.offset, outer_shape, anchor)
            - (2.0 if geometry_problem else 0.0))


def register_pair(inner: np.ndarray, outer: np.ndarray, zoom_prior: float | None = None,
                  names: tuple[str, str] = ("inner", "outer"), span: float = PRIOR_SPAN,
                  accept: Acceptance = SEARCH, near: float = 1.0, anchor: Anchor = NO_ANCHOR) -> PairFit:
    """Scale and offset of `inner` inside `outer`, to sub-pixel accuracy, with a confidence;
    only placements within `near` of the outer image's width from the expected spot (its
    centre, or `anchor`) are tried."""
    zoom_range = search_range(zoom_prior, span)
    best: PairFit | None = None
    for start in candidates(inner, outer, zoom_grid(*zoom_range, COARSE_STEP), near=near, anchor=anchor):
        fit = judged(inner, outer, names, refine(inner, outer, start), zoom_range, accept, anchor)
        if best is None or merit(fit, outer.shape, accept, anchor) > merit(best, outer.shape, accept, anchor):
            best = fit
        if best.ok and best.confidence >= CONVINCING:
            break
    if best is None:  # nothing of the right size fits at all
        best = replace(nominal_fit(inner, outer, zoom_range[0], names), confidence=-1.0,
                       problem="it does not fit inside at any searched zoom")
    return best


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
