"""Whether a frame stays within the range of the layers it mixes: per pixel, between the least
and the largest of the samples the renderer drew of each layer there (each within the layer's
own footprint), give or take `slack` levels of resampling overshoot."""
from __future__ import annotations

import math

import numpy as np


def outside(renderer, view, slack: int = 2) -> tuple[float, int]:
    """(share of pixels outside the range, the largest excess in grey levels) of one frame."""
    shape = (renderer.out_h, renderer.out_w, 3)
    low = np.full(shape, 255, np.int16)
    high = np.zeros(shape, np.int16)

    def observe(place, rect, patch):
        x0, y0, x1, y1 = rect
        fx0, fy0 = max(x0, math.floor(place.left)), max(y0, math.floor(place.top))
        fx1, fy1 = min(x1, math.ceil(place.right)), min(y1, math.ceil(place.bottom))
        if fx1 <= fx0 or fy1 <= fy0:
            return
        own = patch[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0, :3]
        np.minimum(low[fy0:fy1, fx0:fx1], own, out=low[fy0:fy1, fx0:fx1])
        np.maximum(high[fy0:fy1, fx0:fx1], own, out=high[fy0:fy1, fx0:fx1])
    frame = renderer.render(view, observe).astype(np.int16)
    excess = np.maximum(low - frame, frame - high).max(axis=2)
    return float((excess > slack).mean()), int(max(0, excess.max()))
