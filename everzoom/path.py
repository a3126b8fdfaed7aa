"""Camera path: frame index -> View. How deep the zoom is at each frame comes from the
timeline (timeline.py: modes, easing, holds, timing); here depth becomes a view.

The path is anchored at the layers: when the view is as wide as layer k's centre crop it shows
exactly layer k. Between anchors the log width moves at constant speed and the centre follows a
smooth (C2) spline over log width of the layer centres measured in view widths (c / w): in those
units the motion on screen is what the spline keeps smooth, so a measured off-centre layer never
causes a jump or a kink in the motion (a spline of the world centres themselves would wiggle,
since they grow exponentially with the width). A closed loop (loop.py) adds one step, from the
innermost layer to the copy of the outermost inside it, and its spline is periodic over the
loop's log period: the view at depth n equals the view at depth 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from .errors import EverzoomError
from .loop import Loop
from .stack import Stack, View, fit_width


@dataclass
class CameraPath:
    """Views for the frames of the zoom (holds are repeats of the end frames, not views);
    `depths`: per frame, how many image steps in from the outermost image (0 .. steps), along
    which the log of the view width moves linearly."""

    stack: Stack
    out_w: int
    out_h: int
    depths: np.ndarray
    loop: Loop | None = None

    def __post_init__(self) -> None:
        layers = self.stack.layers
        # anchors: log width of each layer's centre crop, innermost first (increasing)
        self._log_w = np.log([fit_width(l, self.out_w, self.out_h) for l in layers])
        order = np.argsort(self._log_w)
        if np.any(np.diff(self._log_w[order]) <= 0) or not np.all(order == np.arange(len(layers))):
            raise EverzoomError("the images do not grow wider from first to last: "
                                "check their order and the zoom factor")
        relative = np.array([[l.cx, l.cy] for l in layers]) / np.exp(self._log_w)[:, None]
        knots, levels = self._log_w, np.arange(len(layers), dtype=np.float64)
        if self.loop is None:
            self._relative = CubicSpline(knots, relative, bc_type="natural" if len(layers) > 2 else "not-a-knot")
            self._bottom = self._log_w[0]
        else:  # the copy of the outermost layer inside the innermost closes the period
            self._bottom = self._log_w[-1] - self.loop.log_period
            if self._bottom >= self._log_w[0]:
                raise EverzoomError("the closing pair does not fit inside the innermost image")
            knots = np.concatenate([[self._bottom], knots])
            levels = np.concatenate([[-1.0], levels])
            self._relative = CubicSpline(knots, np.vstack([relative[-1:], relative]), bc_type="periodic",
                                         extrapolate="periodic")
        self._knots, self._levels = knots, levels

    @property
    def steps(self) -> int:
        """Image steps from the outermost layer to the innermost (a closed loop: back to its copy)."""
        return len(self.stack) - 1 + (self.loop is not None)

    @property
    def frames(self) -> int:
        return len(self.depths)

    def log_width(self, index: int) -> float:
        t = float(self.depths[min(max(index, 0), self.frames - 1)]) / max(1, self.steps)
        return float(self.log_width_at(t))

    def log_width_at(self, t):
        """Log view width a fraction t (0 .. 1) of the way from the outermost to the innermost
        layer (a closed loop: to the outermost layer's copy)."""
        return self._log_w[-1] + np.asarray(t) * (self._bottom - self._log_w[-1])

    def relative_centre(self, t) -> np.ndarray:
        """The view centre in view widths (c / w) at fractions t of the way in: (..., 2)."""
        return np.asarray(self._relative(self.log_width_at(t)))

    def view(self, index: int) -> View:
        return self.view_at(float(self.depths[min(max(index, 0), self.frames - 1)]))

    def view_at(self, depth: float) -> View:
        """The view `depth` image steps in from the outermost layer (any depth of a closed loop:
        depth and depth + steps show the same)."""
        lw = float(self.log_width_at(depth / max(1, self.steps)))
        width = math.exp(lw)
        cx, cy = self._relative(lw) * width
        return View(float(cx), float(cy), width, self.out_w, self.out_h)

    def zoom_level(self, index: int) -> float:
        """Depth in layer steps: 0 shows the outermost layer, n-1 the innermost (fractional
        between; a closed loop reaches n at the outermost layer's copy)."""
        lw = self.log_width(index)
        return float(len(self.stack) - 1 - np.interp(lw, self._knots, self._levels))

    def smallest_view(self) -> float:
        """The narrowest view width any frame of the path shows."""
        return math.exp(float(self.log_width_at(np.max(self.depths) / max(1, self.steps))))
