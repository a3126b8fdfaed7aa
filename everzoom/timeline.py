"""Where the zoom is at each frame: depth (in image steps, 0 = the outermost image, n-1 = the
innermost) as a function of the frame index, for every mode, easing and timing.

One way (`in`: outermost to innermost, `out` the reverse) the depth follows the knots
(time at which each image is reached, depth) through a monotone C1 spline (PCHIP): equal
times give constant speed; per-step times (--timing) change the speed smoothly at the images,
never in one jump; a hold at an image (--hold-each) is a flat stretch that the spline reaches
and leaves with zero speed (eased to rest, not frozen abruptly). The named easing then ramps
the speed up from rest at the start and down to rest at the end over --ease-steps steps.
`in-out` plays the one-way path and then the same path backwards, so frame i equals frame
N-1-i; the turn eases to rest (the one-way path ends at rest there) and the frame at the turn
is not repeated. With --loop the clip is periodic: its last frame is followed by its first. A
closed series (loop.py) loops one way: its path runs through every image and on to the copy
of the first at the last step's end, which is where the clip starts again.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from .errors import EverzoomError

MODES = ("in", "out", "in-out", "out-in")
EASES = ("none", "sine", "cubic", "quint")


def ramp_position(u: np.ndarray, ease: str) -> np.ndarray:
    """Distance covered over a ramp from rest to full speed (speed 1 at u = 1) at fraction u:
    the integral of the curve's speed profile (sine: sin^2, cubic: smoothstep, quint:
    smootherstep). Full speed through the whole ramp would cover 1."""
    u = np.clip(u, 0.0, 1.0)
    if ease == "sine":
        return u / 2 - np.sin(math.pi * u) / (2 * math.pi)
    if ease == "cubic":
        return u ** 3 - u ** 4 / 2
    if ease == "quint":
        return u ** 6 - 3 * u ** 5 + 2.5 * u ** 4
    return u


def eased(t: np.ndarray, start: str, end: str, ramp: float) -> np.ndarray:
    """Time 0..1 -> eased time 0..1: the speed ramps up from rest over `ramp` with the `start`
    curve and down to rest over `ramp` with the `end` curve ('none': no ramp at that end),
    constant between; position and speed are continuous."""
    t = np.asarray(t, dtype=np.float64)
    ramp = min(max(ramp, 0.0), 0.5)
    if ramp == 0:
        return t
    lost_s, lost_e = (ramp * (1 - float(ramp_position(np.array(1.0), e))) for e in (start, end))
    speed = 1 / (1 - lost_s - lost_e)
    head = speed * ramp * ramp_position(t / ramp, start)
    tail = 1 - speed * ramp * ramp_position((1 - t) / ramp, end)
    return np.where(t < ramp, head, np.where(t > 1 - ramp, tail, speed * (t - lost_s)))


def knots(seconds: list[float], holds: list[float]) -> tuple[list[float], list[float]]:
    """(time, depth) at which the path reaches and leaves each image, outermost first:
    `seconds[k]` to travel step k, `holds[k]` seconds of rest at image k."""
    if len(holds) != len(seconds) + 1:
        raise ValueError("one travel time per step and one hold per image")
    times, depths, now = [], [], 0.0
    for k, hold in enumerate(holds):
        times.append(now)
        depths.append(float(k))
        if hold > 0:
            now += hold
            times.append(now)
            depths.append(float(k))
        if k < len(seconds):
            now += seconds[k]
    return times, depths


def one_way(seconds: list[float], holds: list[float]) -> PchipInterpolator:
    """Depth over time from the outermost image (depth 0) inwards, through the knots."""
    return PchipInterpolator(*map(np.array, knots(seconds, holds)))


def around(seconds: list[float], holds: list[float]) -> tuple[PchipInterpolator, float]:
    """Depth over time once round a closed loop, and the time it takes: the knots continued
    one period either way, so that speed and holds join smoothly where the clip starts again."""
    times, depths = knots(seconds, holds)
    total, steps = times[-1], depths[-1]
    times = [times[-2] - total, *times, times[1] + total]
    depths = [depths[-2] - steps, *depths, depths[1] + steps]
    return PchipInterpolator(np.array(times), np.array(depths)), total


def plan_depths(steps: int, one_way_frames: int, mode: str = "in", ease: str = "none",
                ease_steps: float = 1.0, seconds: list[float] | None = None, holds: list[float] | None = None,
                loop: bool = False, closed: bool = False) -> np.ndarray:
    """Depth (0 = outermost image, `steps` = innermost) of every frame of the clip; `closed`:
    the series closes into a loop and `steps` includes the closing one (the clip then holds
    one_way_frames - 1 frames, the last step's end being the first frame again)."""
    if mode not in MODES:
        raise EverzoomError(f"--mode must be one of {', '.join(MODES)}, not {mode}")
    if ease not in EASES:
        raise EverzoomError(f"--ease must be one of {', '.join(EASES)}, not {ease}")
    if loop and mode in ("in", "out") and not closed:
        raise EverzoomError(f"--loop: a one-way zoom (--mode {mode}) loops only on a closed series, whose "
                            "outermost image reappears inside its innermost one; use --mode in-out or out-in")
    seconds, holds = seconds or [1.0] * steps, holds or [0.0] * (steps + 1)
    if closed and mode in ("in", "out"):
        if ease != "none":
            raise EverzoomError(f"--ease {ease}: a closed loop zooms on forever, with no start or end to ease")
        cycle, total = around(seconds, holds)
        d = cycle(np.linspace(0.0, total, one_way_frames)[:-1])
        return d if mode == "in" else (steps - d) % steps
    path = one_way(seconds, holds)
    total = float(path.x[-1])
    turn = ease if ease != "none" else "cubic"  # a turn always comes to rest
    start = turn if loop else ease               # looping, the start is a turn too
    end = ease if mode in ("in", "out") else turn
    ramp = ease_steps / steps if steps else 0.0
    t = eased(np.linspace(0.0, 1.0, one_way_frames), start, end, ramp)
    d = np.clip(path(t * total), 0.0, steps)
    if mode in ("in-out", "out-in"):
        d = np.concatenate([d, d[::-1][1:-1] if loop else d[::-1][1:]])
    return d if mode in ("in", "in-out") else steps - d


def read_timing(path: str | Path, names: list[str], closed: bool = False) -> dict[int, tuple[float | None, float]]:
    """A timing file: image (name or index, innermost first) -> (seconds to travel from it to the
    next, zoomed-out image, or None to keep the default; seconds of hold there). In a closed
    loop the outermost image travels on to the copy of the innermost around it.

    CSV: rows `image,seconds[,hold]` (a header row and # comments are skipped). JSON: an object
    `{"image": seconds}` or `{"image": {"seconds": s, "hold": h}}`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EverzoomError(f"--timing {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    rows: list[tuple[str, object, object]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EverzoomError(f"--timing {path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise EverzoomError(f"--timing {path}: expected an object of image -> seconds")
        for key, value in data.items():
            if isinstance(value, dict):
                rows.append((key, value.get("seconds"), value.get("hold", 0)))
            else:
                rows.append((key, value, 0))
    else:
        for line in csv.reader(line for line in text.splitlines() if line.strip() and not line.startswith("#")):
            cells = [c.strip() for c in line]
            if cells[0].lower() in ("image", "name", "index"):
                continue
            rows.append((cells[0], cells[1] if len(cells) > 1 and cells[1] else None,
                         cells[2] if len(cells) > 2 and cells[2] else 0))
    by_name = {n: i for i, n in enumerate(names)}
    out: dict[int, tuple[float | None, float]] = {}
    for key, seconds, hold in rows:
        index = by_name.get(str(key))
        if index is None and str(key).isdigit() and int(key) < len(names):
            index = int(key)
        if index is None:
            raise EverzoomError(f"--timing {path}: no image {key!r} in the set")
        try:
            s = None if seconds is None else float(seconds)
            h = float(hold)
        except (TypeError, ValueError):
            raise EverzoomError(f"--timing {path}: image {key}: seconds must be numbers") from None
        if (s is not None and not (math.isfinite(s) and s > 0)) or not (math.isfinite(h) and h >= 0):
            raise EverzoomError(f"--timing {path}: image {key}: travel must take more than 0 s, holds at least 0")
        if s is not None and index == len(names) - 1 and not closed:
            raise EverzoomError(f"--timing {path}: {key} is the outermost image: there is no next one to travel to")
        out[index] = (s, h)
    return out


def step_times(n: int, step_seconds: float, hold_each: float = 0.0,
               timing: dict[int, tuple[float | None, float]] | None = None,
               closed: bool = False) -> tuple[list[float], list[float]]:
    """Seconds per step and per image hold, both outermost first, for a set of n images
    (indices innermost first in `timing`); `closed`: a loop, whose closing step (from the
    innermost image to the outermost's copy) comes last and whose every image holds."""
    if closed:
        seconds, holds = [step_seconds] * n, [hold_each] * n + [0.0]
    else:
        seconds = [step_seconds] * (n - 1)
        holds = [0.0] + [hold_each] * (n - 2) + [0.0] if n > 1 else [0.0]
    for index, (travel, hold) in (timing or {}).items():
        outer_first = n - 1 - index
        if travel is not None:
            seconds[outer_first - 1] = travel
        holds[outer_first] = hold
    return seconds, holds
