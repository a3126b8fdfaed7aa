"""Registration accuracy by image size and zoom factor: refusals and the worst zoom error.

    python bench/register_accuracy.py                       # the tests' noise scene, made here
    python bench/register_accuracy.py --sets DIR            # every set below DIR with a manifest.json
                                                            # (as ../shared/bench/synth.py writes them)

A pair's zoom error is measured where it shows: how far it moves the inner image's edge, in
pixels of the outer image, |measured/true - 1| * outer width / (2 * factor); the target is 0.5.
Each series (4 images) is registered as everzoom does (series pooling included). Prints, per
kind of set (clean, perturbed) a table by size and factor: worst edge error (px) / worst
offset error (px) / refused pairs; then the totals.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from common import ROOT  # noqa: F401  (puts tests/ on the path)
from noise_scene import NoiseScene
from scene import perturbed_set

import everzoom
from everzoom.register import register

SIZES = (128, 192, 256, 384, 512)
FACTORS = (1.2, 4 / 3, 1.5, 2.0, 3.0, 4.0)
PERTURBED = dict(jitter=2, scale_error=0.01, redraw=0.12, drift=0.04, jpeg_quality=90)


def made_here():
    """(kind, size, factor, images, true widths, true centres) for the noise scene's sweep."""
    for size in SIZES:
        for zf in FACTORS:
            for kind, perturb in (("clean", {}), ("perturbed", PERTURBED)):
                seed = size + int(zf * 10) + (kind == "perturbed")
                images, placements = perturbed_set(NoiseScene(seed), 4, zf, (size, size), seed=seed, **perturb)
                yield (kind, size, zf, images, [p.width for p in placements], [(p.cx, p.cy) for p in placements])


def from_folders(root: Path):
    """The same from set folders with a shared-bench manifest.json (kind: perturbed if any)."""
    for manifest in sorted(root.glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        images, _ = everzoom.load_images(manifest.parent)
        kind = "perturbed" if any(data["perturb"].values()) else "clean"
        entries = data["images"]
        yield (kind, data["size"][0], data["zoom_factor"], images, [e["width"] for e in entries],
               [tuple(e["center"]) for e in entries])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", type=Path, default=None)
    args = ap.parse_args()
    cells: dict = {}
    start = time.perf_counter()
    pairs = 0
    for kind, size, zf, images, widths, centres in (from_folders(args.sets) if args.sets else made_here()):
        fits = register(images, [str(i) for i in range(len(images))])
        for k, fit in enumerate(fits):
            true = widths[k + 1] / widths[k]
            pixel = widths[k + 1] / size
            offset = ((centres[k][0] - centres[k + 1][0]) / pixel, (centres[k][1] - centres[k + 1][1]) / pixel)
            edge = abs(fit.zoom / true - 1) * size / (2 * true)
            off = max(abs(fit.offset[0] - offset[0]), abs(fit.offset[1] - offset[1]))
            cells.setdefault((kind, size, round(zf, 3)), []).append((edge, off, not fit.ok))
            pairs += 1
    seconds = time.perf_counter() - start
    for kind in ("clean", "perturbed"):
        keys = [k for k in cells if k[0] == kind]
        if not keys:
            continue
        factors = sorted({k[2] for k in keys})
        print(f"\n{kind}: worst edge error px / worst offset error px / refused")
        print("size  " + "".join(f"{z:>17.3f}" for z in factors))
        for size in sorted({k[1] for k in keys}):
            row = ""
            for z in factors:
                c = cells.get((kind, size, z))
                row += f"{'':>17}" if c is None else \
                    f"{max(e for e, _, _ in c):>7.2f}/{max(o for _, o, _ in c):5.2f}/{sum(r for _, _, r in c):d}  "
            print(f"{size:<6}{row}")
    everything = [x for c in cells.values() for x in c]
    worst = {}
    for (kind, size, _), c in cells.items():
        worst[size] = max(worst.get(size, 0.0), max(e for e, _, r in c if not r) if any(not r for *_, r in c) else 0.0)
    print(f"\n{pairs} pairs in {seconds:.1f} s; refused {sum(r for *_, r in everything)}; "
          f"pairs over 0.5 px {sum(e > 0.5 for e, _, _ in everything)}; worst edge error by size: "
          + ", ".join(f"{s}: {w:.2f}" for s, w in sorted(worst.items())))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
