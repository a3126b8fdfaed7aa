"""Colour continuity across layer seams.

Registration measures, per pair, the per-channel gain and offset that map the inner image's
colours onto the outer one's in their overlap. The inner image is corrected towards the outer
one only in its untrusted border band (the crop), fading from fully corrected at its edge to
untouched at the band's depth: its interior keeps its own colours, and no brightness step shows
where it meets the layer behind. With --crop 1 the whole image is trusted and nothing changes.
"""
from __future__ import annotations

import numpy as np

from .render import smoothstep


def edge_weight(h: int, w: int, depth: float) -> np.ndarray:
    """1 at the image border, falling smoothly to 0 at `depth` (a fraction of each side) inside."""
    u = np.minimum(np.arange(w) + 0.5, w - 0.5 - np.arange(w)) / (depth * w)
    v = np.minimum(np.arange(h) + 0.5, h - 0.5 - np.arange(h)) / (depth * h)
    return 1.0 - np.outer(smoothstep(v), smoothstep(u))


def match_border(image: np.ndarray, gain: np.ndarray, offset: np.ndarray, depth: float) -> np.ndarray:
    """`image` with its border band corrected by colour -> gain * colour + offset (unchanged
    where the correction moves none of the image's colours by a grey level)."""
    levels = np.percentile(image[::4, ::4].reshape(-1, image.shape[-1]), [1, 99], axis=0)
    if depth <= 0 or np.abs(levels * gain + offset - levels).max() < 1.0:
        return image
    h, w = image.shape[:2]
    weight = edge_weight(h, w, depth)[:, :, None].astype(np.float32)
    img = image.astype(np.float32)
    corrected = img * gain.astype(np.float32) + offset.astype(np.float32)
    return np.clip(img + weight * (corrected - img) + 0.5, 0, 255).astype(np.uint8)
