"""`everzoom inspect`: one picture of how each image sits in the next, and the same as data."""
from __future__ import annotations

import cv2
import numpy as np

from .blend import Blend
from .local_align import LocalWarp
from .overlay import BAND as SEAM  # one orange for disagreeing sides, in frames and here
from .register import PairFit
from .seam import inside_distance

ROW_H = 240
GOOD, BAD = (60, 200, 60), (230, 40, 40)


def _fit_height(image: np.ndarray, h: int) -> tuple[np.ndarray, float]:
    scale = h / image.shape[0]
    return cv2.resize(image, (max(1, round(image.shape[1] * scale)), h), interpolation=cv2.INTER_AREA), scale


def _text(img: np.ndarray, lines: list[str], x: int, colour) -> None:
    y = 22
    for line in lines:
        cv2.putText(img, line, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
        y += 22


def draw_field(picture: np.ndarray, warp: LocalWarp, scale: float, grid: int = 12, magnify: float = 10) -> None:
    """Arrows of the local shift field on a grid (picture pixels = outer pixels * scale)."""
    x0, y0, x1, y1 = warp.box
    h, w = warp.field.shape[:2]
    for gy in np.linspace(0, h - 1, grid).astype(int):
        for gx in np.linspace(0, w - 1, grid).astype(int):
            dx, dy = warp.field[gy, gx]
            start = np.array([x0 + gx, y0 + gy]) * scale
            end = start + np.array([dx, dy]) * scale * magnify
            cv2.arrowedLine(picture, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)),
                            SEAM, 1, cv2.LINE_AA, tipLength=0.3)


def draw_seam(picture: np.ndarray, blend: Blend, scale: float) -> np.ndarray:
    """The inner image's picture with the zone outside its seam (where the outer image shows
    until the inner image's own pixels fade in) tinted orange, and the seam drawn."""
    h, w = picture.shape[:2]
    zone = inside_distance(blend.depths, (len(blend.depths[0]), len(blend.depths[1])), 1) <= 0
    zone = cv2.resize(zone.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    out = picture.copy()
    out[zone] = (0.6 * out[zone] + 0.4 * np.array(SEAM)).astype(np.uint8)
    path = np.round(blend.seam_path() * scale * 16).astype(np.int32)
    if len(path):
        cv2.polylines(out, [path], True, SEAM, 1, cv2.LINE_AA, 4)
    return out


def pair_row(inner: np.ndarray, outer: np.ndarray, fit: PairFit, blend: Blend | None = None,
             warp: LocalWarp | None = None) -> np.ndarray:
    """inner (its seam and faded zone drawn) | outer with the inner image's measured rectangle
    drawn on it (sides where the seam leaves the edge in orange) | the numbers."""
    a, sa = _fit_height(inner, ROW_H)
    b, sb = _fit_height(outer, ROW_H)
    b = b.copy()
    if blend:
        a = draw_seam(a, blend, sa)
    colour = GOOD if fit.ok else BAD
    ih, iw = inner.shape[:2]
    corners = np.array([[-0.5, -0.5], [iw - 0.5, -0.5], [iw - 0.5, ih - 0.5], [-0.5, ih - 0.5]])
    pts = (corners * fit.scale_px + [fit.tx, fit.ty] + 0.5) * sb
    corners = np.round(pts * 16).astype(np.int32)
    seams = blend.seams if blend else (False,) * 4
    for side, (start, stop) in enumerate(((3, 0), (0, 1), (1, 2), (2, 3))):  # left, top, right, bottom
        cv2.line(b, corners[start], corners[stop], SEAM if seams[side] else colour, 2, cv2.LINE_AA, 4)
    panel = np.full((ROW_H, 300, 3), 255, np.uint8)
    lines = [f"{fit.inner} in {fit.outer}", f"zoom factor {fit.zoom:.4f}",
             f"offset {fit.offset[0]:+.2f}, {fit.offset[1]:+.2f} px", f"confidence {fit.confidence:.3f}",
             "ok" if fit.ok else "DOES NOT MATCH"]
    if warp:
        draw_field(b, warp, sb)
        lines.append(f"border misaligned {warp.before:.2f} -> {warp.after:.2f} px")
    if blend:
        names = [n for n, s in zip(("left", "top", "right", "bottom"), seams) if s]
        lines += [f"seam leaves the edge: {', '.join(names) or 'nowhere'}",
                  f"deepest {max(float(d.max()) for d in blend.depths):.0f} px of the inner image"]
    _text(panel, lines, 10, colour if not fit.ok else (0, 0, 0))
    gap = np.full((ROW_H, 8, 3), 255, np.uint8)
    return np.hstack([a, gap, b, gap, panel])


def report_image(found) -> np.ndarray:
    """All pairs of an Inspection (api.py), one row each, innermost pair on top, and the pair
    that closes a loop last."""
    pairs = [(found.images[k], found.images[k + 1], f) for k, f in enumerate(found.fits)]
    if found.loop:
        pairs.append((found.images[-1], found.images[0], found.loop))
    blends = found.blends or [None] * len(pairs)
    warps = found.warps or [None] * len(pairs)
    rows = [pair_row(inner, outer, f, b, w) for (inner, outer, f), b, w in zip(pairs, blends, warps, strict=True)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.vstack(rows)
