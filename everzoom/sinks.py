"""Streaming frame writers. Nothing appears at the target path until the last frame is written:
frames go to a temporary file or folder beside the target, renamed on success (with the
permissions a new file would get), removed on any error or Ctrl-C, also a second Ctrl-C during
the clean-up. Missing parent folders are made only when writing starts, and removed again
when it fails."""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .audio import Soundtrack, mux
from .errors import EverzoomError
from .ffmpeg import Encoder
from .formats import VideoSettings, output_kind

__all__ = ["Sink", "VideoSink", "FramesSink", "check_output", "open_sink", "output_kind", "creating", "no_interrupts", "temp_beside"]


def temp_beside(path: Path, suffix: str = ".part") -> Path:
    """A new, empty, hidden temporary file in the target's folder (so the final rename stays on
    one file system)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    return Path(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`, with the permissions a file or folder made there would have
    (temporary files are private: 0600 / 0700)."""
    tmp.chmod((0o777 if tmp.is_dir() else 0o666) & ~_umask())
    tmp.replace(target)


def nearest_existing(path: Path) -> Path:
    """`path` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_parent(path: Path) -> None:
    """Refuse, before any work, a target whose folder cannot be made or written."""
    existing = nearest_existing(Path(path).parent if str(Path(path).parent) else Path("."))
    if not existing.is_dir():
        raise EverzoomError(f"output folder {Path(path).parent} cannot be created: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EverzoomError(f"output folder {existing} is not writable")


class NewFolders:
    """The missing folders on the way to `folder`, made now; `undo` removes them again (those
    still empty), for a run that failed."""

    def __init__(self, folder: Path):
        self.made: list[Path] = []
        for parent in reversed([folder, *folder.parents]):
            if not parent.exists():
                try:
                    parent.mkdir()
                except OSError as exc:
                    self.undo()
                    raise EverzoomError(f"output folder {folder} cannot be created: {exc.strerror or exc}") from None
                self.made.append(parent)

    def undo(self) -> None:
        for folder in reversed(self.made):
            try:
                folder.rmdir()
            except OSError:
                pass
        self.made = []


@contextmanager
def creating(folder: Path):
    """`folder` and its missing parents for the duration of the body; removed if it fails."""
    folders = NewFolders(folder)
    try:
        yield
    except BaseException:
        folders.undo()
        raise


@contextmanager
def no_interrupts():
    """Hold SIGINT back (on the main thread) while cleaning up; it arrives right after."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, ValueError, OSError):
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Sink:
    """Context manager: `write` frames; commits on a clean exit, discards on any exception."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._folders = NewFolders(self.path.parent)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self._discard()
                raise
        else:
            self._discard()

    def _discard(self) -> None:
        with no_interrupts():
            self.abort()
            self._folders.undo()

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class VideoSink(Sink):
    """A video file through the bundled ffmpeg, encoded as `settings` say (codec, quality,
    colour conversion and tags), with the soundtrack muxed in once the frames are encoded;
    frames are never all held in memory."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, settings: VideoSettings,
                 audio: Soundtrack | None = None):
        super().__init__(Path(path))
        self.settings, self.fps, self.audio, self.frames = settings, fps, audio, 0
        self.temps: list[Path] = []
        self.tmp = self._temp(".part")
        try:
            self.encoded = self._temp(".mkv") if audio else self.tmp
            self._encoder = Encoder(self.encoded, width, height, fps, settings.output_args())
        except BaseException:
            self._discard()
            raise

    def _temp(self, suffix: str) -> Path:
        self.temps.append(temp_beside(self.path, suffix))
        return self.temps[-1]

    def write(self, frame: np.ndarray) -> None:
        self._encoder.write(frame)
        self.frames += 1

    def commit(self) -> None:
        self._encoder.finish()
        if self.audio:
            mux(self.encoded, self.audio, self.tmp, self.frames / self.fps, self.settings)
        publish(self.tmp, self.path)
        self._remove_temps()

    def _remove_temps(self) -> None:
        for tmp in self.temps:
            tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        self._encoder.kill() if hasattr(self, "_encoder") else None
        self._remove_temps()


class FramesSink(Sink):
    """A folder of frame_00000.png ... (a folder that already holds frames needs overwrite=True)."""

    def __init__(self, path: str | Path, overwrite: bool = False, first: int = 0):
        self.check_target(Path(path), overwrite)
        super().__init__(Path(path))
        self.tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.part-"))
        self.count = first

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
        mode = 0o666 & ~_umask()
        for frame in self.tmp.iterdir():
            frame.chmod(mode)
        if not self.path.exists():
            publish(self.tmp, self.path)
            return
        for old in self.path.glob("frame_*.png"):
            old.unlink()
        for new in sorted(self.tmp.iterdir()):
            new.replace(self.path / new.name)
        self.tmp.rmdir()

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def check_output(path: str | Path, overwrite: bool = False) -> str:
    """Everything about the target that can be refused before any work is done; its kind
    ('frames' or 'video', formats.output_kind)."""
    kind = output_kind(path)
    if kind == "frames":
        FramesSink.check_target(Path(path), overwrite)
    elif Path(path).is_dir():
        raise EverzoomError(f"output {path} is a folder: a video needs a file name (to write PNG frames into "
                            f"that folder, end the name with {os.sep})")
    check_parent(Path(path))
    return kind


def check_new_folder(path: Path, option: str, inside: Path | None = None) -> None:
    """Refuse, before any work, a folder to fill that is the input folder, a file, not empty,
    or cannot be made (its name may have any extension: it is a folder)."""
    if inside is not None and path.resolve() == inside.resolve():
        raise EverzoomError(f"{option} {path} is the input folder: choose another, originals are never renamed")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise EverzoomError(f"{option} folder {path} is not empty" if path.is_dir() else
                            f"{option} {path} exists and is not a folder")
    check_parent(path)


def open_sink(path: str | Path, width: int, height: int, fps: float, settings: VideoSettings | None,
              overwrite: bool = False, audio: Soundtrack | None = None) -> Sink:
    """A video sink as `settings` say, or (None) a folder of PNG frames."""
    if settings is None:
        return FramesSink(path, overwrite=overwrite)
    return VideoSink(path, width, height, fps, settings, audio)
