"""Where each inner image meets the outer one: decided once per layer, per side, from the two
images compared band by band on the inner image's grid (the outer resampled there after
registration and local alignment; seam.py).

Each side is one of three kinds, and meets the layer behind the way that hides it at the least
cost in detail:
- the images agree: the inner image keeps its detail to within MIN_FEATHER pixels of its edge;
- the detail was redrawn (an outpainter's new detail on the same shapes): the inner image
  crosses into the outer one over --seam-width pixels of the frame inside its edge (a few
  pixels of the frame hide a change of texture at any scale);
- the shapes were repainted (SD and Flux inpainting repaint whole shapes across the border):
  no crossing at the edge can hide that, so a seam runs round the footprint where the two
  agree again (as close to the edge as the cost allows), and the zone between it and the edge
  is given to the outer image while the inner image is small. The layer's `reveal` field says
  how deep inside that zone each pixel is (0 at the edge, 1 at the seam, REACH and beyond well
  inside); the renderer shows the layer beyond a boundary that moves, over its zoom step,
  from the seam out to the edge (render.py): its own pixels come in as a slow, soft wipe, and
  the frame whose view is exactly the layer shows that image as it is.
A colour step at an edge is spread by the same crossing. Every crossing is a convex mix per
frame pixel (render.py), so no frame pixel is ever darker or brighter than all the images it
mixes (a band-by-band join of two images whose detail differs is not: it makes values neither
has; nor is a colour offset eased into the inner image, nor its border mirrored outwards).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .seam import (at_edges, band_disagreements, centre, cost_map, full_depths, inside_distance, seam_depths,
                   shape_disagreement)

AGREE = 0.28             # disagreement of the finest detail above the pair's own, at the edge: up to this it agrees,
COLOUR_OK = 8.0          # ... and a colour step along the edge up to this many grey levels
SHAPES = 0.45            # disagreement of the shapes at the edge (seam.shape_disagreement): above it they
                         # were repainted, and a seam and a zone that fades in take over
EDGE_BAND = 0.03         # the detail is compared within this fraction of the side of each edge
COLOUR_SIGMA = 0.03      # the colours are compared blurred by this fraction of the side
REACH = 2.0              # the reveal field's top, in zone depths (255 in the field)
SIDES = ("left", "top", "right", "bottom")


@dataclass
class Blend:
    """One layer's meeting with the layer behind it."""

    reveal: np.ndarray | None                   # uint8: how deep inside the zone each pixel is (None: no zone)
    interior: tuple[int, int, int, int]         # px from the left, top, right, bottom edge beyond which reveal is 255
    depths: list[np.ndarray] = field(repr=False)  # per side, the seam's depth (px) at each row or column (0: no zone)
    detail: tuple[float, float, float, float]   # per side, how much more the finest detail disagrees than the pair's
    colour: tuple[float, float, float, float]   # per side, the colour step along the edge, grey levels
    shapes: tuple[float, float, float, float]   # per side, how much the shapes disagree at the edge

    @property
    def zones(self) -> tuple[bool, bool, bool, bool]:
        """Per side, whether the shapes were repainted (a seam and a zone that fades in)."""
        return tuple(bool(d.max() > 0) for d in self.depths)

    @property
    def seams(self) -> tuple[bool, bool, bool, bool]:
        """Per side, whether it does not simply agree: the renderer softens its edge over a few
        frame pixels (redrawn detail crosses there; a zone's own pixels arrive there last)."""
        return tuple(z or d > AGREE or c > COLOUR_OK for z, d, c in zip(self.zones, self.detail, self.colour, strict=True))

    def seam_path(self) -> np.ndarray:
        """The seam as a closed polyline of inner-image pixel coordinates ((n, 2) float32)."""
        h, w = len(self.depths[0]), len(self.depths[1])
        step = max(1, min(h, w) // 256)
        inside = (inside_distance(self.depths, (h, w), step) > 0).astype(np.uint8)
        contours, _ = cv2.findContours(inside, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return np.zeros((0, 2), np.float32)
        return max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float32) * step + step / 2

    def as_dict(self) -> dict:
        out = {}
        for k, side in enumerate(SIDES):
            d = self.depths[k]
            kind = ("shapes repainted" if self.zones[k] else "detail redrawn" if self.detail[k] > AGREE else
                    "colours differ" if self.colour[k] > COLOUR_OK else "agrees")
            out[side] = {"kind": kind, "seam_px": {"least": round(float(d.min()), 1),
                                                   "median": round(float(np.median(d)), 1),
                                                   "most": round(float(d.max()), 1)},
                         "detail_disagreement": round(self.detail[k], 3), "colour_step": round(self.colour[k], 1),
                         "shape_disagreement": round(self.shapes[k], 3)}
        return out


def outer_on_inner_grid(outer: np.ndarray, inner_shape: tuple[int, int], matrix: np.ndarray) -> np.ndarray:
    """The outer image resampled onto the inner image's pixel grid; `matrix` (2x3) maps inner
    pixel indices to outer pixel indices."""
    h, w = inner_shape
    return cv2.warpAffine(outer, matrix.astype(np.float64), (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def solid_insets(field: np.ndarray) -> tuple[int, int, int, int]:
    """How far in from each side (left, top, right, bottom) the field is below 255: each such
    pixel counts for the side it is nearest, so inside the rectangle these insets leave, the
    layer is always fully opaque."""
    h, w = field.shape
    ys, xs = np.nonzero(field < 255)
    if not len(ys):
        return 0, 0, 0, 0
    distance = np.stack([xs, ys, w - 1 - xs, h - 1 - ys])
    nearest = distance.argmin(axis=0)
    return tuple(int(distance[s][nearest == s].max() + 1) if (nearest == s).any() else 0 for s in range(4))


def colour_steps(inner: np.ndarray, outer_seen: np.ndarray, sigma: float) -> np.ndarray:
    """Per side, the colour step along its edge (largest channel, grey levels): the two images'
    low-pass colours compared there, over the middle of the side."""
    blur = lambda im: cv2.GaussianBlur(im.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    step = blur(outer_seen) - blur(inner)
    h, w = step.shape[:2]
    parts = (step[h // 4:-h // 4, :2], step[:2, w // 4:-w // 4], step[h // 4:-h // 4, -2:], step[-2:, w // 4:-w // 4])
    return np.array([float(np.abs(part.reshape(-1, 3).mean(axis=0)).max()) for part in parts])


def reveal_field(depths: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Per pixel, its distance past each zone side's seam over that seam's depth (the least over
    those sides), REACH -> 255."""
    h, w = shape
    u, v = np.arange(w) + 0.5, np.arange(h) + 0.5
    reach = np.full((h, w), REACH, np.float32)
    for side, d in enumerate(depths):
        if not d.max() > 0:
            continue
        depth = np.maximum(d, 1.0)
        if side == 0:
            r = u[None, :] / depth[:, None]
        elif side == 1:
            r = v[:, None] / depth[None, :]
        elif side == 2:
            r = (w - u)[None, :] / depth[:, None]
        else:
            r = (h - v)[:, None] / depth[None, :]
        reach = np.minimum(reach, r)
    return np.round(255 / REACH * np.clip(reach, 0, REACH)).astype(np.uint8)


def blend(inner: np.ndarray, outer_seen: np.ndarray, zoom: float) -> Blend:
    """How the inner image meets the outer one (already on the inner's grid, see
    outer_on_inner_grid), `zoom` times wider."""
    h, w = inner.shape[:2]
    maps, level = band_disagreements(inner, outer_seen, zoom)
    if not maps:  # too small to compare: it meets the layer behind as a clean pair does
        flat = [np.zeros(h if side in (0, 2) else w, np.float32) for side in range(4)]
        return Blend(None, (0, 0, 0, 0), flat, (0.0,) * 4, (0.0,) * 4, (0.0,) * 4)
    detail = at_edges(maps[0], EDGE_BAND, skip=1) - centre(maps[0])
    shapes = shape_disagreement(inner, outer_seen)
    depths = [np.zeros(h if side in (0, 2) else w, np.float32) for side in range(4)]
    if (shapes > SHAPES).any():
        found = full_depths(seam_depths(cost_map(maps)), level, (h, w))
        depths = [d if s > SHAPES else z for d, z, s in zip(found, depths, shapes, strict=True)]
    reveal = reveal_field(depths, (h, w)) if any(d.max() > 0 for d in depths) else None
    colour = colour_steps(inner, outer_seen, COLOUR_SIGMA * min(h, w))
    return Blend(reveal, solid_insets(reveal) if reveal is not None else (0, 0, 0, 0), depths,
                 tuple(float(x) for x in detail), tuple(float(x) for x in colour), tuple(float(x) for x in shapes))
