"""Where an inner image should give way to the outer one: a cost map of how differently the two
look near the border, per band, and a seam around the footprint that stays as close to the
edge as that cost allows.

Both images are compared on the inner image's grid (the outer resampled there after
registration and local alignment), reduced to the finest band the outer image still carries
(one octave below its own resolution). Per band, the local disagreement of the two detail
images (0: the same detail, 1: unrelated detail of equal strength) is averaged over a window
of the band's size; coarser bands weigh more (a shape cut in two shows more than a change of
texture). The pair's baseline (resampling, compression, a palette seen at two scales) is taken
off. The seam is one path per side, found by dynamic programming over the depth from that side
(at most MAX_DEPTH of the shorter side): it minimises the cost along it plus a price for every
pixel of depth, and its depth changes by at most one reduced pixel per step, so the region
inside the four paths is one smooth, closed shape. On a clean pair nothing disagrees and the
seam is the edge.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

MAX_DEPTH = 0.3        # the deepest a seam may go, a fraction of the shorter side
DEPTH_PRICE = 0.3      # cost (disagreement) the seam pays for going MAX_DEPTH deep, per unit of length
BENDING = 0.02         # cost per reduced pixel the depth changes between neighbours
BANDS = 4              # bands compared, from the finest the outer image carries
BASELINE_QUANTILE = 0.25  # the pair's baseline disagreement: this quantile of the cost map
SHAPE_SIDE = 64        # the width of the copies whose shapes are compared
SHAPE_SCALES = (0.06, 0.25)  # the structure compared: between these Gaussian blurs, fractions of the width
SHAPE_DEPTH = 0.12     # ... within this fraction of the side of each edge


def finest_band(zoom: float) -> int:
    """The finest pyramid level of the inner image whose detail the outer image still renders
    reliably: one octave below the outer image's resolution."""
    return max(0, int(math.floor(math.log2(zoom) + 0.5)) + 1)


def reduced_grey(image: np.ndarray, level: int) -> np.ndarray:
    current = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for _ in range(level):
        current = cv2.pyrDown(current)
    return current


def band_disagreements(inner: np.ndarray, outer_seen: np.ndarray, zoom: float,
                       bands: int = BANDS + 1) -> tuple[list[np.ndarray], int]:
    """Per band, from the finest the outer image carries (its level is returned; coarser on an
    image too small to have it) to coarser ones, each at its own resolution: how differently
    the two images' detail runs around each pixel (0 the same, 1 unrelated detail of equal
    strength; flat areas agree). At least one band on an image of 8 pixels or more."""
    level = min(finest_band(zoom), max(0, int(math.log2(max(min(inner.shape[:2]), 1) / 8))))
    a, b = reduced_grey(inner, level), reduced_grey(outer_seen, level)
    out = []
    for _ in range(bands):
        if min(a.shape) < 8:
            break
        da = a - cv2.pyrUp(cv2.pyrDown(a), dstsize=(a.shape[1], a.shape[0]))
        db = b - cv2.pyrUp(cv2.pyrDown(b), dstsize=(b.shape[1], b.shape[0]))
        differ = cv2.GaussianBlur((da - db) ** 2, (0, 0), 1.5)
        energy = cv2.GaussianBlur(da * da + db * db, (0, 0), 1.5) + 4.0  # a few grey levels: flat areas agree
        out.append(differ / energy)
        a, b = cv2.pyrDown(a), cv2.pyrDown(b)
    return out, level


def cost_map(maps: list[np.ndarray]) -> np.ndarray:
    """How differently the two images look around each pixel (baseline taken off, >= 0), on
    the grid of the finest comparable band: its first BANDS bands, coarser ones weighing more."""
    size = (maps[0].shape[1], maps[0].shape[0])
    total = np.zeros(maps[0].shape, np.float32)
    weights = 0.0
    for band, local in enumerate(maps[:BANDS]):
        weight = 2.0 ** (band / 2)
        total += weight * cv2.resize(local, size, interpolation=cv2.INTER_LINEAR)
        weights += weight
    cost = total / max(weights, 1e-9)
    return np.maximum(cost - float(np.quantile(cost, BASELINE_QUANTILE)), 0.0)


def at_edges(field: np.ndarray, depth: float = 0.1, skip: int = 0) -> np.ndarray:
    """A map's mean within `depth` of each side (left, top, right, bottom), past its first
    `skip` pixels (where filters meet the border), over the middle half of the side (the
    corners belong to two sides)."""
    h, w = field.shape
    n = max(skip + 1, int(round(depth * min(h, w))))
    return np.array([field[h // 4:h - h // 4, skip:n].mean(), field[skip:n, w // 4:w - w // 4].mean(),
                     field[h // 4:h - h // 4, w - n:w - skip].mean(), field[h - n:h - skip, w // 4:w - w // 4].mean()])


def shape_disagreement(inner: np.ndarray, outer_seen: np.ndarray) -> np.ndarray:
    """Per side, how differently the two images' shapes run near the edge: their structure
    between SHAPE_SCALES of the width (a band that an outpainter's new detail leaves alone and
    a repaint of whole shapes does not), compared on small copies within SHAPE_DEPTH of the
    edge (0 the same shapes, 1 unrelated ones)."""
    def grey(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        small = (SHAPE_SIDE, max(8, round(SHAPE_SIDE * h / w)))
        return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), small, interpolation=cv2.INTER_AREA)
    fine, coarse = (s * SHAPE_SIDE for s in SHAPE_SCALES)
    bands = [cv2.GaussianBlur(g, (0, 0), fine) - cv2.GaussianBlur(g, (0, 0), coarse) for g in map(grey, (inner, outer_seen))]
    a, b = bands
    local = cv2.GaussianBlur((a - b) ** 2, (0, 0), 2.0) / (cv2.GaussianBlur(a * a + b * b, (0, 0), 2.0) + 4.0)
    return at_edges(local, SHAPE_DEPTH)


def centre(field: np.ndarray) -> float:
    """A map's median over its middle third: what the pair shows where nothing was redrawn."""
    h, w = field.shape
    return float(np.median(field[h // 3:h - h // 3, w // 3:w - w // 3]))


def _side_costs(cost: np.ndarray, depth: int) -> list[np.ndarray]:
    """Per side (left, top, right, bottom): the cost at (position along the side, depth)."""
    return [cost[:, :depth], cost[:depth, :].T, cost[:, ::-1][:, :depth], cost[::-1, :][:depth, :].T]


def _cheapest_path(costs: np.ndarray, price: np.ndarray) -> np.ndarray:
    """The depth per position minimising sum(cost + price) with steps of at most one depth
    between neighbours and BENDING per step (dynamic programming over positions)."""
    n, d = costs.shape
    total = costs[0] + price
    back = np.zeros((n, d), np.int8)
    for s in range(1, n):
        stay, up, down = total, np.r_[np.inf, total[:-1]] + BENDING, np.r_[total[1:], np.inf] + BENDING
        choice = np.argmin(np.stack([stay, up, down]), axis=0)
        total = np.choose(choice, [stay, up, down]) + costs[s] + price
        back[s] = np.array([0, -1, 1], np.int8)[choice]
    path = np.empty(n, np.int64)
    path[-1] = int(np.argmin(total))
    for s in range(n - 1, 0, -1):
        path[s - 1] = path[s] + back[s, path[s]]
    return path


def seam_depths(cost: np.ndarray) -> list[np.ndarray]:
    """Per side (left, top, right, bottom), the seam's depth from that side (reduced pixels,
    fractional after smoothing) at each position along it, in reading order."""
    h, w = cost.shape
    depth = max(1, int(MAX_DEPTH * min(h, w)))
    price = DEPTH_PRICE * np.arange(depth) / depth
    out = []
    for side, costs in enumerate(_side_costs(cost, depth)):
        path = _cheapest_path(np.ascontiguousarray(costs), price).astype(np.float32)
        smooth = cv2.GaussianBlur(path.reshape(1, -1), (0, 0), 2.0, borderType=cv2.BORDER_REPLICATE).ravel()
        out.append(smooth)
    return out


def full_depths(depths: list[np.ndarray], level: int, shape: tuple[int, int]) -> list[np.ndarray]:
    """The side depths at the image's own resolution (pixels), one per row or column."""
    h, w = shape
    scale = 2 ** level
    out = []
    for side, d in enumerate(depths):
        n = h if side in (0, 2) else w
        positions = (np.arange(n) + 0.5) / scale - 0.5
        out.append(np.interp(positions, np.arange(len(d)), d).astype(np.float32) * scale)
    return out


def inside_distance(depths: list[np.ndarray], shape: tuple[int, int], step: int = 1) -> np.ndarray:
    """Signed distance (image pixels) of each pixel from the seam, positive inside it: the least
    of its distances past the four sides' seams. With `step`, at every step-th pixel (a pyramid
    level's grid: level-n pixel j at pixel j * 2**n)."""
    h, w = shape
    left, top, right, bottom = depths
    ys, xs = np.arange(0, h, step), np.arange(0, w, step)
    u, v = xs + 0.5, ys + 0.5
    across = np.minimum((u[None, :] - left[ys][:, None]), (w - u[None, :] - right[ys][:, None]))
    down = np.minimum((v[:, None] - top[xs][None, :]), (h - v[:, None] - bottom[xs][None, :]))
    return np.minimum(across, down).astype(np.float32)
