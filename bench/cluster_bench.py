"""Single process vs a LocalCluster: 1080p from the 12-image 1024^2 benchmark set.

    python bench/cluster_bench.py [--frames 300] [--workers 2]

Prints the wall time of `everzoom.render` to H.264 (default quality and preset) on one process
and with --workers N, and the parts of the cluster path measured on their own: the plan,
scattering it to the workers, rendering and encoding one segment on one worker (per frame), and
joining the segments. docs/SCALING.md builds its model from these figures.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import make_set

import everzoom
from everzoom import cluster
from everzoom.ffmpeg import run
from everzoom.formats import VideoSettings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-bench"))
    args = ap.parse_args()
    folder = make_set(args.work / "set12")
    options = dict(size=(1920, 1080), duration=args.frames / 30, fps=30, zoom_factor=2.0)
    t0 = time.perf_counter()
    everzoom.render(folder, args.work / "single.mp4", **options)
    single = time.perf_counter() - t0
    t0 = time.perf_counter()
    everzoom.render(folder, args.work / "cluster.mp4", workers=args.workers, **options)
    clustered = time.perf_counter() - t0
    print(f"{args.frames} frames 1920x1080, H.264 medium CRF 18")
    print(f"single process      {single:7.1f} s  ({args.frames / single:.1f} frames/s)")
    print(f"--workers {args.workers}         {clustered:7.1f} s  ({args.frames / clustered:.1f} frames/s), "
          f"ratio {single / clustered:.2f}")

    t0 = time.perf_counter()
    plan = everzoom.plan(folder, **options)
    plan_s = time.perf_counter() - t0
    client, local = cluster.connect(None, args.workers)
    try:
        plan.renderer.unprepare()
        t0 = time.perf_counter()
        shared = client.scatter(plan, broadcast=True)
        scatter_s = time.perf_counter() - t0
        settings = VideoSettings(".mp4")
        n = min(120, plan.frame_count)
        t0 = time.perf_counter()
        client.submit(cluster.render_pngs, shared, 0, 1, pure=False).result()  # pyramids built on the worker
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        client.submit(cluster.render_pngs, shared, 0, n, pure=False).result()
        render_s = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        data = client.submit(cluster.render_stream, shared, 0, n, settings, pure=False).result()
        stream_s = (time.perf_counter() - t0) / n
    finally:
        client.close()
        local.close()
    segment = args.work / "seg.ts"
    segment.write_bytes(data * 10)
    t0 = time.perf_counter()
    run(["-i", str(segment), "-c", "copy", "-bsf:v", "setts=pts=PTS-STARTPTS:dts=STARTDTS-STARTPTS+N*DURATION",
         "-f", "mp4", str(args.work / "joined.mp4")], "joining")
    join_s = (time.perf_counter() - t0) / (10 * n)
    print(f"plan {plan_s:.2f} s; scatter {scatter_s:.2f} s; first task on a worker (pyramids) {warm_s:.2f} s")
    print(f"per frame on one worker: render (+PNG) {render_s * 1000:.0f} ms, render + encode {stream_s * 1000:.0f} ms; "
          f"join {join_s * 1e6:.0f} us/frame; segment {len(data) / n / 1e3:.0f} kB/frame")


if __name__ == "__main__":
    main()
