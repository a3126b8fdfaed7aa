"""Debug overlays drawn on a finished frame: layer rectangles and centres, frame and zoom facts."""
from __future__ import annotations

import cv2
import numpy as np

from .render import Renderer
from .stack import View

DRAWN = (60, 255, 60)     # pure: the shared harness's seams.py finds the layer edges by it
HIDDEN = (150, 150, 150)
BAND = (255, 150, 0)      # where the blend band of a drawn layer ends inside it
SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 pixel


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * (1 << SHIFT))), int(round(y * (1 << SHIFT)))


def draw_overlay(frame: np.ndarray, renderer: Renderer, view: View, index: int, zoom_level: float) -> np.ndarray:
    """A copy of `frame` with every layer's rectangle (green: drawn, grey: hidden) and centre
    cross, the inner edge of each drawn layer's blend band (orange, where it is at least a pixel
    wide), plus the frame index, zoom level and the drawn layers."""
    out = frame.copy()
    drawn = {p.index for p in renderer.visible(view)}
    for k in range(len(renderer.stack)):
        p = renderer.placement(k, view)
        if p.right - p.left < 2:
            continue
        colour = DRAWN if k in drawn else HIDDEN
        if k in drawn and k != max(drawn):  # the base is drawn opaque: no band
            _draw_band(out, renderer, view, p)  # first, so the layer's green edge stays on top
        cv2.rectangle(out, _pt(p.left, p.top), _pt(p.right - 1, p.bottom - 1), colour, 1, cv2.LINE_AA, SHIFT)
        cx, cy = (p.left + p.right) / 2, (p.top + p.bottom) / 2
        arm = min(8.0, (p.right - p.left) / 8)
        cv2.line(out, _pt(cx - arm, cy), _pt(cx + arm, cy), colour, 1, cv2.LINE_AA, SHIFT)
        cv2.line(out, _pt(cx, cy - arm), _pt(cx, cy + arm), colour, 1, cv2.LINE_AA, SHIFT)
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
    widths, outsets = renderer.band(p.index, view)
    per_frame = (p.right - p.left) / renderer.stack.layers[p.index].size[0]
    inset = [(w - o) * per_frame for w, o in zip(widths, outsets, strict=True)]
    if max(w * per_frame for w in widths) < 1:
        return
    left, top = p.left + inset[0], p.top + inset[1]
    right, bottom = p.right - inset[2], p.bottom - inset[3]
    if right - left > 2 and bottom - top > 2:
        cv2.rectangle(out, _pt(left, top), _pt(right - 1, bottom - 1), BAND, 1, cv2.LINE_AA, SHIFT)
