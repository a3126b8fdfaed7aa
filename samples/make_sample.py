"""Make the shipped sample set: 7 images, 512x512, each the previous one zoomed out 2x.

    python samples/make_sample.py                 # writes samples/nebula/000.jpg ... 006.jpg
    python samples/make_sample.py --preview docs/frames.png   # also a strip of 4 rendered frames

The images come from the tests' procedural scene (band-limited, so every zoom level is exact),
coloured through a palette with relief shading. No third-party images.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from scene import Scene  # noqa: E402


def colour(field: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Scene channels -> a palette (channel 0) with relief shading (channel 2), RGB uint8.

    The same mean/std for every image keeps the colours consistent across zoom levels."""
    f = (field - mean) / std
    level = np.clip(0.5 + 0.3 * f[:, :, 0], 0, 1)
    rgb = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_TWILIGHT_SHIFTED)[:, :, ::-1]
    shade = np.clip(1.0 + 0.12 * f[:, :, 2], 0.7, 1.3)
    return np.clip(rgb * shade[:, :, None] + 0.5, 0, 255).astype(np.uint8)


def make(folder: Path, n: int = 7, size: int = 512, zf: float = 2.0, seed: int = 7) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    scene = Scene(seed, amplitude=10.0)
    outer = scene.field(0.0, 0.0, zf ** (n - 1), size, size)
    mean, std = outer.mean(axis=(0, 1)), outer.std(axis=(0, 1))
    paths = []
    for k in range(n):
        rgb = colour(scene.field(0.0, 0.0, zf ** k, size, size), mean, std)
        path = folder / f"{k:03d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def preview(folder: Path, out: Path) -> None:
    import everzoom

    frames = list(everzoom.frames(folder, steps=8, size=(256, 256)))
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, 4).astype(int)]
    strip = np.hstack([np.pad(f, ((0, 0), (0, 4), (0, 0)), constant_values=255) for f in picks])[:, :-4]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "nebula")
    ap.add_argument("--preview", type=Path, default=None)
    args = ap.parse_args()
    make(args.out)
    if args.preview:
        preview(args.out, args.preview)
