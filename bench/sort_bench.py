"""Sort benchmark: shuffled sets of 1024x1024 PNGs (24 and 100 images), time per stage.

    python bench/sort_bench.py [--counts 24 100] [--work /tmp/everzoom-bench]

The sets come from the tests' procedural scene (zoom factor 4/3, offsets, colour drift; made
at 256 px and enlarged, then written once as PNG); loading is timed with the rest, since a user
pays for it too. Prints, per set: whether the order came out right, and the seconds spent
loading, on features, on pair scores, on ordering and on the ORB check.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from common import ROOT  # noqa: F401  (puts tests/ on the path)
from scene import Scene, perturbed_set

import everzoom
from everzoom.ordering import sort_images


def make(folder: Path, n: int) -> list[str]:
    """Write the set once; return the true order of its (shuffled) file names."""
    rng = np.random.default_rng(n)
    names = [f"{rng.integers(0, 2**32):08x}.png" for _ in range(n)]
    if len(list(folder.glob("*.png"))) != n:
        folder.mkdir(parents=True, exist_ok=True)
        images, _ = perturbed_set(Scene(n, min_octave=-40, amplitude=4.0), n, 4 / 3, (256, 256), seed=n,
                                  jitter=2, drift=0.03)
        for name, image in zip(names, images):
            big = cv2.resize(image, (1024, 1024), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(folder / name), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", type=int, nargs="+", default=[24, 100])
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-bench"))
    args = ap.parse_args()
    for n in args.counts:
        folder = args.work / f"sort{n}"
        truth = make(folder, n)
        t0 = time.perf_counter()
        images, names = everzoom.load_images(folder)
        loading = time.perf_counter() - t0
        order = sort_images(images, names)
        total = loading + sum(order.timings.values())
        split = ", ".join(f"{k} {v:.2f} s" for k, v in {"loading": loading, **order.timings}.items())
        print(f"sort {n} images 1024x1024: {'right' if order.order == truth else 'WRONG'} order, "
              f"total {total:.2f} s ({split})")


if __name__ == "__main__":
    main()
