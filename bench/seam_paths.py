"""Seam visibility where the transitions really are: the harness's seams.py measures the step
across each inner layer's rectangle (from a --debug render's green lines); once a seam leaves
the edge, the crossing is inside the layer, along its seam path. This scores both, the same
way, in everzoom's own frames.

    python bench/seam_paths.py FOLDER [--size 512] [--steps 24] [--every 3] [--options "..."]

For every rendered frame (every --every), each drawn inner layer contributes its rectangle's
edges and, while its mask holds (render.py cover > 0.5), its seam path mapped into the frame.
Along each line, at points 2 px apart, the step across it (|I(p + 2n) - I(p - 2n)|, grey
levels, n the line's normal) is compared with the same step on parallel lines 6, 9 and 12 px
to either side; a stretch of 60 px gives one ratio (mean step on / median step near), as in
seams.py. Prints p90 / median / max per kind (rectangle, seam path).
"""
from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import cv2
import numpy as np

import everzoom

STRETCH = 60      # frame px of line per ratio
OFFSETS = (-12, -9, -6, 6, 9, 12)


def sample(grey: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a grey frame at (n, 2) points (x, y); NaN outside."""
    h, w = grey.shape
    x, y = points[:, 0] - 0.5, points[:, 1] - 0.5
    inside = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
    x0, y0 = np.clip(np.floor(x).astype(int), 0, w - 2), np.clip(np.floor(y).astype(int), 0, h - 2)
    fx, fy = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
    v = (grey[y0, x0] * (1 - fx) * (1 - fy) + grey[y0, x0 + 1] * fx * (1 - fy)
         + grey[y0 + 1, x0] * (1 - fx) * fy + grey[y0 + 1, x0 + 1] * fx * fy)
    return np.where(inside, v, np.nan)


def resampled(polyline: np.ndarray, closed: bool, spacing: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Points every `spacing` px along a polyline and the unit normal at each."""
    pts = np.vstack([polyline, polyline[:1]]) if closed else polyline
    seg = np.diff(pts, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    keep = length > 1e-6
    seg, length, start = seg[keep], length[keep], pts[:-1][keep]
    if not len(seg):
        return np.zeros((0, 2)), np.zeros((0, 2))
    along = np.concatenate([[0], np.cumsum(length)])
    s = np.arange(0, along[-1], spacing)
    k = np.clip(np.searchsorted(along, s, side="right") - 1, 0, len(seg) - 1)
    t = (s - along[k]) / length[k]
    points = start[k] + seg[k] * t[:, None]
    tangent = seg[k] / length[k][:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return points, normal


def ratios(grey: np.ndarray, points: np.ndarray, normal: np.ndarray) -> list[float]:
    if len(points) < STRETCH // 2:
        return []
    on = np.abs(sample(grey, points + 2 * normal) - sample(grey, points - 2 * normal))
    near = np.stack([np.abs(sample(grey, points + (o + 2) * normal) - sample(grey, points + (o - 2) * normal))
                     for o in OFFSETS])
    out = []
    per = STRETCH // 2
    for i in range(0, len(points) - per + 1, per):
        a, b = on[i:i + per], near[:, i:i + per]
        if np.isnan(a).mean() > 0.1 or np.isnan(b).mean() > 0.3:
            continue
        out.append(float(np.nanmean(a) / max(np.nanmedian(np.nanmean(b, axis=1)), 0.5)))
    return out


def frame_lines(plan, index: int) -> dict[str, list]:
    r = plan.renderer
    view = plan.path.view(index)
    lines = {"rectangle": [], "seam": []}
    for p in r.visible(view)[1:]:
        rect = np.array([[p.left, p.top], [p.right, p.top], [p.right, p.bottom], [p.left, p.bottom]])
        lines["rectangle"].append(resampled(rect, True))
        layer = r.stack.layers[p.index]
        seam = getattr(layer, "seam", None)  # (a renderer without seams has its crossings at the rectangles)
        if seam is not None and len(seam) and r.cover(p.index, view) > 0.5:
            per_frame = (p.right - p.left) / layer.size[0]
            lines["seam"].append(resampled(np.array([p.left, p.top]) + seam * per_frame, True))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--options", default="", help="render options as keyword=JSON value, e.g. 'crop=0.8'")
    args = ap.parse_args()
    extra = {key: json.loads(value) for key, value in (item.split("=", 1) for item in shlex.split(args.options))}
    plan = everzoom.plan(args.folder, steps=args.steps, size=(args.size, args.size), **extra)
    found: dict[str, list[float]] = {"rectangle": [], "seam": []}
    for i in range(0, plan.path.frames, args.every):
        grey = cv2.cvtColor(plan.zoom_frame(i), cv2.COLOR_RGB2GRAY).astype(np.float32)
        for kind, lines in frame_lines(plan, i).items():
            for points, normal in lines:
                found[kind] += ratios(grey, points, normal)
    for kind, values in found.items():
        if values:
            v = np.array(values)
            print(f"{kind:<9} p90 {np.percentile(v, 90):.3f}, median {np.median(v):.3f}, max {v.max():.3f} "
                  f"({len(v)} stretches)")
        else:
            print(f"{kind:<9} none")


if __name__ == "__main__":
    main()
