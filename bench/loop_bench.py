"""A closed loop rendered with --loop: do the frames across the wrap (N-2, N-1, 0, 1) move as
smoothly as any four consecutive frames? Scored by the shared harness's smoothness metric.

    PY=/tmp/benchvenv/bin/python python bench/loop_bench.py [--size 256] [--steps 24]

The set is a zoomquilt from the tests' scene made self-similar (tests/scene.py `looped`: 6
images zoom 2 apart, the outermost inside the innermost, each inner image 20% of the height
below its outer one's centre). It is rendered with default options and --loop to PNG frames;
the clip is played twice in a row (frames 0..N-1, 0..N-1) and the harness measures every
consecutive pair: the centre motion's jitter (its distance from the running median, output
pixels), the residual's pop (residual over its median) and the log-zoom step. The pairs across
the wrap are compared with the rest.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from common import ROOT  # noqa: F401  (puts tests/ on the path)
from scene import Scene, looped

import everzoom

HARNESS = Path(__file__).resolve().parents[2] / "shared" / "bench"


def quilt(folder: Path, n: int, size: int) -> Path:
    scene = looped(Scene(44, min_octave=-12), n)
    lam = -(0.7 - 0.5) / (1 - 1 / 2)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        image = scene.image(0.0, lam * 2.0 ** k, 2.0 ** k, size, size)
        cv2.imwrite(str(folder / f"q{k}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return folder


def running_median(x: np.ndarray, k: int = 9) -> np.ndarray:
    pad = np.pad(x, [(k // 2, k // 2)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    return np.array([np.median(pad[i:i + k], axis=0) for i in range(len(x))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--images", type=int, default=6)
    args = ap.parse_args()
    py = os.environ.get("PY", "python3")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = quilt(tmp / "quilt", args.images, args.size)
        everzoom.render(folder, tmp / "frames", steps=args.steps, loop=True)
        frames = sorted((tmp / "frames").glob("frame_*.png"))
        n = len(frames)
        twice = tmp / "twice"
        twice.mkdir()
        for i, f in enumerate(frames + frames):
            shutil.copy(f, twice / f"f{i:05d}.png")
        out = tmp / "smooth.json"
        subprocess.run([py, str(HARNESS / "metrics.py"), "smoothness", str(twice), "--json", str(out)], check=True,
                       capture_output=True)
        rows = json.loads(out.read_text())["pairs"]
    if len(rows) != 2 * n - 1 or not all(r["ok"] for r in rows):
        raise SystemExit(f"the harness aligned {sum(r['ok'] for r in rows)} of {len(rows)} pairs")
    d = np.array([[r["dx"], r["dy"]] for r in rows])
    jitter = np.linalg.norm(d - running_median(d), axis=1)
    residual = np.array([r["residual"] for r in rows])
    pop = residual / np.median(residual)
    zoom = np.array([r["log_zoom"] for r in rows])
    wrap = [n - 2, n - 1, n]   # pairs (N-2, N-1), (N-1, 0), (0, 1) of the second play
    rest = [i for i in range(len(rows)) if i not in wrap]
    print(f"{args.images} images {args.size}^2, --steps {args.steps}: {n} frames per loop, {len(rows)} pairs scored")
    print(f"jitter px   wrap {np.round(jitter[wrap], 4).tolist()}  rest median {np.median(jitter[rest]):.4f} "
          f"max {jitter[rest].max():.4f}")
    print(f"pop         wrap {np.round(pop[wrap], 3).tolist()}  rest max {pop[rest].max():.3f} "
          f"p99 {np.percentile(pop[rest], 99):.3f}")
    print(f"log zoom    wrap {np.round(zoom[wrap], 5).tolist()}  rest {zoom[rest].min():.5f} .. {zoom[rest].max():.5f}")


if __name__ == "__main__":
    main()
