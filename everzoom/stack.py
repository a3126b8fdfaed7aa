"""Layers placed in world coordinates, and the views that frames show.

World units: image 0 (the innermost) is 1 wide and nominally centred at (0, 0), y down. A layer
covers the world rectangle centred at (cx, cy), `width` wide, as tall as its aspect ratio says.
Pixel centres of an image W pixels wide sit at world x = cx + (u + 0.5 - W/2) * width/W.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


PAD = 32  # mirrored border kept around every pyramid level, in that level's pixels


@dataclass
class Layer:
    """One image and the world rectangle it covers; `reveal`: how deep inside the zone it gives
    up to the layer behind each pixel is (blend.py: 0 at the edge, 255 well inside its seam),
    below 255 only within `interior` (left, top, right, bottom, px) of its edges; `seams`: the
    sides that do not simply agree with the layer behind (softened over a few frame pixels);
    `seam`: the seam as a polyline of its pixels."""

    image: np.ndarray
    cx: float
    cy: float
    width: float
    name: str = ""
    reveal: np.ndarray | None = field(default=None, repr=False)
    interior: tuple[int, int, int, int] = (0, 0, 0, 0)
    seams: tuple[bool, bool, bool, bool] = (False, False, False, False)  # sides that do not simply agree
    seam: np.ndarray | None = field(default=None, repr=False)
    _pyramids: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def height(self) -> float:
        return self.width * self.image.shape[0] / self.image.shape[1]

    @property
    def pixel(self) -> float:
        """World size of one pixel of the full-resolution image."""
        return self.width / self.image.shape[1]

    def rect(self) -> tuple[float, float, float, float]:
        """World (left, top, right, bottom)."""
        return (self.cx - self.width / 2, self.cy - self.height / 2,
                self.cx + self.width / 2, self.cy + self.height / 2)

    def max_level(self) -> int:
        """Deepest pyramid level that is still at least 2 pixels on its short side."""
        return max(0, int(math.log2(min(self.image.shape[:2]) / 2)))

    def padded_level(self, n: int) -> np.ndarray:
        """Pyramid level n of the image as RGBA, its reveal field in the alpha channel (OpenCV
        resamples 4 channels over twice as fast as 3, so the field comes with the colours for free), with a
        mirrored border of PAD pixels, so resampling near the layer's edge reads real memory
        instead of assembling a border for every frame. Built once, on first use. Level-n pixel j
        (index j + PAD) sits at level-0 pixel j*2**n."""
        pyramid = self._pyramids.setdefault("rgba", [])
        if not pyramid:
            rgba = cv2.cvtColor(self.image, cv2.COLOR_RGB2RGBA)
            if self.reveal is not None:
                rgba[:, :, 3] = self.reveal
            pyramid.append(cv2.copyMakeBorder(rgba, PAD, PAD, PAD, PAD, cv2.BORDER_REFLECT_101))
        while len(pyramid) <= n:
            down = cv2.pyrDown(pyramid[-1][PAD:-PAD, PAD:-PAD])
            pyramid.append(cv2.copyMakeBorder(down, PAD, PAD, PAD, PAD, cv2.BORDER_REFLECT_101))
        return pyramid[n]

    def pixel_matrix(self, other: "Layer") -> np.ndarray:
        """2x3 matrix from this layer's pixel indices to `other`'s."""
        s = self.pixel / other.pixel
        left, top, _, _ = self.rect()
        o_left, o_top, _, _ = other.rect()
        # u -> world left + (u + 0.5) * pixel -> other (x - o_left) / other.pixel - 0.5
        return np.array([[s, 0.0, (left - o_left) / other.pixel + 0.5 * s - 0.5],
                         [0.0, s, (top - o_top) / other.pixel + 0.5 * s - 0.5]])


@dataclass
class View:
    """The world rectangle one output frame shows."""

    cx: float
    cy: float
    width: float
    out_w: int
    out_h: int

    @property
    def height(self) -> float:
        return self.width * self.out_h / self.out_w

    @property
    def pixel(self) -> float:
        return self.width / self.out_w

    def rect(self) -> tuple[float, float, float, float]:
        return (self.cx - self.width / 2, self.cy - self.height / 2,
                self.cx + self.width / 2, self.cy + self.height / 2)

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """World point -> continuous frame coordinates (pixel centres at i + 0.5)."""
        return ((x - self.cx) / self.pixel + self.out_w / 2,
                (y - self.cy) / self.pixel + self.out_h / 2)


def layer_affine(layer: Layer, level: int, view: View, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """2x3 matrix from pixel indices of pyramid level `level` (border excluded) to frame pixel
    indices minus `origin`."""
    step = 2 ** level
    s = layer.pixel * step / view.pixel
    left, top, _, _ = layer.rect()
    # level pixel j -> level-0 index j*step -> world left + (j*step + 0.5) * pixel
    fx, fy = view.to_frame(left + 0.5 * layer.pixel, top + 0.5 * layer.pixel)
    return np.array([[s, 0.0, fx - 0.5 - origin[0]],
                     [0.0, s, fy - 0.5 - origin[1]]], dtype=np.float64)


def fit_width(layer: Layer, out_w: int, out_h: int) -> float:
    """Width of the largest view of the output's aspect ratio inside the layer (centre crop)."""
    return min(layer.width, layer.height * out_w / out_h)


@dataclass
class Stack:
    """The layers, innermost first, in world placement."""

    layers: list[Layer]

    @classmethod
    def nominal(cls, images: list[np.ndarray], zoom_factor: float,
                names: list[str] | None = None) -> "Stack":
        """Each image k centred at the origin, zoom_factor**k wide: a perfect outpainting series."""
        names = names or [f"image {i}" for i in range(len(images))]
        layers = [Layer(im, 0.0, 0.0, zoom_factor ** k, nm) for k, (im, nm) in enumerate(zip(images, names))]
        return cls(layers)

    def __len__(self) -> int:
        return len(self.layers)

    def zoom_factors(self) -> list[float]:
        return [b.width / a.width for a, b in zip(self.layers, self.layers[1:])]

    def max_depth(self) -> int:
        """Number of zoom-factor steps between the outermost and the innermost layer."""
        return len(self.layers) - 1

    def log_span(self) -> float:
        return math.log(self.layers[-1].width / self.layers[0].width)
