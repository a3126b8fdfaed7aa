"""The geometry of one outpainting step, as pure functions over RGB uint8 arrays.

The previous image is shrunk by the zoom factor and pasted at the centre of a new canvas whose
border is noise around the colours of the pasted image's edge (inpainting models need some
colour to start from). The mask covers the border plus `overlap` pixels of the pasted image, so
the model may blend across the seam. After inpainting, the exact shrunk image goes back into
the centre, feathered across the overlap: the VAE round trip cannot blur or shift the centre,
and consecutive images agree pixel for pixel there.
"""
from __future__ import annotations

import cv2
import numpy as np


def pasted_box(size: int, zoom: float) -> tuple[int, int]:
    """Top-left corner and side of the shrunk previous image inside a size x size canvas."""
    side = int(round(size / zoom))
    return (size - side) // 2, side


def canvas_and_mask(previous: np.ndarray, zoom: float, overlap: int, mask_blur: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(canvas to inpaint, mask: 255 = paint, the shrunk previous image)."""
    size = previous.shape[0]
    at, side = pasted_box(size, zoom)
    small = cv2.resize(previous, (side, side), interpolation=cv2.INTER_AREA)
    edge = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]]).astype(np.float32)
    noise = rng.normal(edge.mean(axis=0), edge.std(axis=0) + 8, (size, size, 3))
    canvas = np.clip(cv2.GaussianBlur(noise, (0, 0), 2) + 0.5, 0, 255).astype(np.uint8)
    canvas[at:at + side, at:at + side] = small
    mask = np.full((size, size), 255, np.uint8)
    keep = min(overlap, side // 2 - 1)
    mask[at + keep:at + side - keep, at + keep:at + side - keep] = 0
    if mask_blur > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), mask_blur)
        mask[at + side // 2 - 1:at + side // 2 + 1, at + side // 2 - 1:at + side // 2 + 1] = 0
    return canvas, mask, small


def paste_back(painted: np.ndarray, small: np.ndarray, overlap: int) -> np.ndarray:
    """`painted` with the exact shrunk previous image in its centre, blended into the painted
    surroundings across the outer `overlap` pixels of the pasted square."""
    size, side = painted.shape[0], small.shape[0]
    at = (size - side) // 2
    d = np.minimum(np.arange(side), np.arange(side)[::-1]) + 0.5
    ramp = np.clip(d / max(overlap, 1), 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    alpha = np.minimum.outer(ramp, ramp)[:, :, None]
    out = painted.copy()
    region = out[at:at + side, at:at + side].astype(np.float32)
    out[at:at + side, at:at + side] = np.clip(region + alpha * (small.astype(np.float32) - region) + 0.5,
                                              0, 255).astype(np.uint8)
    return out
