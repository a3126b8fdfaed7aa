"""Shared by the benchmarks: a cached synthetic set made from the tests' procedural scene."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scene import Scene, outpainted_set  # noqa: E402


def make_set(folder: Path, n: int = 12, size: int = 1024, zf: float = 2.0, seed: int = 3, **perturb) -> Path:
    """Write (once) an n-image outpainted set of size x size PNGs, innermost first."""
    folder = Path(folder)
    if len(list(folder.glob("*.png"))) == n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    images, _ = outpainted_set(Scene(seed), n, zf, (size, size), **perturb)
    for i, im in enumerate(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    return folder
