"""A soundtrack muxed into a finished video: checked before any rendering, then added once,
after the frames are encoded (the video stream is copied, not encoded again).

The video's length decides: a longer track is cut, fading out over --audio-fade seconds (1 s by
default when cut) with a quadratic curve (a linear fade still leaves a tenth of the level in its
last fifth); a shorter one ends early and silence fills the rest, so both streams end together.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import EverzoomError
from .ffmpeg import probe, run
from .formats import VideoSettings

AUDIO_CODECS = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}
DEFAULT_FADE = 1.0


@dataclass(frozen=True)
class Soundtrack:
    """--audio, --audio-start and --audio-fade (None: 1 s when the track is cut, else none)."""

    path: str | Path
    start: float = 0.0
    fade: float | None = None


def track_seconds(path: str | Path) -> float:
    """Length of a sound file's audio, in seconds; a one-line error when it has none."""
    path = Path(path)
    if not path.is_file():
        raise EverzoomError(f"--audio {path}: no such file")
    info = probe(path)
    if not re.search(r"Stream #\S+.*Audio:", info):
        last = [line.strip() for line in info.splitlines() if line.strip()]
        why = "it has no audio stream" if "Stream #" in info else (last[-1] if last else "unreadable")
        raise EverzoomError(f"--audio {path}: {why}")
    found = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", info)
    if not found:
        raise EverzoomError(f"--audio {path}: its length cannot be read")
    h, m, s = found.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def check(path: str | Path, container: str) -> float:
    """Refuse, before rendering, a soundtrack that cannot be read or cannot go into the output."""
    if container not in AUDIO_CODECS:
        raise EverzoomError(f"--audio: a {container or 'frames'} output has no sound; use .mp4, .mov, .mkv or .webm")
    return track_seconds(path)


def mux(video: Path, track: Soundtrack, out: Path, seconds: float, settings: VideoSettings) -> None:
    """Write `video` with the soundtrack to `out`, exactly `seconds` long, as `settings` say."""
    audio, start = track.path, track.start
    remaining = track_seconds(audio) - start
    if remaining <= 0:
        raise EverzoomError(f"--audio-start {start:g}: the soundtrack {audio} is only {start + remaining:.2f} s long")
    fade = track.fade
    if fade is None:
        fade = DEFAULT_FADE if remaining > seconds else 0.0
    fade = min(fade, seconds)
    filters = ["apad"]
    if fade > 0:
        filters.append(f"afade=t=out:st={max(0.0, min(seconds, remaining) - fade):.6f}:d={fade:.6f}:curve=qua")
    args = ["-i", str(video), "-ss", f"{start:.6f}", "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "copy", "-c:a", AUDIO_CODECS[settings.container], "-b:a", "192k", "-af", ",".join(filters),
            "-t", f"{seconds:.6f}", *settings.container_args()]
    run([*args, "-f", settings.muxer, str(out)], f"adding the soundtrack {audio}")
