"""The library's public surface: plan a set, stream its frames, render them to a sink."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .audio import Soundtrack
from .audio import check as check_audio
from .errors import EverzoomError
from .formats import GIF_MAX_FPS, VideoSettings
from .images import load_images
from .options import RenderOptions
from .blend import Blend
from .local_align import LocalWarp
from .planning import (Plan, Progress, align_locally, blend_layers, close_loop, innermost_first, make_plan, settled,
                       sort, stage)
from .register import PairFit, placed_stack, register
from .sinks import check_output, open_sink
from .stream import ordered_map

__all__ = ["plan", "frames", "render", "web", "sort", "inspect", "RenderResult", "Plan", "Inspection"]

log = logging.getLogger("everzoom")

RENDER_THREADS = max(2, min(4, os.cpu_count() or 2))


def plan(source, progress: Progress | None = None, even: bool = True, **options) -> Plan:
    """Load and place a set (a folder, image paths or RGB arrays, innermost first) for rendering.
    Options are those of RenderOptions; `even`: round the default output size to even sides."""
    return make_plan(source, RenderOptions.from_kwargs(**options), progress, even)


@dataclass
class Inspection:
    """What `inspect` measures of a set, innermost first: every consecutive pair's fit; when
    every pair matches, how each inner image meets the next (`blends`, blend.py) and the local
    alignment of each outer image around it (`warps`, local_align.py); and whether the series
    closes into a loop (`loop`: the outermost image inside the innermost, whose blend and warp
    then come last in `blends` and `warps`)."""

    images: list[np.ndarray]
    names: list[str]
    fits: list[PairFit]
    blends: list[Blend] = field(default_factory=list)
    warps: list[LocalWarp] = field(default_factory=list)
    loop: PairFit | None = None

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.fits)

    def as_dict(self) -> dict:
        def meeting(fit: PairFit, k: int) -> dict:
            return (fit.as_dict() | ({"blend": self.blends[k].as_dict()} if k < len(self.blends) else {})
                    | ({"local_align": self.warps[k].as_dict()} if k < len(self.warps) else {}))
        return {"images": self.names, "pairs": [meeting(f, k) for k, f in enumerate(self.fits)],
                "loop": meeting(self.loop, len(self.fits)) if self.loop else None}


def inspect(source, zoom_factor: float | None = None, progress: Progress | None = None) -> Inspection:
    """Measure every consecutive pair of a set and how the images meet (see Inspection)."""
    RenderOptions.from_kwargs(zoom_factor=zoom_factor)
    images, names = innermost_first(*load_images(source), zoom_factor)
    fits = register(images, names, zoom_factor, progress=stage(progress, "register"))
    found = Inspection(images, names, fits)
    if found.ok:
        stack, loop = close_loop(placed_stack(images, names, settled(fits, images, zoom_factor)), fits, required=False)
        found.loop = loop.closing if loop else None
        found.warps = align_locally(stack, loop=loop)
        found.blends = [b for b in blend_layers(stack, loop=loop) if b is not None]
    return found


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


def render(source, output: str | Path, progress: Progress | None = None, client=None, **options) -> RenderResult:
    """Render a set to a video file (by its extension) or, with no extension, a folder of PNG frames.

    `source`: a folder, a list of image paths or a list of RGB arrays, innermost first.
    Options are those of RenderOptions, e.g. zoom_factor=2, steps=100, crop=0.8, fps=30.
    `client`: a dask.distributed Client to render on (cluster.py), as cluster=ADDRESS or
    workers=N do.
    """
    opts = RenderOptions.from_kwargs(**options)
    if opts.draft and "preset" not in options:
        opts.preset = "veryfast"
    video = check_output(output, opts.overwrite) == "video"
    output = Path(output)
    settings = (VideoSettings(output.suffix, codec=opts.codec, quality=opts.quality, crf=opts.crf, preset=opts.preset)
                if video else None)
    if opts.codec and not settings:
        raise EverzoomError(f"--codec {opts.codec}: PNG frames have no codec; give -o a video extension")
    if settings and opts.size:
        settings.check_size(*opts.size)
    audio = None
    if opts.audio:
        check_audio(opts.audio, settings.container if settings else "")
        audio = Soundtrack(opts.audio, opts.audio_start, opts.audio_fade)
    if settings and settings.codec == "gif" and opts.fps > GIF_MAX_FPS:
        log.info("GIF shows at most %g frames per second (its clock ticks in 1/100 s): --fps %g lowered to %g",
                 GIF_MAX_FPS, opts.fps, GIF_MAX_FPS)
        opts.fps = GIF_MAX_FPS
    p = make_plan(source, opts, progress, even=bool(settings and settings.yuv))
    w, h = p.size
    if settings:
        settings.check_size(w, h)
    total = p.frame_count
    if client is not None or opts.cluster or opts.workers:
        _render_on_cluster(p, source, output, settings, client, opts, audio, progress)
        return RenderResult(output, total, (w, h), opts.fps, p.stack.zoom_factors())
    with open_sink(output, w, h, opts.fps, settings, overwrite=opts.overwrite, audio=audio) as sink, \
            single_threaded_opencv():
        for i, frame in enumerate(iter_frames(p, workers=RENDER_THREADS)):
            sink.write(frame)
            if progress:
                progress("render", i + 1, total)
    return RenderResult(output, total, (w, h), opts.fps, p.stack.zoom_factors())


def web(source, output: str | Path, progress: Progress | None = None, lossless: bool = False,
        max_side: int | None = None, **options) -> int:
    """Export a set as one self-contained interactive HTML page (webpage.py); its size in bytes.

    The same input handling as render (sorting, registration, local alignment, blend); the page
    plays the render's camera path, by default a seamless in-out loop, or, for a series that
    closes into a loop, the zoom in forever (give `mode` otherwise).
    `quality` (0-100) sets the layers' JPEG quality; `lossless` embeds them as lossless WebP;
    `max_side` caps their size."""
    from .webpage import write_page

    default_path = "mode" not in options
    if default_path:
        options |= {"mode": "out-in" if options.pop("reverse", False) else "in-out", "loop": True}
    opts = RenderOptions.from_kwargs(**options)
    output = Path(output)
    p = make_plan(source, opts, progress, even=False, prefer_closed=default_path)
    title = Path(source).name if isinstance(source, (str, Path)) else "everzoom"
    return write_page(p, output, opts.quality, lossless, max_side, title=title)


def _render_on_cluster(p: Plan, source, output: Path, settings, client, opts: RenderOptions, audio,
                       progress) -> None:
    from . import cluster

    cluster.check_settings(settings)
    park_in = None
    if opts.shared_input:
        if not isinstance(source, (str, Path)) or not Path(source).is_dir():
            raise EverzoomError("--shared-input needs the input as a folder that every machine sees")
        park_in = Path(source).absolute() / f".everzoom-plan-{os.getpid()}-{time.time_ns()}"
    own = client is None  # a client (and local cluster) of our own, closed at the end
    local = None
    if own:
        client, local = cluster.connect(opts.cluster, opts.workers)
    try:
        cluster.render(p, output, settings, client, opts.segment_seconds, audio, progress, opts.overwrite, park_in)
    finally:
        if own:
            client.close()
        if local is not None:
            local.close()
