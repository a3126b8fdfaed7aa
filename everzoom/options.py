"""Render options, checked once for the API and both command lines alike."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import EverzoomError
from .path import EASINGS
from .sinks import PRESETS

MAX_SIDE = 8192
MIN_SIDE = 16


@dataclass
class RenderOptions:
    zoom_factor: float | None = None  # None: measure it (registration); 2 with align=False
    steps: int = 100                  # frames per zoom-factor step
    duration: float | None = None     # seconds of zoom, instead of steps
    crop: float = 0.8                 # trusted fraction of each inner image
    fps: float = 30.0
    reverse: bool = False             # zoom out instead of in
    hold: float = 0.0                 # seconds held still at start and end
    size: tuple[int, int] | None = None
    debug: bool = False
    easing: str = "none"
    crf: int = 18
    preset: str = "medium"
    draft: bool = False               # half size, fast preset
    overwrite: bool = False
    align: bool = True                # measure placements (register) instead of assuming them
    color_match: bool = True
    force: bool = False               # render despite low-confidence registration
    auto_sort: bool = False

    @classmethod
    def from_kwargs(cls, **kwargs) -> "RenderOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown render option(s): {', '.join(unknown)}")
        opts = cls(**kwargs)
        opts.validate()
        return opts

    def validate(self) -> None:
        zf = self.zoom_factor
        if zf is not None and not (isinstance(zf, (int, float)) and math.isfinite(zf) and zf > 1):
            raise EverzoomError(f"--zoom-factor must be a number greater than 1, not {zf}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise EverzoomError(f"--steps must be a whole number of at least 1, not {self.steps}")
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise EverzoomError(f"--duration must be a positive number of seconds, not {self.duration}")
        if not (math.isfinite(self.crop) and 0 < self.crop <= 1):
            raise EverzoomError(f"--crop must be in (0, 1], not {self.crop}")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise EverzoomError(f"--fps must be a positive number (at most 1000), not {self.fps}")
        if not (math.isfinite(self.hold) and 0 <= self.hold <= 3600):
            raise EverzoomError(f"--hold must be between 0 and 3600 seconds, not {self.hold}")
        if self.size is not None:
            check_size(self.size)
        if self.easing not in EASINGS:
            raise EverzoomError(f"--easing must be one of {', '.join(EASINGS)}, not {self.easing}")
        if not (isinstance(self.crf, int) and 0 <= self.crf <= 51):
            raise EverzoomError(f"--crf must be a whole number from 0 to 51, not {self.crf}")
        if self.preset not in PRESETS:
            raise EverzoomError(f"--preset must be one of {', '.join(PRESETS)}, not {self.preset}")


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise EverzoomError(f"--size {w}x{h} is out of range: each side must be {MIN_SIDE} to {MAX_SIDE} pixels")
    if w % 2 or h % 2:
        raise EverzoomError(f"--size {w}x{h} must be even on both sides (H.264 yuv420p needs it)")
    return w, h


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080), checked."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise EverzoomError(f"--size must look like 1920x1080, not {text!r}") from None
    return check_size((w, h))
