"""Size of the exported page: the shipped sample, and 8 layers of 1024^2 (the first 8 images of
the benchmark set, the tests' dense procedural scene: a worst case for compression).

    python bench/web_bench.py
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from common import ROOT, make_set

import everzoom


def report(name: str, folder: Path, work: Path, **options) -> None:
    out = work / "page.html"
    t0 = time.perf_counter()
    size = everzoom.web(folder, out, **options)
    print(f"{name:<34} {size / 1e6:6.2f} MB  ({time.perf_counter() - t0:.1f} s)")


def main() -> None:
    work = Path("/tmp/everzoom-bench")
    set8 = work / "set8"
    if not set8.exists():
        set8.mkdir(parents=True)
        for path in sorted(make_set(work / "set12").glob("*.png"))[:8]:
            shutil.copy(path, set8 / path.name)
    report("samples/nebula (default)", ROOT / "samples" / "nebula", work)
    report("samples/nebula --lossless", ROOT / "samples" / "nebula", work, lossless=True)
    report("8 x 1024^2 (default)", set8, work, zoom_factor=2)
    report("8 x 1024^2 --quality 70", set8, work, zoom_factor=2, quality=70)
    report("8 x 1024^2 --lossless", set8, work, zoom_factor=2, lossless=True)


if __name__ == "__main__":
    main()
