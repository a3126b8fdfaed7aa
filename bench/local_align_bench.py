"""Local alignment (issue: Midjourney's shifted zoom-outs): misalignment at each inner image's
border before and after the warp, and what it costs.

    python bench/local_align_bench.py SET_FOLDER...      # e.g. the harness's --local-warp sets
    python bench/local_align_bench.py --timing           # plan time per 1024^2 pair

For every consecutive pair of each set (placed as `everzoom render` places it): the p90
misalignment in the inner image's border band (optical flow between the inner image, shrunk onto
the outer's grid, and the outer image; textured, consistent pixels; outer pixels) before and
after the warp, the largest shift applied, whether it was applied, and the seconds the local
alignment took. --timing makes a 1024^2 pair from the tests' scene with a known smooth shift.
"""
from __future__ import annotations

import argparse
import time


from common import ROOT, Scene, outpainted_set  # noqa: F401  (puts tests/ on the path)

import everzoom
from everzoom.local_align import local_warp
from everzoom.stack import Stack


def report(folder: str) -> None:
    p = everzoom.plan(folder, steps=2, local_align=False, force=True)
    layers = p.stack.layers
    print(f"{folder}")
    for k, (inner, outer) in enumerate(zip(layers, layers[1:])):
        t0 = time.perf_counter()
        _, warp = local_warp(inner.image, outer.image, inner.pixel_matrix(outer))
        seconds = time.perf_counter() - t0
        print(f"  {inner.name} in {outer.name}: p90 {warp.before:5.2f} -> {warp.after:5.2f} px, largest shift "
              f"{warp.largest:5.2f} px, {'applied' if warp.applied else 'left alone'}, {seconds:.2f} s")


def timing() -> None:
    from test_local_align import known_field, shifted  # the tests' own known field

    images, _ = outpainted_set(Scene(3), 2, 2.0, (1024, 1024))
    outer = shifted(images[1], known_field((1024, 1024), 8.0))
    stack = Stack.nominal([images[0], outer], 2.0)
    matrix = stack.layers[0].pixel_matrix(stack.layers[1])
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        _, warp = local_warp(images[0], outer, matrix)
        runs.append(time.perf_counter() - t0)
    print(f"1024^2 pair, zoom 2, known shift up to 8 px: p90 {warp.before:.2f} -> {warp.after:.2f} px; "
          f"local alignment {min(runs):.2f} s (best of 3)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*")
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()
    for folder in args.sets:
        report(folder)
    if args.timing or not args.sets:
        timing()
