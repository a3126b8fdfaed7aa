"""Encode speed and file size per output format: a 10 s 1280x720 clip at 30 fps of the
benchmark set (12 images, 1024^2, zoom 2).

    python bench/format_bench.py [--seconds 10] [--formats mp4 mp4:h265 ...]

The frames are rendered once into a raw file (the renderer is not what is timed); each format
is then encoded from it through everzoom's own sink (the same ffmpeg arguments as `everzoom
render`, GIF's two passes included), default quality. Prints encode frames/s, seconds, the
file's size and its bit rate.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common import make_set

import everzoom
from everzoom.api import iter_frames
from everzoom.formats import VideoSettings
from everzoom.sinks import VideoSink

FORMATS = ["mp4", "mp4:h265", "mp4:av1", "webm", "webm:av1", "mov", "gif", "webp"]
W, H, FPS = 1280, 720, 30


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--formats", nargs="+", default=FORMATS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-bench"))
    args = ap.parse_args()
    folder = make_set(args.work / "set12")
    raw = args.work / "clip720.rgb"
    p = everzoom.plan(folder, size=(W, H), duration=args.seconds, fps=FPS, zoom_factor=2.0)
    with open(raw, "wb") as f:
        for frame in iter_frames(p, workers=2):
            f.write(frame.tobytes())
    n = raw.stat().st_size // (W * H * 3)
    frames = np.memmap(raw, np.uint8, "r", shape=(n, H, W, 3))
    print(f"{n} frames {W}x{H} at {FPS} fps ({n / FPS:.1f} s), default quality")
    print(f"{'format':<10} {'codec':<7} {'encode fps':>10} {'seconds':>8} {'size MB':>8} {'Mbit/s':>7}")
    for spec in args.formats:
        ext, _, codec = spec.partition(":")
        settings = VideoSettings(f".{ext}", codec=codec or None, loop=True)
        fps = min(FPS, 50) if settings.codec == "gif" else FPS
        out = args.work / f"clip.{ext}"
        t0 = time.perf_counter()
        with VideoSink(out, W, H, fps, settings) as sink:
            for frame in frames:
                sink.write(np.asarray(frame))
        seconds = time.perf_counter() - t0
        size = out.stat().st_size
        print(f"{ext:<10} {settings.codec:<7} {n / seconds:10.1f} {seconds:8.1f} {size / 1e6:8.2f} "
              f"{size * 8 / (n / FPS) / 1e6:7.2f}")


if __name__ == "__main__":
    main()
