"""Measure where each image really sits inside the next one.

Per consecutive pair (image k inside image k+1): a coarse search over zoom factors and
positions (coarse.py), Lucas-Kanade refinement of scale and shift with their uncertainty
(refine.py), and a confidence from the correlation of the two images' detail (confidence.py),
combined per pair in pair.py. The series (series.py) helps each pair: refused pairs are judged
again against the series' anchor and searched near its factor, factors are pooled and snapped.
placement.py chains the fits into world placements.
"""
from .coarse import (COARSE_SIDE, NO_ANCHOR, SEARCH_RANGE, Anchor, Candidate, anchor_of, candidates,
                     centre_template, coarse_search, grey, parabola_shift, search_range, zoom_grid)
from .confidence import GUIDED, MIN_CONFIDENCE, SEARCH, Acceptance, detail_correlation
from .pair import PairFit, detail_problem, nominal_fit, register_pair, with_zoom
from .placement import outer_layer, placed_stack
from .series import (check, closing_fit, describe, likely_factor, outermost_first, pool, register, register_pairs,
                     second_look, series_anchor, series_zoom, snap)

__all__ = ["COARSE_SIDE", "NO_ANCHOR", "SEARCH_RANGE", "Anchor", "Candidate", "anchor_of", "candidates", "centre_template",
           "coarse_search", "grey", "parabola_shift", "search_range", "zoom_grid", "GUIDED", "MIN_CONFIDENCE",
           "SEARCH", "Acceptance", "detail_correlation", "PairFit", "detail_problem", "nominal_fit", "register_pair", "with_zoom",
           "outer_layer", "placed_stack", "check", "closing_fit", "describe", "likely_factor", "outermost_first",
           "pool", "register", "register_pairs", "second_look", "series_anchor", "series_zoom", "snap"]
