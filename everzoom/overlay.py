"""Debug overlays drawn on a finished frame: layer rectangles and centres, frame and zoom facts."""
from __future__ import annotations

import cv2
import numpy as np

from .render import Renderer
from .stack import View

DRAWN = (60, 255, 60)     # pure: the shared harness's seams.py finds the layer edges by it
HIDDEN = (150, 150, 150)
BAND = (255, 150, 0)      # the seam of a drawn layer
SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 pixel
OUTSIDE = 4  # frame pixels beyond the frame where lines are cut off (a deep series' outer layers are
             # millions of pixels across: their corners do not fit OpenCV's 32-bit sub-pixel coordinates)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * (1 << SHIFT))), int(round(y * (1 << SHIFT)))


def _line(out: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour) -> None:
    """A horizontal or vertical line, cut to the frame (nothing where it lies outside)."""
    h, w = out.shape[:2]
    lo_x, hi_x, lo_y, hi_y = -OUTSIDE, w + OUTSIDE, -OUTSIDE, h + OUTSIDE
    if max(x0, x1) < lo_x or min(x0, x1) > hi_x or max(y0, y1) < lo_y or min(y0, y1) > hi_y:
        return
    clip = lambda v, lo, hi: min(max(v, lo), hi)  # noqa: E731
    cv2.line(out, _pt(clip(x0, lo_x, hi_x), clip(y0, lo_y, hi_y)), _pt(clip(x1, lo_x, hi_x), clip(y1, lo_y, hi_y)),
             colour, 1, cv2.LINE_AA, SHIFT)


def _rectangle(out: np.ndarray, left: float, top: float, right: float, bottom: float, colour) -> None:
    """The outline of a rectangle (pixel centres left..right, top..bottom), cut to the frame."""
    for x0, y0, x1, y1 in ((left, top, right, top), (right, top, right, bottom),
                           (left, bottom, right, bottom), (left, top, left, bottom)):
        _line(out, x0, y0, x1, y1, colour)


def draw_overlay(frame: np.ndarray, renderer: Renderer, view: View, index: int, zoom_level: float) -> np.ndarray:
    """A copy of `frame` with every layer's rectangle (green: drawn, grey: hidden) and centre
    cross, each drawn layer's seam while it gives up its zone (orange), plus the frame index, zoom
    level and the drawn layers."""
    out = frame.copy()
    drawn = {p.index for p in renderer.visible(view)}
    for k in range(len(renderer.stack)):
        p = renderer.placement(k, view)
        if p.right - p.left < 2:
            continue
        colour = DRAWN if k in drawn else HIDDEN
        if k in drawn and k != max(drawn):  # the base is drawn opaque: no band
            _draw_band(out, renderer, view, p)  # first, so the layer's green edge stays on top
        _rectangle(out, p.left, p.top, p.right - 1, p.bottom - 1, colour)
        cx, cy = (p.left + p.right) / 2, (p.top + p.bottom) / 2
        arm = min(8.0, (p.right - p.left) / 8)
        _line(out, cx - arm, cy, cx + arm, cy, colour)
        _line(out, cx, cy - arm, cx, cy + arm, colour)
    lines = [f"frame {index}", f"zoom {zoom_level:.3f}",
             "layers " + ",".join(str(k) for k in sorted(drawn))]
    scale = max(0.35, out.shape[0] / 1400)
    y = 0
    for text in lines:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y += th + base + 4
        cv2.rectangle(out, (2, y - th - base - 2), (8 + tw, y + 2), (0, 0, 0), -1)
        cv2.putText(out, text, (5, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _draw_band(out: np.ndarray, renderer: Renderer, view: View, p) -> None:
    """The layer's seam (where it gives way to the layer behind while it is small), in the frame."""
    layer = renderer.stack.layers[p.index]
    if layer.seam is None or not len(layer.seam) or renderer.cover(p.index, view) <= 0.0:
        return
    per_frame = (p.right - p.left) / layer.size[0]
    points = np.array([p.left, p.top]) + layer.seam * per_frame
    h, w = out.shape[:2]
    if (p.right - p.left) < 8 or not ((points[:, 0] > -OUTSIDE) & (points[:, 0] < w + OUTSIDE)).any():
        return
    clipped = np.clip(points, -OUTSIDE, [w + OUTSIDE, h + OUTSIDE])
    cv2.polylines(out, [np.round(clipped * (1 << SHIFT)).astype(np.int32)], True, BAND, 1, cv2.LINE_AA, SHIFT)
