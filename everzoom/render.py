"""View -> frame: every visible layer, from its matching pyramid level, finest on top.

Per frame the work is proportional to the output area times ~1.33, whatever the depth: the
coarsest layer that covers the whole view fills the frame, and each finer layer is warped only
into its own bounding box. Each inner layer meets the one behind it in one of two ways:
- adaptive (crop None, the default): over its reveal field (blend.py): while the layer is small,
  only inside its seam; as the view closes in, the boundary moves out from the seam to the edge
  (its own pixels come in as a soft wipe), over a 2-pixel feather (wider, in frame pixels, where
  the seam left the edge);
- fixed (a crop fraction): its own picture fading across its untrusted border band with a
  separable smoothstep alpha.
Either way the transition grows in from nothing as the view widens past the layer, so the frame
whose view is exactly a layer shows that image as it is; its trusted interior is copied as is.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .blend import REACH
from .resample import resample
from .stack import PAD, Stack, View, fit_width, layer_affine

PREBLUR_SIGMA = 0.577  # sqrt(1/3): matches pyrDown's own blur (sigma 1) at a remaining scale of 0.5
MIN_FEATHER_PX = 2.0  # even a fully trusted layer gets this soft edge (in its own pixels): no aliased step
BLEND_GROW = 2.0      # the reveal boundary moves from the seam to the edge over this fraction of a zoom step
RHO = 0.35            # ... crossing softly over this fraction of the zone's depth
FEATHER_GROW = 0.05   # where the seam left the edge, the edge's softening reaches its width this soon
SEAM_FRACTION = 0.02  # by default an edge that does not simply agree crosses over this share of the frame's shorter side


Rect = tuple[int, int, int, int]


@dataclass
class Placement:
    """Where one layer lands in a frame and how it is sampled."""

    index: int
    level: int
    left: float  # frame coordinates of the layer's outer edges
    top: float
    right: float
    bottom: float

    def box(self, out_w: int, out_h: int) -> Rect | None:
        x0, y0 = max(0, math.floor(self.left)), max(0, math.floor(self.top))
        x1, y1 = min(out_w, math.ceil(self.right)), min(out_h, math.ceil(self.bottom))
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class Renderer:
    """Draws frames of a Stack; holds only the stack (with its pyramids, built up front).
    `crop`: None for the adaptive blend, else the fixed fraction of each inner image trusted."""

    def __init__(self, stack: Stack, out_w: int, out_h: int, crop: float | None = None,
                 seam_width: float | None = None):
        self.stack, self.out_w, self.out_h, self.crop = stack, out_w, out_h, crop
        self.seam_width = SEAM_FRACTION * min(out_w, out_h) if seam_width is None else seam_width
        self.prepare()
        widths = [fit_width(layer, out_w, out_h) for layer in stack.layers]
        self._fit = np.array(widths)
        # log width over which a layer's fade band grows to full: its whole zoom step
        steps = np.log(self._fit[1:] / self._fit[:-1]) if len(widths) > 1 else np.ones(1)
        self.grow = np.append(steps, steps[-1])  # per layer: the log width its transitions grow over

    def prepare(self) -> None:
        """Build every pyramid now: render() may run in several threads."""
        for layer in self.stack.layers:
            layer.padded_level(layer.max_level())

    def unprepare(self) -> None:
        """Drop the pyramids (before the plan is sent to other machines, which rebuild them)."""
        for layer in self.stack.layers:
            layer._pyramids.clear()

    def growth(self, index: int, view: View, part: float = 1.0) -> float:
        """0 while the view is no wider than the layer's own frame, growing smoothly to 1 over
        `part` of its zoom step."""
        return float(smoothstep(np.log(view.width / self._fit[index]) / (part * self.grow[index])))

    def band(self, index: int, view: View) -> tuple[float, float, float, float]:
        """The alpha ramp's width at the left, top, right and bottom edge, in the layer's pixels
        (from the edge inwards: a layer is drawn over its own footprint only).

        Nothing while the view is no wider than the layer's own frame, so the frame that shows
        layer k shows exactly layer k; then it grows smoothly over the zoom step. Fixed crop: to
        the untrusted band, so the seam fades in without a pop. Adaptive (blend.py): on sides that
        agree, MIN_FEATHER_PX; on sides whose detail was redrawn or whose shapes were repainted,
        seam_width pixels of the frame (a change of texture, or a zone's own pixels coming in last,
        is hidden over a few pixels of the frame whatever the layer's scale).
        """
        layer = self.stack.layers[index]
        w, h = layer.size
        grow = self.growth(index, view)
        if self.crop is None:
            if view.width <= self._fit[index] * (1 + 1e-9):
                return (0.0,) * 4
            seam = max(MIN_FEATHER_PX, self.seam_width * view.pixel / layer.pixel)
            soon = self.growth(index, view, FEATHER_GROW)  # full width a frame or so past the layer's own view
            return tuple(soon * seam if s else grow * MIN_FEATHER_PX for s in layer.seams)
        bx, by = grow * max(MIN_FEATHER_PX, (1 - self.crop) / 2 * w), grow * max(MIN_FEATHER_PX, (1 - self.crop) / 2 * h)
        return bx, by, bx, by

    def cover(self, index: int, view: View) -> float:
        """How far the layer gives up its zone (blend.py): 1 while the layer is small in the frame
        (it shows inside its seam only), 0 from the view that is exactly the layer (its own
        pixels everywhere), easing between over BLEND_GROW of its zoom step."""
        if self.stack.layers[index].reveal is None or self.crop is not None:
            return 0.0
        return self.growth(index, view, BLEND_GROW)

    def reveal_alpha(self, index: int, view: View) -> np.ndarray | None:
        """The layer's alpha per value of its reveal field (256 entries), None where it shows
        everywhere: 1 beyond the boundary, which moves from the seam (field value 1 of REACH)
        out past the edge (-RHO) as the view closes in, crossing over RHO of the zone."""
        c = self.cover(index, view)
        if c <= 0.0:
            return None
        boundary = c * (1 + RHO) - RHO
        reach = np.arange(256, dtype=np.float32) * (REACH / 255.0)
        return smoothstep((reach - boundary) / RHO).astype(np.float32)

    def placement(self, index: int, view: View) -> Placement:
        layer = self.stack.layers[index]
        left, top, right, bottom = layer.rect()
        fl, ft = view.to_frame(left, top)
        fr, fb = view.to_frame(right, bottom)
        scale = layer.pixel / view.pixel
        level = 0 if scale >= 1 else min(int(math.floor(math.log2(1 / scale) + 1e-9)), layer.max_level())
        return Placement(index, level, fl, ft, fr, fb)

    def _opaque_insets(self, index: int, view: View) -> tuple[float, ...]:
        """How far in from each edge (layer pixels) the layer is not fully opaque: its ramp, and
        its zone while it gives the zone up."""
        widths = self.band(index, view)
        if self.cover(index, view) <= 0.0:
            return widths
        return tuple(max(w, i) for w, i in zip(widths, self.stack.layers[index].interior, strict=True))

    def _opaque_over(self, index: int, view: View) -> bool:
        """Whether the layer's fully opaque part covers the whole view."""
        layer = self.stack.layers[index]
        bl, bt, br, bb = (b * layer.pixel for b in self._opaque_insets(index, view))
        left, top, right, bottom = layer.rect()
        vl, vt, vr, vb = view.rect()
        return left + bl <= vl and right - br >= vr and top + bt <= vt and bottom - bb >= vb

    def visible(self, view: View) -> list[Placement]:
        """The layers drawn for this view, coarsest (the base, drawn opaque) first."""
        n = len(self.stack)
        base = next((k for k in range(n - 1) if self._opaque_over(k, view)), n - 1)
        drawn = [self.placement(base, view)]
        for k in range(base - 1, -1, -1):
            p = self.placement(k, view)
            if p.right - p.left < 1.0:  # narrower than a pixel: nothing finer adds detail
                break
            if p.box(self.out_w, self.out_h):
                drawn.append(p)
        return drawn

    def _warp(self, p: Placement, view: View, box: Rect) -> np.ndarray:
        """The layer resampled into a frame rectangle, alias-free.

        The pyramid level leaves a remaining scale s in [0.5, 1] (or s > 1 for enlarging); for
        s < 1 a Gaussian blur of sigma 0.577*sqrt(1/s^2 - 1) source pixels first removes what
        the frame cannot show (at s = 0.5 this equals the next pyramid level's blur, so level
        switches are seamless). Sampling is at the exact sub-pixel position: bicubic when
        enlarging, bilinear after the blur when shrinking.
        """
        layer = self.stack.layers[p.index]
        x0, y0, x1, y1 = box
        matrix = layer_affine(layer, p.level, view, origin=(x0, y0))
        scale = matrix[0, 0]
        blur = PREBLUR_SIGMA * math.sqrt(1.0 / scale ** 2 - 1.0) if scale < 1.0 else 0.0
        # padded level: index i is level pixel i - PAD
        return resample(layer.padded_level(p.level), scale, matrix[0, 2] - scale * PAD,
                        matrix[1, 2] - scale * PAD, x1 - x0, y1 - y0, blur if blur > 0.05 else 0.0)

    def _solid(self, p: Placement, view: View, box: Rect, ax: np.ndarray, ay: np.ndarray) -> Rect | None:
        """The frame rectangle where the layer is drawn fully opaque: inside its ramps and, while
        it gives up its zone, inside its reveal field's solid interior."""
        solid = opaque_rect(box, ax, ay)
        if solid is None or self.cover(p.index, view) <= 0.0:
            return solid
        per_frame = (p.right - p.left) / self.stack.layers[p.index].size[0]  # frame pixels per layer pixel
        il, it, ir, ib = self.stack.layers[p.index].interior
        inner = (math.ceil(p.left + il * per_frame), math.ceil(p.top + it * per_frame),
                 math.floor(p.right - ir * per_frame), math.floor(p.bottom - ib * per_frame))
        x0, y0 = max(solid[0], inner[0]), max(solid[1], inner[1])
        x1, y1 = min(solid[2], inner[2]), min(solid[3], inner[3])
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def _ramps(self, p: Placement, view: View, box: Rect) -> tuple[np.ndarray, np.ndarray]:
        """Alpha along the box's columns and rows: 0 at the layer's edge, 1 inside its trusted part."""
        layer = self.stack.layers[p.index]
        bl, bt, br, bb = self.band(p.index, view)
        x0, y0, x1, y1 = box
        w, h = layer.size
        per_px = w / (p.right - p.left)  # layer pixels per frame pixel
        u = (np.arange(x0, x1) + 0.5 - p.left) * per_px
        v = (np.arange(y0, y1) + 0.5 - p.top) * per_px
        ax = np.minimum(smoothstep(u / max(bl, 1e-6)), smoothstep((w - u) / max(br, 1e-6)))
        ay = np.minimum(smoothstep(v / max(bt, 1e-6)), smoothstep((h - v) / max(bb, 1e-6)))
        return ax.astype(np.float32), ay.astype(np.float32)

    def render(self, view: View, observe: Callable[[Placement, Rect, np.ndarray], None] | None = None) -> np.ndarray:
        """Coarse to fine; each layer is drawn only where the next finer one is not opaque.
        `observe(placement, frame rectangle, RGBA patch)` sees every patch drawn (tests check the
        frame against the layers' own samples)."""
        frame = np.empty((self.out_h, self.out_w, 4), np.uint8)
        drawn = self.visible(view)
        boxes = [(0, 0, self.out_w, self.out_h)] + [p.box(self.out_w, self.out_h) for p in drawn[1:]]
        ramps = [None] + [self._ramps(p, view, box) for p, box in zip(drawn[1:], boxes[1:], strict=True)]
        solids = [None] + [self._solid(p, view, box, *r) for p, box, r in zip(drawn[1:], boxes[1:], ramps[1:],
                                                                              strict=True)]
        for i, (p, box) in enumerate(zip(drawn, boxes, strict=True)):
            hole = solids[i + 1] if i + 1 < len(drawn) else None
            reveal = self.reveal_alpha(p.index, view) if i else None
            for x0, y0, x1, y1 in subtract(box, hole):
                patch = self._warp(p, view, (x0, y0, x1, y1))
                if observe:
                    observe(p, (x0, y0, x1, y1), patch)
                if ramps[i] is None:
                    frame[y0:y1, x0:x1] = patch
                    continue
                ax, ay = ramps[i]
                solid = solids[i] and (solids[i][0] - x0, solids[i][1] - y0, solids[i][2] - x0, solids[i][3] - y0)
                composite(frame[y0:y1, x0:x1], patch, ax[x0 - box[0]:x1 - box[0]], ay[y0 - box[1]:y1 - box[1]],
                          reveal, solid)
        return cv2.cvtColor(frame, cv2.COLOR_RGBA2RGB)


def opaque_rect(box: Rect, ax: np.ndarray, ay: np.ndarray) -> Rect | None:
    """The frame rectangle where a layer's alpha is exactly 1 (ramps are 0 -> 1 -> 0)."""
    cols, rows = np.flatnonzero(ax >= 1.0), np.flatnonzero(ay >= 1.0)
    if not cols.size or not rows.size:
        return None
    return box[0] + cols[0], box[1] + rows[0], box[0] + cols[-1] + 1, box[1] + rows[-1] + 1


def subtract(box: Rect, hole: Rect | None, worth: float = 0.4) -> list[Rect]:
    """`box` minus `hole` as up to four rectangles (top, bottom, left, right); just `box` where
    the hole is under `worth` of it (then drawing it costs less than the extra calls)."""
    if hole is None:
        return [box]
    bx0, by0, bx1, by1 = box
    hx0, hy0 = max(hole[0], bx0), max(hole[1], by0)
    hx1, hy1 = min(hole[2], bx1), min(hole[3], by1)
    if hx0 >= hx1 or hy0 >= hy1 or (hx1 - hx0) * (hy1 - hy0) < worth * (bx1 - bx0) * (by1 - by0):
        return [box]
    parts = [(bx0, by0, bx1, hy0), (bx0, hy1, bx1, by1), (bx0, hy0, hx0, hy1), (hx1, hy0, bx1, hy1)]
    return [r for r in parts if r[2] > r[0] and r[3] > r[1]]


def composite(dst: np.ndarray, src: np.ndarray, ax: np.ndarray, ay: np.ndarray, reveal: np.ndarray | None = None,
              solid: Rect | None = None) -> None:
    """dst <- src over dst with alpha ay[:, None] * ax[None, :], times reveal[src's alpha
    channel] (the layer's reveal field, Renderer.reveal_alpha); copied where alpha is 1
    (`solid`, in dst's coordinates). A convex mix per pixel: nothing comes out darker or
    brighter than both pictures."""
    h, w = dst.shape[:2]
    if solid is not None:
        c0, r0, c1, r1 = max(0, solid[0]), max(0, solid[1]), min(w, solid[2]), min(h, solid[3])
        solid = (c0, r0, c1, r1) if c1 > c0 and r1 > r0 else None
    if solid is not None:
        c0, r0, c1, r1 = solid
        dst[r0:r1, c0:c1] = src[r0:r1, c0:c1]
        strips = [(slice(0, r0), slice(None)), (slice(r1, None), slice(None)),
                  (slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, None))]
    else:
        strips = [(slice(None), slice(None))]
    for rs, cs in strips:
        a = np.outer(ay[rs], ax[cs])
        if not a.size:
            continue
        if reveal is not None:
            a *= reveal[src[rs, cs, 3]]
        dst[rs, cs] = cv2.blendLinear(src[rs, cs], dst[rs, cs], a, 1.0 - a)
