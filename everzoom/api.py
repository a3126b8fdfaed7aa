"""The library's public surface: load a set, place it, and stream its frames to a sink."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .colour import match_border
from .generate import manifest_zoom_factor
from .images import load_images
from .options import RenderOptions
from .overlay import draw_overlay
from .path import CameraPath
from .register import check, describe, nominal_fit, outermost_first, placed_stack, register, snap
from .render import Renderer
from .sinks import check_output, open_sink
from .ordering import Order, sort_images
from .stack import Stack
from .stream import ordered_map

log = logging.getLogger("everzoom")

Progress = Callable[[str, int, int], None]  # (stage, done, total): "register", "render"
DEFAULT_ZOOM = 2.0
RENDER_THREADS = max(2, min(4, os.cpu_count() or 2))


@dataclass
class Plan:
    """Everything needed to render: the placed layers, the path and the renderer."""

    stack: Stack
    path: CameraPath
    renderer: Renderer
    options: RenderOptions
    hold_frames: int = 0

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


def output_size(stack: Stack, opts: RenderOptions) -> tuple[int, int]:
    """--size, else the outermost image's size rounded down to even; halved for --draft."""
    if opts.size:
        w, h = opts.size
    else:
        h, w = stack.layers[-1].image.shape[:2]
    if opts.draft:
        w, h = w // 2, h // 2
    return max(2, w - w % 2), max(2, h - h % 2)


def build_stack(images: list[np.ndarray], names: list[str], opts: RenderOptions,
                progress: Progress | None = None) -> Stack:
    """Place the images: measured by registration (default), or nominal with align=False."""
    sizes = {im.shape[:2] for im in images}
    if len(sizes) > 1:
        log.warning("images differ in size (%s); each still covers its own place in the zoom",
                    ", ".join(f"{w}x{h}" for h, w in sorted(sizes)))
    if not opts.align:
        return Stack.nominal(images, opts.zoom_factor or DEFAULT_ZOOM, names)
    images, names = _innermost_first(images, names, opts.zoom_factor)
    fits = register(images, names, opts.zoom_factor, progress=_stage(progress, "register"))
    log.info(describe(fits))
    check(fits, opts.force)
    good = [f.zoom for f in fits if f.ok]
    zoom = float(np.median(good)) if good else (opts.zoom_factor or DEFAULT_ZOOM)
    fits = [f if f.ok else nominal_fit(images[k], images[k + 1], zoom, (f.inner, f.outer)) for k, f in enumerate(fits)]
    fits = snap(fits, images, opts.zoom_factor or zoom)
    if opts.color_match:
        depth = (1 - opts.crop) / 2
        images = [match_border(im, f.gain, f.bias, depth) for im, f in zip(images, fits)] + [images[-1]]
    return placed_stack(images, names, fits)


def sort(source, progress: Progress | None = None) -> tuple[list[np.ndarray], Order]:
    """Order an unordered set innermost first; the images in that order, and the order itself
    (with the images left out and why)."""
    images, names = load_images(source)
    order = sort_images(images, names, progress=_stage(progress, "sort"))
    by_name = dict(zip(names, images))
    for name, why in order.left_out.items():
        log.warning("left out %s: %s", name, why)
    return [by_name[n] for n in order.order], order


def inspect(source, zoom_factor: float | None = None, progress: Progress | None = None):
    """Measure every consecutive pair of a set: (images, names, fits), innermost first."""
    RenderOptions.from_kwargs(zoom_factor=zoom_factor)
    images, names = _innermost_first(*load_images(source), zoom_factor)
    fits = register(images, names, zoom_factor, progress=_stage(progress, "register"))
    return images, names, fits


def _innermost_first(images: list[np.ndarray], names: list[str], zoom_factor: float | None):
    """The set turned round if it runs outermost first (as the original script expected)."""
    if not outermost_first(images, zoom_factor):
        return images, names
    log.info("the images run outermost first (%s is the innermost): taking them the right way round", names[-1])
    return images[::-1], names[::-1]


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(stage, done, total)) if progress else None


def plan(source, progress: Progress | None = None, **options) -> Plan:
    """Load and place a set (a folder, image paths or RGB arrays, innermost first) for rendering."""
    opts = options.pop("_options", None) or RenderOptions.from_kwargs(**options)
    if opts.zoom_factor is None and isinstance(source, (str, Path)):
        opts.zoom_factor = manifest_zoom_factor(source)  # a generated folder knows its factor
    if opts.auto_sort:
        images, order = sort(source, progress)
        names = order.order
        log.info("sorted order: %s", ", ".join(names))
    else:
        images, names = load_images(source)
    stack = build_stack(images, names, opts, progress)
    out_w, out_h = output_size(stack, opts)
    zoom_frames = (round(opts.duration * opts.fps) if opts.duration else (len(stack) - 1) * opts.steps + 1)
    path = CameraPath(stack, out_w, out_h, frames=max(2, zoom_frames), reverse=opts.reverse, easing=opts.easing)
    return Plan(stack, path, Renderer(stack, out_w, out_h, crop=opts.crop), opts,
                hold_frames=round(opts.hold * opts.fps))


def iter_frames(p: Plan, workers: int = 1) -> Iterator[np.ndarray]:
    """Every frame of the plan in order, rendered `workers` at a time; the held first and last
    frames are rendered once and repeated."""
    indices = range(p.path.frames)
    rendered = ordered_map(p.zoom_frame, indices, workers) if workers > 1 else map(p.zoom_frame, indices)
    last = p.path.frames - 1
    for i, frame in enumerate(rendered):
        for _ in range(1 + p.hold_frames * ((i == 0) + (i == last))):
            yield frame


@contextmanager
def single_threaded_opencv():
    """Frames are rendered in parallel, one per worker thread: OpenCV's own thread pool would
    only add synchronisation to the many small calls of a frame."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def frames(source, **options) -> Iterator[np.ndarray]:
    """Stream the zoom's RGB frames (for notebooks and custom sinks)."""
    return iter_frames(plan(source, **options))


@dataclass
class RenderResult:
    output: Path
    frames: int
    size: tuple[int, int]
    fps: float
    zoom_factors: list[float]


def render(source, output: str | Path, progress: Progress | None = None, **options) -> RenderResult:
    """Render a set to an mp4/mkv/mov file or (no extension) a folder of PNG frames.

    `source`: a folder, a list of image paths or a list of RGB arrays, innermost first.
    Options are those of RenderOptions, e.g. zoom_factor=2, steps=100, crop=0.8, fps=30.
    """
    opts = RenderOptions.from_kwargs(**options)
    if opts.draft and "preset" not in options:
        opts.preset = "veryfast"
    output = Path(output)
    check_output(output, opts.overwrite)
    p = plan(source, progress, _options=opts)
    w, h = p.size
    total = p.frame_count
    with open_sink(output, w, h, opts.fps, crf=opts.crf, preset=opts.preset, overwrite=opts.overwrite) as sink, \
            single_threaded_opencv():
        for i, frame in enumerate(iter_frames(p, workers=RENDER_THREADS)):
            sink.write(frame)
            if progress:
                progress("render", i + 1, total)
    return RenderResult(output, total, (w, h), opts.fps, p.stack.zoom_factors())
