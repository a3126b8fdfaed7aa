"""`everzoom inspect`: one picture of how each image sits in the next, and the same as data."""
from __future__ import annotations

import cv2
import numpy as np

from .register import PairFit

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


def pair_row(inner: np.ndarray, outer: np.ndarray, fit: PairFit) -> np.ndarray:
    """inner | outer with the inner image's measured rectangle drawn on it | the numbers."""
    a, sa = _fit_height(inner, ROW_H)
    b, sb = _fit_height(outer, ROW_H)
    b = b.copy()
    colour = GOOD if fit.ok else BAD
    ih, iw = inner.shape[:2]
    corners = np.array([[-0.5, -0.5], [iw - 0.5, -0.5], [iw - 0.5, ih - 0.5], [-0.5, ih - 0.5]])
    pts = (corners * fit.scale_px + [fit.tx, fit.ty] + 0.5) * sb
    cv2.polylines(b, [np.round(pts * 16).astype(np.int32)], True, colour, 2, cv2.LINE_AA, 4)
    panel = np.full((ROW_H, 300, 3), 255, np.uint8)
    _text(panel, [f"{fit.inner} in {fit.outer}", f"zoom factor {fit.zoom:.4f}",
                  f"offset {fit.offset[0]:+.2f}, {fit.offset[1]:+.2f} px", f"confidence {fit.confidence:.3f}",
                  "ok" if fit.ok else "DOES NOT MATCH"], 10, colour if not fit.ok else (0, 0, 0))
    gap = np.full((ROW_H, 8, 3), 255, np.uint8)
    return np.hstack([a, gap, b, gap, panel])


def report_image(images: list[np.ndarray], fits: list[PairFit]) -> np.ndarray:
    """All pairs, one row each, innermost pair on top."""
    rows = [pair_row(images[k], images[k + 1], f) for k, f in enumerate(fits)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.vstack(rows)
