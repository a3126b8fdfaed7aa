"""The bundled ffmpeg (imageio-ffmpeg's binary) as processes whose failures are never silent.

Every process runs in its own session, so a Ctrl-C at the terminal reaches only everzoom, which
then kills ffmpeg at once (a SIGINT would make ffmpeg finish the file first: close the encode
and rewrite it for +faststart). Its exit status is always checked; stderr goes to a temporary
file, whose last line is the error message.
"""
from __future__ import annotations

import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import EverzoomError


def executable() -> str:
    """The ffmpeg that imageio-ffmpeg ships (IMAGEIO_FFMPEG_EXE overrides it)."""
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise EverzoomError(f"ffmpeg is not available: {exc}") from None


def rate(fps: float) -> str:
    """A frame rate as ffmpeg's exact fraction (29.97 -> 30000/1001)."""
    return str(Fraction(fps).limit_denominator(1001))


def _last_line(log) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


class Encoder:
    """An ffmpeg process that reads raw RGB frames on stdin and writes `path`."""

    def __init__(self, path: Path, width: int, height: int, fps: float, output_args: list[str],
                 input_args: list[str] | None = None):
        self.path, self.shape = path, (height, width, 3)
        self._log = tempfile.TemporaryFile()
        command = [executable(), "-hide_banner", "-nostats", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", rate(fps),
                   "-i", "pipe:0", *(input_args or []), *output_args, str(path)]
        try:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._log, start_new_session=True)
        except OSError as exc:
            self._log.close()
            raise EverzoomError(f"cannot start ffmpeg: {exc.strerror or exc}") from None

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} does not match {self.shape} uint8")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            raise EverzoomError(f"ffmpeg stopped while writing {self.path}: {_last_line(self._log)}") from None

    def finish(self) -> None:
        """Close the input and wait; an ffmpeg that failed raises, naming the file."""
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        code = self._proc.wait()
        if code != 0:
            raise EverzoomError(f"ffmpeg failed writing {self.path} (exit status {code}): {_last_line(self._log)}")
        self._log.close()

    def kill(self) -> None:
        """Stop ffmpeg now, without letting it finish the file."""
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        self._proc.wait()
        self._log.close()


def run(args: list[str], what: str) -> None:
    """Run ffmpeg to completion with `args`; a failure raises naming `what`. Interrupted, the
    process is killed before the interruption goes on."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([executable(), "-hide_banner", "-nostats", "-loglevel", "error", "-y", *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)
        try:
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            raise EverzoomError(f"ffmpeg failed {what} (exit status {code}): {_last_line(log)}")


def probe(path: Path) -> str:
    """ffmpeg's description of a media file's streams (its stderr for `-i path`)."""
    proc = subprocess.run([executable(), "-hide_banner", "-i", str(path)], stdin=subprocess.DEVNULL,
                          capture_output=True, start_new_session=True)
    return proc.stderr.decode("utf-8", "replace")
