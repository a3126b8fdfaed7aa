"""The one pipeline from a source to a Plan: load, order, place (from a generated folder's
manifest, by registration, or nominally), colour, and the camera path. The Plan is plain,
picklable data: the renderer, a cluster's workers and the web page all consume it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .blend import Blend, blend, outer_on_inner_grid
from .colour import match_border
from .generate import generated_series
from .images import load_images
from .local_align import LocalWarp, local_warp
from .options import RenderOptions
from .ordering import Order, sort_images
from .overlay import draw_overlay
from .path import CameraPath
from .register import (PairFit, check, describe, likely_factor, nominal_fit, outermost_first, placed_stack,
                       register, snap)
from .render import Renderer
from .stack import Stack
from .timeline import plan_depths, read_timing, step_times

log = logging.getLogger("everzoom")

Progress = Callable[[str, int, int], None]  # (stage, done, total): "sort", "register", "render"
DEFAULT_ZOOM = 2.0


@dataclass
class Plan:
    """Everything needed to render: the placed layers, the path and the renderer."""

    stack: Stack
    path: CameraPath
    renderer: Renderer
    options: RenderOptions
    hold_frames: int = 0
    blends: list[Blend | None] = field(default_factory=list)  # per layer (the outermost has none)
    warps: list[LocalWarp] = field(default_factory=list)  # per pair, innermost first (--no-local-align: none)
    pixels_at: str | None = None  # --shared-input: the folder where the layers' pixels wait (cluster.py)

    @property
    def size(self) -> tuple[int, int]:
        return self.path.out_w, self.path.out_h

    @property
    def frame_count(self) -> int:
        return self.path.frames + 2 * self.hold_frames

    def zoom_frame(self, index: int) -> np.ndarray:
        """Frame `index` of the zoom itself (holds excluded), with debug overlays if asked."""
        view = self.path.view(index)
        frame = self.renderer.render(view)
        if self.options.debug:
            frame = draw_overlay(frame, self.renderer, view, index, self.path.zoom_level(index))
        return frame


def stage(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    """A progress callback for one stage."""
    return (lambda done, total: progress(name, done, total)) if progress else None


def output_size(stack: Stack, opts: RenderOptions, even: bool = True) -> tuple[int, int]:
    """--size, else the outermost image's size (rounded down to even for video); halved for
    --draft."""
    if opts.size:
        w, h = opts.size
    else:
        h, w = stack.layers[-1].image.shape[:2]
        if even:
            w, h = w - w % 2, h - h % 2
    if opts.draft:
        w, h = w // 2, h // 2
        if even:
            w, h = w - w % 2, h - h % 2
    return max(2, w), max(2, h)


def innermost_first(images: list[np.ndarray], names: list[str], zoom_factor: float | None):
    """The set turned round if it runs outermost first (as the original script expected)."""
    if not outermost_first(images, zoom_factor):
        return images, names
    log.info("the images run outermost first (%s is the innermost): taking them the right way round", names[-1])
    return images[::-1], names[::-1]


def settled(fits: list[PairFit], images: list[np.ndarray], zoom_factor: float | None) -> list[PairFit]:
    """The measured pairs as placed: refused ones (with --force) nominally at the series' common
    factor, and every factor snapped to it where it agrees within noise."""
    zoom = likely_factor(fits, zoom_factor) or zoom_factor or DEFAULT_ZOOM
    fits = [f if f.ok else nominal_fit(images[k], images[k + 1], zoom, (f.inner, f.outer)) for k, f in enumerate(fits)]
    return snap(fits, images, zoom)


def measured_stack(images: list[np.ndarray], names: list[str], opts: RenderOptions,
                   progress: Progress | None = None) -> Stack:
    """Placements measured by registration (refused pairs stop here unless --force, which places
    them nominally), with colour matching in each inner image's border band."""
    fits = register(images, names, opts.zoom_factor, progress=stage(progress, "register"))
    log.info(describe(fits))
    check(fits, opts.force)
    fits = settled(fits, images, opts.zoom_factor)
    if opts.color_match and opts.crop is not None:  # the adaptive blend matches colours itself
        depth = (1 - opts.crop) / 2
        images = [match_border(im, f.gain, f.bias, depth) for im, f in zip(images, fits)] + [images[-1]]
    return placed_stack(images, names, fits)


def align_locally(stack: Stack, progress: Progress | None = None) -> list[LocalWarp]:
    """Warp each outer layer's zone around the inner one to meet it (local_align.py)."""
    warps = []
    report = stage(progress, "align")
    for k, (inner, outer) in enumerate(zip(stack.layers, stack.layers[1:])):
        outer.image, warp = local_warp(inner.image, outer.image, inner.pixel_matrix(outer))
        warps.append(warp)
        if warp.applied:
            log.info("%s: warped around %s by up to %.2f px (misalignment at the border %.2f -> %.2f px)",
                     outer.name, inner.name, warp.largest, warp.before, warp.after)
        if report:
            report(k + 1, len(stack) - 1)
    return warps


def blend_layers(stack: Stack, progress: Progress | None = None) -> list[Blend | None]:
    """How each inner layer meets the layer behind it (blend.py), kept in the layer."""
    out: list[Blend | None] = []
    report = stage(progress, "blend")
    for k, (inner, outer) in enumerate(zip(stack.layers, stack.layers[1:])):
        seen = outer_on_inner_grid(outer.image, inner.image.shape[:2], inner.pixel_matrix(outer))
        result = blend(inner.image, seen, outer.width / inner.width)
        inner.blended, inner.insets, inner.seams = result.pixels, result.insets, result.seams
        out.append(result)
        if report:
            report(k + 1, len(stack) - 1)
    return out + [None]


def build_stack(images: list[np.ndarray], names: list[str], opts: RenderOptions, progress: Progress | None = None,
                exact_factor: float | None = None) -> Stack:
    """Place the images: exactly, where a generated folder's manifest says how (`exact_factor`);
    else measured by registration (default), or nominally with align=False. Either way a set
    that runs outermost first is turned round first."""
    sizes = {im.shape[:2] for im in images}
    if len(sizes) > 1:
        log.warning("images differ in size (%s); each still covers its own place in the zoom",
                    ", ".join(f"{w}x{h}" for h, w in sorted(sizes)))
    if exact_factor:
        log.info("placed as everzoom.json records: each image exactly centred in the next, zoom factor %.5f",
                 exact_factor)
        return Stack.nominal(images, exact_factor, names)
    images, names = innermost_first(images, names, opts.zoom_factor)
    if not opts.align:
        return Stack.nominal(images, opts.zoom_factor or DEFAULT_ZOOM, names)
    return measured_stack(images, names, opts, progress)


def sort(source, progress: Progress | None = None) -> tuple[list[np.ndarray], Order]:
    """Order an unordered set innermost first; the images in that order, and the order itself
    (with the images left out and why)."""
    images, names = load_images(source)
    order = sort_images(images, names, progress=stage(progress, "sort"))
    by_name = dict(zip(names, images))
    for name, why in order.left_out.items():
        log.warning("left out %s: %s", name, why)
    return [by_name[n] for n in order.order], order


def frame_depths(n: int, opts: RenderOptions, names: list[str]) -> np.ndarray:
    """How deep the zoom is at every frame (timeline.py): --steps frames per step, or the
    --timing file's seconds, with --hold-each pauses, all scaled to --duration if given."""
    timing = read_timing(opts.timing, names) if opts.timing else None
    seconds, holds = step_times(n, opts.steps / opts.fps, opts.hold_each, timing)
    if opts.duration:
        clip = max(2, round(opts.duration * opts.fps))
        one_way = clip if opts.mode in ("in", "out") else clip // 2 + 1
    else:
        one_way = round((sum(seconds) + sum(holds)) * opts.fps) + 1
    return plan_depths(n - 1, max(2, one_way), opts.mode, opts.ease, opts.ease_steps, seconds, holds, opts.loop)


def make_plan(source, opts: RenderOptions, progress: Progress | None = None, even: bool = True) -> Plan:
    """Load and place a set (a folder, image paths or RGB arrays, innermost first) for rendering;
    `even`: round the default output size down to even sides (video codecs need them)."""
    exact = None
    if opts.auto_sort:
        images, order = sort(source, progress)
        names = order.order
        log.info("sorted order: %s", ", ".join(names))
    else:
        images, names = load_images(source)
        if isinstance(source, (str, Path)):
            exact = generated_series(source, names)
    stack = build_stack(images, names, opts, progress, exact)
    warps = align_locally(stack, progress) if opts.local_align else []
    blends = blend_layers(stack, progress) if opts.crop is None else []
    out_w, out_h = output_size(stack, opts, even)
    path = CameraPath(stack, out_w, out_h, depths=frame_depths(len(stack), opts, [l.name for l in stack.layers]))
    return Plan(stack, path, Renderer(stack, out_w, out_h, crop=opts.crop, seam_width=opts.seam_width), opts,
                hold_frames=round(opts.hold * opts.fps), blends=blends, warps=warps)
