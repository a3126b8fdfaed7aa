"""Streaming frame writers. Nothing appears at the target path until the last frame is written:
frames go to a temporary file or folder beside the target, renamed on success, removed on error
or Ctrl-C."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .errors import EverzoomError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def output_kind(path: str | Path) -> str:
    """'video' for .mp4/.mkv/.mov, 'frames' for a name without extension."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix == "":
        return "frames"
    raise EverzoomError(f"output {path}: unsupported extension {suffix} "
                        f"(use {', '.join(VIDEO_SUFFIXES)}, or a name without extension for PNG frames)")


def _writable_parent(path: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EverzoomError(f"output folder {parent} cannot be created: {exc.strerror or exc}") from None
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise EverzoomError(f"output folder {parent} is not writable")
    return parent


class Sink:
    """Context manager: `write` frames; commits on a clean exit, discards on any exception."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class VideoSink(Sink):
    """H.264 (yuv420p, CRF) through the ffmpeg that imageio-ffmpeg ships."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float,
                 crf: int = 18, preset: str = "medium", codec: str = "libx264"):
        import imageio_ffmpeg

        self.path = Path(path)
        parent = _writable_parent(self.path)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self.path.stem}.", suffix=f".part{self.path.suffix}")
        os.close(fd)
        self.tmp = Path(tmp)
        params = ["-crf", str(crf), "-preset", preset]
        if self.path.suffix.lower() in (".mp4", ".mov"):
            params += ["-movflags", "+faststart"]
        self._writer = imageio_ffmpeg.write_frames(
            str(self.tmp), (width, height), fps=fps, codec=codec, pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=1, ffmpeg_log_level="error",
            output_params=params)
        try:
            self._writer.send(None)
        except Exception:
            self.tmp.unlink(missing_ok=True)
            raise

    def write(self, frame: np.ndarray) -> None:
        try:
            self._writer.send(np.ascontiguousarray(frame))
        except OSError as exc:
            raise EverzoomError(f"ffmpeg stopped while writing {self.path}: {exc}") from None

    def commit(self) -> None:
        self._writer.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - ffmpeg may already be gone; the temp file goes regardless
            pass
        self.tmp.unlink(missing_ok=True)


class FramesSink(Sink):
    """A folder of frame_00000.png ... (a folder that already holds frames needs overwrite=True)."""

    def __init__(self, path: str | Path, overwrite: bool = False):
        self.path = Path(path)
        self.check_target(self.path, overwrite)
        parent = _writable_parent(self.path)
        self.tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{self.path.name}.part-"))
        self.count = 0

    @staticmethod
    def check_target(path: Path, overwrite: bool) -> None:
        """Refuse early (before any rendering) a target that would lose frames or is a file."""
        if path.exists() and not path.is_dir():
            raise EverzoomError(f"output {path} exists and is not a folder")
        if not overwrite and path.is_dir() and any(path.glob("frame_*.png")):
            raise EverzoomError(f"output folder {path} already holds frames; pass --overwrite to replace them")

    def write(self, frame: np.ndarray) -> None:
        name = self.tmp / f"frame_{self.count:05d}.png"
        if not cv2.imwrite(str(name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise EverzoomError(f"cannot write frame {name}")
        self.count += 1

    def commit(self) -> None:
        if not self.path.exists():
            self.tmp.rename(self.path)
            return
        for old in self.path.glob("frame_*.png"):
            old.unlink()
        for new in sorted(self.tmp.iterdir()):
            new.rename(self.path / new.name)
        self.tmp.rmdir()

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def check_output(path: str | Path, overwrite: bool = False) -> None:
    """Everything about the target that can be refused before any work is done."""
    path = Path(path)
    if output_kind(path) == "frames":
        FramesSink.check_target(path, overwrite)
    _writable_parent(path)


def open_sink(path: str | Path, width: int, height: int, fps: float, crf: int = 18,
              preset: str = "medium", overwrite: bool = False) -> Sink:
    if output_kind(path) == "video":
        return VideoSink(path, width, height, fps, crf=crf, preset=preset)
    return FramesSink(path, overwrite=overwrite)
