"""The geometry of one outpainting step, as pure functions over RGB uint8 arrays.

The previous image is shrunk and pasted at the centre of a new canvas whose border is noise
around the colours of the pasted image's edge (inpainting models need some colour to start
from). Its side has the parity of the canvas's, so it sits exactly centred (a whole number of
pixels from each edge), and the real zoom factor is size / side (`step_factor`), not quite the
one asked for. The mask covers the border plus `overlap` pixels of the pasted image, so the
model may blend across the seam; the inpainting pipeline binarises the mask, so the soft
transition is made afterwards: the exact shrunk image goes back into the centre, faded in
across the overlap. The VAE round trip then cannot blur or shift the centre, and consecutive
images agree pixel for pixel inside the overlap band.
"""
from __future__ import annotations

import cv2
import numpy as np

from .errors import EverzoomError


def pasted_box(size: int, zoom: float) -> tuple[int, int]:
    """Top-left corner and side of the shrunk previous image inside a size x size canvas: the
    side nearest size / zoom with the parity of `size`, so that it is exactly centred."""
    exact = size / zoom
    side = int(round(exact))
    if (size - side) % 2:
        side += 1 if side < exact else -1
    return (size - side) // 2, side


def step_factor(size: int, zoom: float) -> float:
    """The real zoom factor between consecutive images: size / (pasted side)."""
    return size / pasted_box(size, zoom)[1]


def default_overlap(size: int, zoom: float) -> int:
    """1/16 of the pasted side (16 px for 512 px images at 2x), at least 1."""
    return max(1, pasted_box(size, zoom)[1] // 16)


def check_overlap(overlap: int, size: int, zoom: float) -> None:
    """The overlap must leave the inner half of the pasted image exact."""
    side = pasted_box(size, zoom)[1]
    if not 0 <= overlap <= side // 4:
        raise EverzoomError(f"--overlap {overlap} must be from 0 to {side // 4}: a quarter of the {side}-pixel "
                            f"previous image pasted into each {size}-pixel one, so that its inner half stays exact")


def canvas_and_mask(previous: np.ndarray, zoom: float, overlap: int,
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
    mask[at + overlap:at + side - overlap, at + overlap:at + side - overlap] = 0
    return canvas, mask, small


def paste_back(painted: np.ndarray, small: np.ndarray, overlap: int) -> np.ndarray:
    """`painted` with the exact shrunk previous image in its centre, blended into the painted
    surroundings across the outer `overlap` pixels of the pasted square."""
    size, side = painted.shape[0], small.shape[0]
    at = (size - side) // 2
    d = np.minimum(np.arange(side), np.arange(side)[::-1]) + 0.5
    ramp = np.clip(d / overlap, 0, 1) if overlap else np.ones(side)
    ramp = ramp * ramp * (3 - 2 * ramp)
    alpha = np.minimum.outer(ramp, ramp)[:, :, None]
    out = painted.copy()
    region = out[at:at + side, at:at + side].astype(np.float32)
    out[at:at + side, at:at + side] = np.clip(region + alpha * (small.astype(np.float32) - region) + 0.5,
                                              0, 255).astype(np.uint8)
    return out
