"""Rendering a planned zoom on a Dask cluster, split by frame range.

The plan is made once on the client and scattered to every worker once (with its pixels), so
nothing is recomputed per segment. Each task renders a range of frames exactly as the
single-process renderer does (OpenCV single-threaded within a frame) and returns them encoded:
PNG files, or an H.264/H.265 elementary stream made with the same encoder arguments as a
single-process render (every segment starts with an IDR frame and carries the same parameter
sets). Nothing needs to be shared between the machines but the scheduler (with --shared-input, the
layers' pixels go through a folder all machines see instead of the network): the client writes
each segment beside the target (write, then rename), joins the streams in order without
re-encoding and muxes them at the requested frame rate, so every frame lasts exactly one
frame whatever the segments' lengths; then the soundtrack, once, and +faststart. A task whose
worker fails or dies is retried elsewhere (Dask reschedules it; RETRIES more for errors).
Everything dask comes from here, imported only when a cluster is asked for.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .audio import Soundtrack, mux
from .errors import EverzoomError
from .ffmpeg import Encoder, run
from .formats import VideoSettings
from .planning import Plan
from .sinks import FramesSink, creating, no_interrupts, publish, temp_beside

log = logging.getLogger("everzoom")

RETRIES = 2
CODECS = ("h264", "h265")
LEAD = 16  # frames: segments are stamped from here on, so no reordered frame's dts is below zero
_prepared = threading.Lock()


def zoom_index(plan: Plan, index: int) -> int:
    """The zoom frame shown as frame `index` of the output (the holds repeat the ends)."""
    hold, frames = plan.hold_frames, plan.path.frames
    return min(max(index - hold, 0), frames - 1)


def park(plan: Plan, folder: Path) -> None:
    """--shared-input: write the layers' pixels (as placed and warped, with their masks) to
    `folder`, which every machine sees, and leave the plan only their sizes, so that it travels
    light."""
    folder.mkdir(parents=True)
    for k, layer in enumerate(plan.stack.layers):
        pixels = layer.image if layer.reveal is None else np.dstack([layer.image, layer.reveal])
        if not cv2.imwrite(str(folder / f"{k:04d}.png"), pixels[:, :, [2, 1, 0, 3][:pixels.shape[2]]],
                           [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise EverzoomError(f"--shared-input: cannot write {folder / f'{k:04d}.png'}")
        h, w = layer.image.shape[:2]
        layer.image = np.zeros((h, w, 0), np.uint8)  # the size without the pixels
        layer.reveal = np.zeros((h, w, 0), np.uint8) if layer.reveal is not None else None
    plan.pixels_at = str(folder)


def _unpark(plan: Plan) -> None:
    """On a worker: read the parked pixels back (once per process)."""
    folder = Path(plan.pixels_at)
    for k, layer in enumerate(plan.stack.layers):
        if layer.image.shape[2] == 0:
            pixels = _read(folder / f"{k:04d}.png")
            layer.image = np.ascontiguousarray(pixels[:, :, 2::-1])
            if layer.reveal is not None:
                layer.reveal = np.ascontiguousarray(pixels[:, :, 3])


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise EverzoomError(f"--shared-input: this worker cannot read {path} (is the folder shared?)")
    return image


def frame_at(plan: Plan, index: int) -> np.ndarray:
    with _prepared:  # pixels and pyramids are made ready on first use: once per worker process
        if plan.pixels_at:
            _unpark(plan)
        plan.renderer.prepare()
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)  # as the single-process path renders
    try:
        return plan.zoom_frame(zoom_index(plan, index))
    finally:
        cv2.setNumThreads(before)


def render_pngs(plan: Plan, start: int, stop: int) -> list[bytes]:
    """Frames [start, stop) as PNG files (the bytes FramesSink writes)."""
    out = []
    for i in range(start, stop):
        ok, data = cv2.imencode(".png", cv2.cvtColor(frame_at(plan, i), cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise EverzoomError(f"cannot encode frame {i}")
        out.append(data.tobytes())
    return out


def render_stream(plan: Plan, start: int, stop: int, settings: VideoSettings) -> bytes:
    """Frames [start, stop) encoded with the single-process encoder arguments into MPEG-TS,
    starting with an IDR frame, stamped with their global times (MPEG-TS segments join by
    concatenation)."""
    w, h = plan.size
    fps = plan.options.fps
    args = [*settings.codec_args(), "-output_ts_offset", f"{(start + LEAD) / fps:.9f}", "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts"]
    with tempfile.TemporaryDirectory(prefix="everzoom-seg-") as folder:
        path = Path(folder) / "segment"
        encoder = Encoder(path, w, h, fps, args)
        try:
            for i in range(start, stop):
                encoder.write(frame_at(plan, i))
        except BaseException:
            encoder.kill()
            raise
        encoder.finish()
        return path.read_bytes()


def segments(total: int, fps: float, seconds: float) -> list[tuple[int, int]]:
    """Frame ranges of about `seconds` each covering [0, total)."""
    size = max(1, round(seconds * fps))
    return [(s, min(total, s + size)) for s in range(0, total, size)]


def check_settings(settings: VideoSettings | None) -> None:
    if settings is not None and settings.codec not in CODECS:
        raise EverzoomError(f"cluster rendering writes H.264 or H.265 video (.mp4, .mkv, .mov with --codec h264/h265) "
                            f"or PNG frames, not {settings.codec}")


def connect(address: str | None, workers: int | None):
    """A distributed Client: to the scheduler at `address`, or to a LocalCluster of `workers`
    processes on 127.0.0.1 (closed with the client). Returns (client, cluster or None)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EverzoomError("cluster rendering needs Dask: pip install -e \".[cluster]\"") from None
    if address:
        try:
            return Client(address, timeout="10s"), None
        except OSError as exc:
            raise EverzoomError(f"--cluster {address}: cannot reach the scheduler ({exc})") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    return Client(cluster), cluster


def render(plan: Plan, output: Path, settings: VideoSettings | None, client, segment_seconds: float,
           audio: Soundtrack | None = None, progress: Callable[[str, int, int], None] | None = None,
           overwrite: bool = False, park_in: Path | None = None) -> None:
    """Render the plan's frames on the cluster behind `client` into `output`; with `park_in`
    (--shared-input), the pixels go through that shared folder instead of the network, and the
    folder is removed at the end."""
    try:
        _render(plan, output, settings, client, segment_seconds, audio, progress, overwrite, park_in)
    finally:
        if park_in is not None:
            with no_interrupts():
                shutil.rmtree(park_in, ignore_errors=True)


def _render(plan: Plan, output: Path, settings: VideoSettings | None, client, segment_seconds: float,
            audio: Soundtrack | None, progress, overwrite: bool, park_in: Path | None) -> None:
    check_settings(settings)
    total = plan.frame_count
    ranges = segments(total, plan.options.fps, segment_seconds)
    plan.renderer.unprepare()  # pyramids are rebuilt on the workers, not shipped
    plan.blends, plan.warps = [], []  # what inspect reports: the workers do not need it
    if park_in is not None:
        park(plan, park_in)
    shared = client.scatter(plan, broadcast=True)
    if settings is None:
        tasks = [client.submit(render_pngs, shared, a, b, retries=RETRIES, pure=False) for a, b in ranges]
    else:
        tasks = [client.submit(render_stream, shared, a, b, settings, retries=RETRIES, pure=False) for a, b in ranges]
    try:
        arrivals = completed(tasks, ranges, total, progress)
        if settings is None:
            with FramesSink(output, overwrite=overwrite) as sink:
                for k, pngs in arrivals:
                    for i, data in zip(range(*ranges[k]), pngs, strict=True):
                        (sink.tmp / f"frame_{i:05d}.png").write_bytes(data)
            return
        _join_streams(arrivals, len(ranges), output, settings, plan.options.fps, total, audio)
    except BaseException:
        with no_interrupts():
            client.cancel(tasks)
        raise


def completed(tasks, ranges, total: int, progress):
    """(segment index, result) as the tasks finish, reporting the frames done."""
    from distributed import as_completed

    index = {t.key: k for k, t in enumerate(tasks)}
    done = 0
    for task in as_completed(tasks):
        k = index[task.key]
        yield k, task.result()
        done += ranges[k][1] - ranges[k][0]
        if progress:
            progress("render", done, total)


def _join_streams(arrivals, count: int, output: Path, settings: VideoSettings, fps: float, total: int,
                  audio: Soundtrack | None) -> None:
    """Segments written beside the target as they arrive, read in order by ffmpeg (its concat
    protocol: MPEG-TS joins by concatenation) and muxed with their timestamps made exact: pts from
    the first frame's, dts one frame apart (a short last segment has no reordering delay, which
    would otherwise leave a gap)."""
    made: list[Path] = []
    with creating(output.parent):
        try:
            paths = [output.parent / f".{output.stem}.seg{k:05d}.ts" for k in range(count)]
            for k, data in arrivals:
                part = paths[k].with_suffix(paths[k].suffix + ".part")
                made += [part, paths[k]]
                part.write_bytes(data)
                part.replace(paths[k])
            tmp = temp_beside(output)
            made.append(tmp)
            video = tmp
            if audio:
                video = output.parent / f".{output.stem}.video.mkv"
                made.append(video)
            args = ["-i", "concat:" + "|".join(str(p) for p in paths), "-c", "copy",
                    "-bsf:v", "setts=pts=PTS-STARTPTS:dts=STARTDTS-STARTPTS+N*DURATION"]
            if settings.codec == "h265":
                args += ["-tag:v", "hvc1"]
            if not audio:
                args += settings.container_args()
            run([*args, "-f", "matroska" if audio else settings.muxer, str(video)], f"joining the segments of {output}")
            if audio:
                mux(video, audio, tmp, total / fps, settings)
            publish(tmp, output)
            made.remove(tmp)
        finally:
            with no_interrupts():
                for path in made:
                    path.unlink(missing_ok=True)
