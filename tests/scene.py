"""A procedural test scene with unbounded detail and exact pixels at any world window.

The scene is a sum of plane waves, a few per octave (frequency 2**i cycles per world unit), with
per-channel amplitudes: equal amplitude per octave gives the 1/f^2 spectrum of natural images. A
pixel is the exact box average of the scene over its square (a sinc factor per wave), and detail
is band-limited to the camera: full weight up to half its Nyquist frequency, fading to zero at
Nyquist (linear in log frequency). So an image of any window is alias-free, and ground truth for
any view is exact. Each wave is evaluated separably (outer products), so images are cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Scene:
    seed: int = 0
    min_octave: int = -9
    max_octave: int = 10
    waves: int = 6
    amplitude: float = 8.0
    nonlinear: bool = False  # colours through a smooth palette, as real pictures and the shared bench's scene


    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        octs = np.arange(self.min_octave, self.max_octave + 1)
        n = len(octs) * self.waves
        self.freq = np.repeat(2.0 ** octs, self.waves) * rng.uniform(0.85, 1.15, n)
        theta = rng.uniform(0, np.pi, n)
        self.fx, self.fy = self.freq * np.cos(theta), self.freq * np.sin(theta)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = rng.normal(0, self.amplitude, (n, 3))
        self.base = rng.uniform(100, 150, 3)

    def reseeded(self, above: float, seed: int) -> "Scene":
        """The same scene with new detail finer than `above` cycles per unit (coarse structure kept)."""
        other = Scene(self.seed, self.min_octave, self.max_octave, self.waves, self.amplitude, self.nonlinear)
        fine = self.freq > above
        other.phase = np.where(fine, np.random.default_rng(seed).uniform(0, 2 * np.pi, len(self.freq)), self.phase)
        return other

    def weights(self, detail: float, pixel: float) -> np.ndarray:
        """Per-wave factor: band limit of a camera with pixel `detail`, box average over `pixel`."""
        lo, hi = 1 / (4 * detail), 1 / (2 * detail)
        band = np.clip(np.log2(hi / self.freq), 0, 1) if hi > lo else (self.freq < hi).astype(float)
        return band * np.sinc(self.fx * pixel) * np.sinc(self.fy * pixel)

    def image(self, cx: float, cy: float, width: float, w: int, h: int,
              detail: float | None = None) -> np.ndarray:
        """RGB uint8 view of the world rectangle centred at (cx, cy), `width` wide, w x h pixels.

        `detail` (world size of a pixel) caps the band limit; default: this image's own pixel.
        With `nonlinear`, each pixel's colour is a palette of its band-limited value: an image
        then differs from a finer one shrunk (whose pixels average the palette over detail the
        coarser camera does not see), as outpainted images differ where they overlap.
        """
        field = self.field(cx, cy, width, w, h, detail, relief=self.nonlinear)
        if self.nonlinear:
            field = self.palette(field)
        return np.clip(field + 0.5, 0, 255).astype(np.uint8)

    def palette(self, field: np.ndarray) -> np.ndarray:
        """Colours of a relief-shaded palette (three channels and a slope -> RGB)."""
        f = (field[..., :3] - self.base) / 40.0
        mixed = np.stack([f[..., 0] + 0.5 * f[..., 1], f[..., 1] - 0.3 * f[..., 2], f[..., 2] + 0.4 * f[..., 0]], -1)
        shade = 1.0 + 0.35 * np.tanh(field[..., 3:] / 40.0)
        return (self.base + 70.0 * np.tanh(mixed)) * shade

    def field(self, cx, cy, width, w, h, detail=None, relief: bool = False) -> np.ndarray:
        """The scene's three channels (and, with `relief`, a fourth: the slope of channel 0
        towards the light, each wave weighted alike whatever its frequency)."""
        pixel = width / w
        weight = self.weights(max(detail or pixel, pixel), pixel)
        xs = cx + (np.arange(w) + 0.5 - w / 2) * pixel
        ys = cy + (np.arange(h) + 0.5 - h / 2) * pixel
        out = np.zeros((h, w, 4 if relief else 3))
        light = (self.fx * 0.6 + self.fy * 0.8) / self.freq
        for i in np.flatnonzero(weight > 1e-4):
            ax = 2 * np.pi * self.fx[i] * xs + self.phase[i]
            ay = 2 * np.pi * self.fy[i] * ys
            wave = np.outer(np.cos(ay), np.cos(ax)) - np.outer(np.sin(ay), np.sin(ax))
            out[:, :, :3] += wave[:, :, None] * (weight[i] * self.amp[i])
            if relief:
                slope = np.outer(np.sin(ay), np.cos(ax)) + np.outer(np.cos(ay), np.sin(ax))
                out[:, :, 3] -= slope * (weight[i] * self.amp[i, 0] * light[i])
        out[:, :, :3] += self.base
        return out


@dataclass
class Placement:
    cx: float
    cy: float
    width: float


def outpainted_set(scene: Scene, n: int, zf: float, size: tuple[int, int] = (128, 128),
                   offsets: np.ndarray | None = None, scales: np.ndarray | None = None
                   ) -> tuple[list[np.ndarray], list[Placement]]:
    """Images 0..n-1, innermost first; image k nominally zf**k wide, centred at the origin.

    offsets[k] (in image k's own pixels) shifts image k's true centre; scales[k] multiplies the
    true step factor from image k-1 to image k.
    """
    w, h = size
    placements, width, images = [], 1.0, []
    for k in range(n):
        if k:
            width *= zf * (scales[k] if scales is not None else 1.0)
        dx, dy = (offsets[k] if offsets is not None else (0.0, 0.0))
        p = Placement(dx * width / w, dy * width / w, width)
        placements.append(p)
        images.append(scene.image(p.cx, p.cy, p.width, w, h))
    return images, placements


def ground_truth(scene: Scene, placements: list[Placement], size: tuple[int, int],
                 cx: float, cy: float, width: float, out_w: int, out_h: int) -> np.ndarray:
    """The best frame any renderer can make from the set: each pixel has the detail of the finest
    image that covers it, capped by the frame's own resolution."""
    img_w, img_h = size
    pixel = width / out_w
    xs = cx + (np.arange(out_w) + 0.5 - out_w / 2) * pixel
    ys = cy + (np.arange(out_h) + 0.5 - out_h / 2) * pixel
    finest = np.full((out_h, out_w), len(placements) - 1)
    for k in range(len(placements) - 2, -1, -1):
        p = placements[k]
        half_w, half_h = p.width / 2, p.width * img_h / img_w / 2
        inside = (np.abs(ys - p.cy)[:, None] <= half_h) & (np.abs(xs - p.cx)[None, :] <= half_w)
        finest[inside & (finest > k)] = k
    out = np.zeros((out_h, out_w, 3))
    for k in np.unique(finest):
        field = scene.field(cx, cy, width, out_w, out_h, detail=placements[k].width / img_w)
        out[finest == k] = field[finest == k]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> float:
    """PSNR in dB, optionally ignoring a border of `margin` of each side."""
    h, w = a.shape[:2]
    my, mx = int(h * margin), int(w * margin)
    a = a[my:h - my, mx:w - mx].astype(np.float64)
    b = b[my:h - my, mx:w - mx].astype(np.float64)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of the BT.709 luma: the measure for 4:2:0 video, whose colour is half resolution."""
    weights = np.array([0.2126, 0.7152, 0.0722])
    mse = float((((a.astype(float) - b) @ weights) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def jpeg(image: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def perturbed_set(scene: Scene, n: int, zf: float, size=(128, 128), seed: int = 0, jitter: float = 0.0,
                  scale_error: float = 0.0, redraw: float = 0.0, drift: float = 0.0,
                  jpeg_quality: int | None = None, straddle: float = 0.0) -> tuple[list[np.ndarray], list[Placement]]:
    """An outpainted set with the faults of real tools, and its true placements.

    jitter: each image's centre is off by up to this many of its own pixels; scale_error: each
    step factor is off by up to this fraction; redraw: image k+1 redraws a band of this fraction
    of image k's width inside k's footprint (weight 1 at the footprint's border, 0 at that
    depth), with new detail finer than the band and the same coarse structure; straddle: the
    redraw instead fades out on both sides of the footprint's border (as Midjourney's does: the
    outer image is seamless, the inner one meets different detail) and its colours are shifted
    by this many grey levels; drift: per-image colour gain
    1 +- drift and offset +- 100*drift grey levels; jpeg_quality: stored as JPEG.
    """
    rng = np.random.default_rng(seed)
    offsets = rng.uniform(-jitter, jitter, (n, 2)) if jitter else None
    if offsets is not None:
        offsets[0] = 0
    scales = 1 + rng.uniform(-scale_error, scale_error, n) if scale_error else None
    images, placements = outpainted_set(scene, n, zf, size, offsets, scales)
    w, h = size
    for k in range(1, n):
        if redraw:
            other = scene.reseeded(1 / (redraw * placements[k - 1].width), seed * 1000 + k)
            p, q = placements[k], placements[k - 1]
            xs = p.cx + (np.arange(w) + 0.5 - w / 2) * p.width / w
            ys = p.cy + (np.arange(h) + 0.5 - h / 2) * p.width / w
            depth = redraw * q.width
            dx = q.width / 2 - np.abs(xs - q.cx)
            dy = q.width * h / w / 2 - np.abs(ys - q.cy)
            inside = np.minimum(dy[:, None], dx[None, :])
            weight = (np.clip(1 - np.abs(inside) / depth, 0, 1) if straddle else
                      np.where(inside > 0, np.clip(1 - inside / depth, 0, 1), 0.0))[:, :, None]
            fresh = other.image(p.cx, p.cy, p.width, w, h).astype(np.float64) + straddle
            images[k] = np.clip(images[k] * (1 - weight) + fresh * weight + 0.5, 0, 255).astype(np.uint8)
    if drift:
        for k in range(n):
            gain = 1 + rng.uniform(-drift, drift, 3)
            offset = rng.uniform(-100 * drift, 100 * drift, 3)
            images[k] = np.clip(images[k] * gain + offset + 0.5, 0, 255).astype(np.uint8)
    if jpeg_quality:
        images = [jpeg(im, jpeg_quality) for im in images]
    return images, placements


def anchored_set(scene: Scene, n: int, zf: float, size: tuple[int, int] = (160, 90),
                 anchor: tuple[float, float] = (0.5, 0.72)) -> tuple[list[np.ndarray], list[Placement]]:
    """Images 0..n-1, innermost first, each image k's centre at `anchor` (fractions of the
    width and height) of image k+1, as ComfyUI's uneven outpaint padding places it: the zoom
    heads off centre, every step the same way."""
    w, h = size
    placements = [Placement(0.0, 0.0, 1.0)]
    for k in range(1, n):
        width = zf ** k
        inner = placements[-1]
        placements.append(Placement(inner.cx - (anchor[0] - 0.5) * width, inner.cy - (anchor[1] - 0.5) * width * h / w,
                                    width))
    return [scene.image(p.cx, p.cy, p.width, w, h) for p in placements], placements


def looped(scene: Scene, period: int) -> Scene:
    """The scene made self-similar: its waves repeat every `period` octaves (the same
    directions, phases and amplitudes, frequencies 2**period apart), so a window and the window
    2**period times wider show the same picture (but for the smooth colour of the octaves below
    the scene's lowest): a series of images zoom 2 apart closes into a loop of `period` images,
    its outermost image sitting inside its innermost one, as a zoomquilt's does."""
    other = Scene(scene.seed, scene.min_octave, scene.max_octave, scene.waves, scene.amplitude, scene.nonlinear)
    octave = np.repeat(np.arange(scene.min_octave, scene.max_octave + 1), scene.waves)
    index = np.arange(len(octave))
    root = (octave - scene.min_octave) % period + scene.min_octave  # the octave each one copies
    copy = index - (octave - root) * scene.waves
    scale = 2.0 ** (octave - root)
    other.freq, other.fx, other.fy = scene.freq[copy] * scale, scene.fx[copy] * scale, scene.fy[copy] * scale
    other.phase, other.amp = scene.phase[copy], scene.amp[copy]
    return other
