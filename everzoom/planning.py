"""The one pipeline from a source to a Plan: load, order, place (from a generated folder's
manifest, by registration, or nominally), colour, and the camera path. The Plan is plain,
picklable data: the renderer, a cluster's workers and the web page all consume it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .blend import Blend, blend, outer_on_inner_grid
from .colour import match_border
from .errors import EverzoomError
from .generate import generated_series
from .images import load_images
from .local_align import LocalWarp, local_warp
from .options import RenderOptions
from .ordering import Sorting, sort_images
from .overlay import draw_overlay
from .path import CameraPath
from .loop import Loop, closed, copies
from .register import (PairFit, check, closing_fit, describe, likely_factor, nominal_fit, outermost_first,
                       placed_stack, register, snap)
from .render import Renderer
from .stack import Layer, Stack
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
    loop: Loop | None = None      # a closed series zooming on forever (loop.py)

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
                   progress: Progress | None = None) -> tuple[Stack, list[PairFit]]:
    """Placements measured by registration (refused pairs stop here unless --force, which places
    them nominally), with colour matching in each inner image's border band; and the fits."""
    fits = register(images, names, opts.zoom_factor, progress=stage(progress, "register"))
    log.info(describe(fits))
    check(fits, opts.force)
    fits = settled(fits, images, opts.zoom_factor)
    if opts.color_match and opts.crop is not None:  # the adaptive blend matches colours itself
        depth = (1 - opts.crop) / 2
        images = [match_border(im, f.gain, f.bias, depth) for im, f in zip(images, fits)] + [images[-1]]
    return placed_stack(images, names, fits), fits


def meetings(stack: Stack, loop: Loop | None = None) -> list[tuple[Layer, Layer]]:
    """Every (inner, outer) pair of layers that meet: consecutive ones, and in a closed loop
    the outermost layer's copy inside the innermost."""
    pairs = list(zip(stack.layers, stack.layers[1:]))
    if loop is not None:
        last = stack.layers[-1]
        s = loop.scale
        pairs.append((replace(last, cx=last.cx * s, cy=last.cy * s, width=last.width * s), stack.layers[0]))
    return pairs


def align_locally(stack: Stack, progress: Progress | None = None, loop: Loop | None = None) -> list[LocalWarp]:
    """Warp each outer layer's zone around the inner one to meet it (local_align.py)."""
    warps = []
    report = stage(progress, "align")
    pairs = meetings(stack, loop)
    for k, (inner, outer) in enumerate(pairs):
        outer.image, warp = local_warp(inner.image, outer.image, inner.pixel_matrix(outer))
        warps.append(warp)
        if warp.applied:
            log.info("%s: warped around %s by up to %.2f px (misalignment at the border %.2f -> %.2f px)",
                     outer.name, inner.name, warp.largest, warp.before, warp.after)
        if report:
            report(k + 1, len(pairs))
    return warps


def blend_layers(stack: Stack, progress: Progress | None = None, loop: Loop | None = None) -> list[Blend | None]:
    """How each inner layer meets the layer behind it (blend.py), kept in the layer (in a
    closed loop, the outermost layer meets the innermost as its copy does: every copy shares
    it)."""
    out: list[Blend | None] = []
    report = stage(progress, "blend")
    pairs = meetings(stack, loop)
    for k, ((inner, outer), layer) in enumerate(zip(pairs, stack.layers)):
        seen = outer_on_inner_grid(outer.image, inner.image.shape[:2], inner.pixel_matrix(outer))
        result = blend(inner.image, seen, outer.width / inner.width)
        layer.reveal, layer.interior, layer.seams = result.reveal, result.interior, result.seams
        layer.seam = result.seam_path() if result.reveal is not None else None
        out.append(result)
        if report:
            report(k + 1, len(pairs))
    return out + [None] * (len(stack) - len(out))


def build_stack(images: list[np.ndarray], names: list[str], opts: RenderOptions, progress: Progress | None = None,
                exact_factor: float | None = None) -> tuple[Stack, list[PairFit]]:
    """Place the images: exactly, where a generated folder's manifest says how (`exact_factor`);
    else measured by registration (default), or nominally with align=False. Either way a set
    that runs outermost first is turned round first. The measured fits come too (none for the
    other two)."""
    sizes = {im.shape[:2] for im in images}
    if len(sizes) > 1:
        log.warning("images differ in size (%s); each still covers its own place in the zoom",
                    ", ".join(f"{w}x{h}" for h, w in sorted(sizes)))
    if exact_factor:
        log.info("placed as everzoom.json records: each image exactly centred in the next, zoom factor %.5f",
                 exact_factor)
        return Stack.nominal(images, exact_factor, names), []
    images, names = innermost_first(images, names, opts.zoom_factor)
    if not opts.align:
        return Stack.nominal(images, opts.zoom_factor or DEFAULT_ZOOM, names), []
    return measured_stack(images, names, opts, progress)


def close_loop(stack: Stack, fits: list[PairFit], required: bool) -> tuple[Stack, Loop | None]:
    """The stack of a closed series (loop.py): the outermost image registered inside the
    innermost; where it is not (a plain series), an error if the loop was `required`."""
    images, names = [l.image for l in stack.layers], [l.name for l in stack.layers]
    fit = closing_fit(images, names, fits)
    if not fit.ok:
        if required:
            raise EverzoomError(f"--loop: {names[-1]} does not appear inside {names[0]} ({fit.problem}), so the "
                                "series does not close into a loop and a one-way zoom cannot repeat seamlessly; "
                                "use --mode in-out or out-in")
        return stack, None
    log.info("the series closes into a loop: %s sits inside %s at zoom %.3f (confidence %.2f)",
             fit.inner, fit.outer, fit.zoom, fit.confidence)
    return closed(stack, fit)


def sort(source, progress: Progress | None = None) -> Sorting:
    """Order an unordered set innermost first, in chains proven by registration, with the images
    left out and why (ordering.py)."""
    images, names = load_images(source)
    sorting = sort_images(images, names, progress=stage(progress, "sort"))
    for name, why in sorting.left_out.items():
        log.warning("left out %s: %s", name, why)
    for note in sorting.notes:
        log.info("%s", note)
    return sorting


def frame_depths(n: int, opts: RenderOptions, names: list[str], closed: bool = False) -> np.ndarray:
    """How deep the zoom is at every frame (timeline.py): --steps frames per step, or the
    --timing file's seconds, with --hold-each pauses, all scaled to --duration if given;
    `closed`: a loop one way round, its closing step included."""
    timing = read_timing(opts.timing, names, closed) if opts.timing else None
    seconds, holds = step_times(n, opts.steps / opts.fps, opts.hold_each, timing, closed)
    if opts.duration:
        clip = max(2, round(opts.duration * opts.fps))
        one_way = clip + closed if opts.mode in ("in", "out") else clip // 2 + 1
    else:
        one_way = round((sum(seconds) + sum(holds)) * opts.fps) + 1
    return plan_depths(len(seconds), max(2, one_way), opts.mode, opts.ease, opts.ease_steps, seconds, holds,
                       opts.loop, closed)


def make_plan(source, opts: RenderOptions, progress: Progress | None = None, even: bool = True,
              prefer_closed: bool = False) -> Plan:
    """Load and place a set (a folder, image paths or RGB arrays, innermost first) for rendering;
    `even`: round the default output size down to even sides (video codecs need them).
    `prefer_closed`: a --loop in-out that becomes one way round (in, or out for out-in) if the
    series closes into a loop (the page's default)."""
    exact = None
    if opts.auto_sort:
        sorting = sort(source, progress)
        chain = sorting.choose(opts.series, opts.force)
        images, names = sorting.pictures(chain), chain.order
        log.info("sorted order: %s", ", ".join(names))
    else:
        images, names = load_images(source)
        if isinstance(source, (str, Path)):
            exact = generated_series(source, names)
    stack, fits = build_stack(images, names, opts, progress, exact)
    loop = None
    if opts.loop and (opts.mode in ("in", "out") or prefer_closed):
        stack, loop = close_loop(stack, fits, required=opts.mode in ("in", "out"))
        if loop is not None and opts.mode not in ("in", "out"):
            opts = replace(opts, mode="in" if opts.mode == "in-out" else "out")
    if loop is not None and opts.hold:
        raise EverzoomError("--hold: a closed loop zooms on forever, with no start or end to hold at")
    warps = align_locally(stack, progress, loop) if opts.local_align else []
    blends = blend_layers(stack, progress, loop) if opts.crop is None else []
    out_w, out_h = output_size(stack, opts, even)
    names = [l.name for l in stack.layers]
    path = CameraPath(stack, out_w, out_h, frame_depths(len(stack), opts, names, loop is not None), loop)
    drawn = Stack(copies(stack, loop, path.smallest_view() / out_w / 2)) if loop else stack
    return Plan(stack, path, Renderer(drawn, out_w, out_h, crop=opts.crop, seam_width=opts.seam_width), opts,
                hold_frames=round(opts.hold * opts.fps), blends=blends, warps=warps, loop=loop)
