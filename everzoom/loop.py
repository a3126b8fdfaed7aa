"""Closed loops: a series whose outermost image sits inside its innermost one (a zoomquilt)
zooms forever.

The closing pair (the outermost image inside the innermost, registered like any pair) places
a copy of the outermost layer inside the innermost one: a similarity T of the world, scale s
< 1. The world is re-centred on T's fixed point, so that T is a pure scaling about the origin:
copy m of any layer is the layer scaled by s**m, and the view at log width L - log(1/s) shows
what the view at L shows. The renderer draws from the layers and enough copies inside them;
the camera path is periodic in log width (path.py), so the frame after the last is the first
with the path, its speed and the blend continuous across the wrap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .register import PairFit
from .stack import Layer, Stack


@dataclass(frozen=True)
class Loop:
    """How one period of a closed loop repeats: each copy of the series is `scale` times the
    size of the one around it, about the world's origin (the loop's fixed point)."""

    scale: float
    closing: PairFit            # the outermost image inside the innermost

    @property
    def log_period(self) -> float:
        """How far the log of the view width moves over one period."""
        return -math.log(self.scale)


def inner_layer(outer: Layer, fit: PairFit, image, name: str) -> Layer:
    """The layer of `image` placed inside `outer` as `fit` (image inside outer's image) measured."""
    left, top, _, _ = outer.rect()
    pixel = fit.scale_px * outer.pixel         # world size of one inner pixel
    i_left = left + (fit.tx + 0.5) * outer.pixel - 0.5 * pixel
    i_top = top + (fit.ty + 0.5) * outer.pixel - 0.5 * pixel
    h, w = image.shape[:2]
    return Layer(image, i_left + w * pixel / 2, i_top + h * pixel / 2, w * pixel, name)


def closed(stack: Stack, fit: PairFit) -> tuple[Stack, Loop]:
    """The stack re-centred on the loop's fixed point, and the loop."""
    outermost = stack.layers[-1]
    copy = inner_layer(stack.layers[0], fit, outermost.image, outermost.name)
    s = copy.width / outermost.width
    if not 0 < s < 1:
        raise ValueError(f"a closing pair must shrink the series, not scale it by {s}")
    # T(x) = s x + t maps the outermost layer onto its copy; its fixed point p = t / (1 - s)
    px = (copy.cx - s * outermost.cx) / (1 - s)
    py = (copy.cy - s * outermost.cy) / (1 - s)
    layers = [replace(layer, cx=layer.cx - px, cy=layer.cy - py) for layer in stack.layers]
    return Stack(layers), Loop(s, fit)


def copies(stack: Stack, loop: Loop, smallest: float) -> list[Layer]:
    """The stack with as many copies of the series inside it as frames need: down to layers
    narrower than `smallest` (world units), innermost first. Copies share their originals'
    pixels."""
    out = list(stack.layers)
    m = 0
    while out[0].width >= smallest:
        m += 1
        scale = loop.scale ** m
        out[:0] = [replace(layer, cx=layer.cx * scale, cy=layer.cy * scale, width=layer.width * scale)
                   for layer in stack.layers]
    return out
