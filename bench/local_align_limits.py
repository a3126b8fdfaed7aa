"""How close local alignment can come to the unwarped twin on the harness's --local-warp sets,
and what stands in the way (issue: Midjourney's shifted zoom-outs).

    PY=/tmp/benchvenv/bin/python python bench/local_align_limits.py [--harness ../shared/bench]

The harness knows the field it applied; everzoom never reads it. This script asks the harness
for it (its synth.apply_local_warp, run in the harness's own Python on a picture of pixel
coordinates) and renders variants of the warp25 set and its twin, all scored by the harness's
`metrics.py fidelity --fit-center`:

  default        everzoom's defaults (local alignment measured from the images)
  exact          each outer image un-warped by the exact inverse of the applied field, then
                 rendered without local alignment: the best any local alignment could do
  exact-inside   the exact inverse over the inner image's footprint only, carried past it by
                 its value at the footprint's edge and everzoom's taper: a perfect measurement
                 where one is possible (nothing in the images shows the field outside the
                 footprint, where the harness's field keeps changing as it tapers)
  twin           the unwarped twin at defaults (the target is within 1 dB of it)
  twin-forced    the twin with the field everzoom measures applied whatever the gates say:
                 what measurement noise alone costs

It also prints, for each pair of the twin, how far apart the two renderings of one area are
(RMS grey difference of the inner image, shrunk onto the outer's grid, and the outer image) and
the smooth field local alignment measures between them, though nothing moved.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from quality_bench import ROOT, SETS, fidelity, run

import everzoom
from everzoom import local_align
from everzoom.local_align import inner_on_outer, local_warp, pixel_grid

TRUE_FIELDS = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import synth
man = json.load(open(sys.argv[2] + '/manifest.json'))
(w, h), seed, amp = man['size'], man['scene']['seed'], man['perturb']['local_warp']
ims, out = man['images'], {}
for k in range(1, len(ims)):
    grid = np.indices((h, w), float)[::-1]
    img = np.dstack([grid[0], grid[1], np.zeros((h, w))])
    synth.apply_local_warp(img, ims[k], ims[k - 1], amp, np.random.default_rng(seed * 1000 + 500 + k), w, h)
    out[str(k)] = np.dstack([img[..., 0] - grid[0], img[..., 1] - grid[1]]).astype(np.float32)
np.savez(sys.argv[3], **out)
"""


def inverse(field: np.ndarray) -> np.ndarray:
    """g with g(x) = -field(x + g(x)): warping by g undoes a warp by field (fixed point)."""
    grid, g = pixel_grid(field.shape), -field.copy()
    for _ in range(10):
        g = -cv2.remap(field, grid + g, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return g


def edge_extended(field: np.ndarray, footprint: np.ndarray, side: float) -> np.ndarray:
    """field over the footprint; outside it, its value at the nearest edge point, tapered as
    local alignment tapers its own field."""
    ys, xs = np.nonzero(footprint)
    grid = pixel_grid(field.shape)
    nearest = np.dstack([np.clip(grid[..., 0], xs.min(), xs.max()), np.clip(grid[..., 1], ys.min(), ys.max())]).astype(np.float32)
    carried = cv2.remap(field, nearest, None, cv2.INTER_LINEAR)
    return carried * local_align._taper(footprint, local_align.TAPER * side)[:, :, None]


def write_set(folder: Path, layers, images: list[np.ndarray]) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for layer, image in zip(layers, images, strict=True):
        cv2.imwrite(str(folder / f"{layer.name.rsplit('.', 1)[0]}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return folder


def unwarped(folder: Path, fields: dict, out: Path, inside_only: bool) -> Path:
    layers = everzoom.plan(str(folder), steps=2, local_align=False, force=True).stack.layers
    images = [layers[0].image]
    for k in range(1, len(layers)):
        g = inverse(fields[str(k)])
        if inside_only:
            matrix = layers[k - 1].pixel_matrix(layers[k])
            _, footprint = inner_on_outer(layers[k - 1].image, layers[k].image, matrix)
            g = edge_extended(g, footprint, matrix[0, 0] * min(layers[k - 1].image.shape[:2]))
        images.append(cv2.remap(layers[k].image, pixel_grid(g.shape) + g, None, cv2.INTER_CUBIC,
                                borderMode=cv2.BORDER_REFLECT_101))
    return write_set(out, layers, images)


def forced(folder: Path, out: Path) -> Path:
    """The set with local alignment's measured field applied to every pair, gates off."""
    layers = everzoom.plan(str(folder), steps=2, local_align=False, force=True).stack.layers
    saved = local_align.NOISE, local_align.AGREEING, local_align.IMPROVES
    local_align.NOISE, local_align.AGREEING, local_align.IMPROVES = 0.0, 0.0, float("inf")
    try:
        for inner, outer in zip(layers, layers[1:]):
            outer.image, _ = local_warp(inner.image, outer.image, inner.pixel_matrix(outer))
    finally:
        local_align.NOISE, local_align.AGREEING, local_align.IMPROVES = saved
    return write_set(out, layers, [layer.image for layer in layers])


def noise_floor(folder: Path) -> None:
    layers = everzoom.plan(str(folder), steps=2, local_align=False, force=True).stack.layers
    for inner, outer in zip(layers, layers[1:]):
        seen, footprint = inner_on_outer(inner.image, outer.image, inner.pixel_matrix(outer))
        a, b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (seen, outer.image))
        diff = (a - b)[cv2.erode(footprint.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)]
        _, warp = local_warp(inner.image, outer.image, inner.pixel_matrix(outer))
        length = np.hypot(warp.field[..., 0], warp.field[..., 1])
        print(f"  {inner.name} in {outer.name}: renderings differ by {np.sqrt((diff ** 2).mean()):.1f} grey RMS; "
              f"measured field mean {length.mean():.2f} px, largest {length.max():.2f} px "
              f"({'applied' if warp.applied else 'left alone'})")


def psnr(folder: Path, name: str, work: Path, harness: Path, py: str, options: list[str]) -> float:
    frames = work / "runs" / "limits" / name
    shutil.rmtree(frames, ignore_errors=True)
    run([sys.executable, "-m", "everzoom", "render", str(folder), "-zs", "12", "-q", *options, "-o", str(frames)])
    return fidelity(frames, folder, harness, py)["psnr_mean"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harness", type=Path, default=ROOT.parent / "shared" / "bench")
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-quality"))
    args = ap.parse_args()
    py = os.environ.get("PY", "python3")
    sets = {}
    for name in ("warp25", "warp25-twin"):
        sets[name] = args.work / "sets" / f"{name}-s1"
        if not (sets[name] / "manifest.json").exists():
            run([py, str(args.harness / "synth.py"), str(sets[name]), *SETS[name], "--seed", "1"])
    truth = args.work / "warp25-s1-fields.npz"
    subprocess.run([py, "-c", TRUE_FIELDS, str(args.harness), str(sets["warp25"]), str(truth)], check=True)
    fields = dict(np.load(truth))
    variants = args.work / "limits"
    print("twin: the two renderings of each inner image's area, and the field measured between them")
    noise_floor(sets["warp25-twin"])
    rows = [("default", sets["warp25"], []),
            ("exact", unwarped(sets["warp25"], fields, variants / "exact", False), ["--no-local-align"]),
            ("exact-inside", unwarped(sets["warp25"], fields, variants / "exact-inside", True), ["--no-local-align"]),
            ("twin", sets["warp25-twin"], []),
            ("twin-forced", forced(sets["warp25-twin"], variants / "twin-forced"), ["--no-local-align"])]
    print(f"{'variant':<14} {'PSNR dB':>8}   (warp25 set, seed 1, metrics.py fidelity --fit-center; "
          "variants are scored against the set's own manifest)")
    for name, folder, options in rows:
        score_set = sets["warp25-twin"] if name.startswith("twin") else sets["warp25"]
        if folder != score_set:
            shutil.copy(score_set / "manifest.json", folder / "manifest.json")
        print(f"{name:<14} {psnr(folder, name, args.work, args.harness, py, options):>8.2f}", flush=True)


if __name__ == "__main__":
    main()
