"""Pair fits chained into world placements: the Stack the renderer draws."""
from __future__ import annotations

import numpy as np

from ..stack import Layer, Stack
from .pair import PairFit


def outer_layer(inner: Layer, fit: PairFit, image: np.ndarray, name: str) -> Layer:
    """The layer of `image`, placed so that `inner` sits inside it as `fit` measured."""
    left, top, _, _ = inner.rect()
    pixel = inner.pixel / fit.scale_px       # world size of one outer pixel
    oh, ow = image.shape[:2]
    # inner px (u, v) is world left + (u + 0.5) * inner.pixel and outer px a*u + t
    o_left = left + 0.5 * inner.pixel - (fit.tx + 0.5) * pixel
    o_top = top + 0.5 * inner.pixel - (fit.ty + 0.5) * pixel
    return Layer(image, o_left + ow * pixel / 2, o_top + oh * pixel / 2, ow * pixel, name)


def placed_stack(images: list[np.ndarray], names: list[str], fits: list[PairFit]) -> Stack:
    """Chain the pair fits into world placements: image 0 is 1 wide at the origin."""
    if len(fits) != len(images) - 1:
        raise ValueError(f"{len(images)} images need {len(images) - 1} pair fits, not {len(fits)}")
    layers = [Layer(images[0], 0.0, 0.0, 1.0, names[0])]
    for fit, image, name in zip(fits, images[1:], names[1:]):
        layers.append(outer_layer(layers[-1], fit, image, name))
    return Stack(layers)
