"""Render benchmarks for the core issue's targets.

    python bench/render_bench.py speed            # frames/s, rendering only, 1920x1080 from 1024^2
    python bench/render_bench.py encode           # render+encode vs ffmpeg alone on the same frames
    python bench/render_bench.py memory           # peak RSS of the everzoom process, 1200 vs 3600 frames
    python bench/render_bench.py register         # registration of the 12 images vs rendering a 10 s video

Each prints one line per figure. The set (12 images, 1024x1024, zoom factor 2) is made once
under --work (default /tmp/everzoom-bench).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import make_set

import everzoom
from everzoom.api import iter_frames, single_threaded_opencv


def speed(work: Path, frames: int, repeats: int = 5) -> None:
    folder = make_set(work / "set12")
    steps = max(1, round((frames - 1) / 11))
    p = everzoom.plan(folder, size=(1920, 1080), steps=steps, zoom_factor=2.0)
    for _ in iter_frames(everzoom.plan(folder, size=(1920, 1080), steps=2, zoom_factor=2.0)):
        pass  # warm-up: pyramids, OpenCV threads
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with single_threaded_opencv():
            n = sum(1 for _ in iter_frames(p, workers=2))
        rates.append(n / (time.perf_counter() - t0))
    print(f"render only: {n} frames 1920x1080, {repeats} runs: median {np.median(rates):.1f} frames/s "
          f"(min {min(rates):.1f}, max {max(rates):.1f})")


def encode(work: Path, seconds: float, preset: str) -> None:
    import imageio_ffmpeg

    folder = make_set(work / "set12")
    fps, n = 30, int(seconds * 30)
    opts = dict(size=(1920, 1080), duration=seconds, fps=fps, zoom_factor=2.0, preset=preset)
    raw = work / "frames.rgb"
    with open(raw, "wb") as f:
        for frame in everzoom.frames(folder, **opts):
            f.write(frame.tobytes())
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    t0 = time.perf_counter()
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "1920x1080",
                    "-r", str(fps), "-i", str(raw), "-c:v", "libx264", "-crf", "18", "-preset", preset,
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(work / "ffmpeg_only.mp4")], check=True)
    t_ffmpeg = time.perf_counter() - t0
    raw.unlink()
    t0 = time.perf_counter()
    everzoom.render(folder, work / "everzoom.mp4", **opts)
    t_ez = time.perf_counter() - t0
    print(f"encode ({n} frames, 1920x1080, crf 18, preset {preset}): ffmpeg alone {t_ffmpeg:.1f} s, "
          f"everzoom render+encode {t_ez:.1f} s, ratio {t_ez / t_ffmpeg:.3f}")


def _peak_child(work: Path, frames: int, preset: str) -> float:
    """Peak RSS (MB) of a fresh everzoom process rendering `frames` frames; ffmpeg not counted."""
    code = (
        "import resource, everzoom;"
        f"everzoom.render({str(work / 'set12')!r}, {str(work / 'mem.mp4')!r}, size=(1920, 1080),"
        f" steps={max(1, round((frames - 1) / 11))}, zoom_factor=2.0, preset={preset!r});"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1024


def memory(work: Path, preset: str) -> None:
    make_set(work / "set12")
    peaks = {n: _peak_child(work, n, preset) for n in (1200, 3600)}
    a, b = peaks[1200], peaks[3600]
    print(f"peak RSS (everzoom process, 12 x 1024^2 -> 1080p, preset {preset}): "
          f"1200 frames {a:.0f} MB, 3600 frames {b:.0f} MB, growth {100 * (b / a - 1):+.1f}%")


def register_time(work: Path, seconds: float, preset: str) -> None:
    from everzoom.register import register

    folder = make_set(work / "set12")
    images, names = everzoom.load_images(folder)
    register(images[:2], names[:2])  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        register(images, names)
        times.append(time.perf_counter() - t0)
    t_reg = float(np.median(times))
    t0 = time.perf_counter()
    everzoom.render(folder, work / "register_total.mp4", size=(1920, 1080), duration=seconds, fps=30, preset=preset)
    t_total = time.perf_counter() - t0
    print(f"registration of 12 x 1024^2: median {t_reg:.2f} s of 3; rendering the set to a {seconds:g} s "
          f"1080p video (preset {preset}) took {t_total:.1f} s in all: registration is {100 * t_reg / t_total:.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["speed", "encode", "memory", "register", "all"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-bench"))
    ap.add_argument("--frames", type=int, default=331)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--preset", default="medium")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.what in ("speed", "all"):
        speed(args.work, args.frames)
    if args.what in ("encode", "all"):
        encode(args.work, args.seconds, args.preset)
    if args.what in ("memory", "all"):
        memory(args.work, args.preset)
    if args.what in ("register", "all"):
        register_time(args.work, args.seconds, args.preset)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
