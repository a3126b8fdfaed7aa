"""Fixtures: synthetic outpainted sets with exact ground truth, and an in-process CLI runner."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scene import Placement, Scene, outpainted_set  # noqa: E402

from everzoom.cli import _main, cli, legacy  # noqa: E402


@dataclass
class ImageSet:
    folder: Path
    images: list[np.ndarray]
    placements: list[Placement]
    scene: Scene
    zf: float

    @property
    def size(self) -> tuple[int, int]:
        return self.images[0].shape[1], self.images[0].shape[0]


def write_set(folder: Path, images: list[np.ndarray], names: list[str] | None = None, ext: str = ".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        name = names[i] if names else f"img_{i}{ext}"
        cv2.imwrite(str(folder / name), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    return folder


def make_set(folder: Path, n: int = 5, zf: float = 2.0, size=(128, 128), seed: int = 1, **kw) -> ImageSet:
    scene = Scene(seed)
    images, placements = outpainted_set(scene, n, zf, size, **kw)
    return ImageSet(write_set(folder, images), images, placements, scene, zf)


@pytest.fixture(scope="session")
def small_set(tmp_path_factory) -> ImageSet:
    """5 images, 128x128, zoom factor 2, perfectly centred."""
    return make_set(tmp_path_factory.mktemp("small"))


@dataclass
class Result:
    code: int
    err: str
    out: str


@pytest.fixture
def run_cli(capsys):
    """Run `everzoom ARGS` (or, with legacy=True, `infinite_zoom.py ARGS`) in-process."""

    def run(*args, legacy_cli: bool = False) -> Result:
        command, prog = (legacy, "infinite_zoom.py") if legacy_cli else (cli, "everzoom")
        with pytest.raises(SystemExit) as exc:
            _main(command, [str(a) for a in args], prog)
        captured = capsys.readouterr()
        return Result(exc.value.code, captured.err, captured.out)

    return run


def as_from_a_terminal() -> None:
    """For a child process that a test interrupts: SIGINT back to its default, as a shell gives
    it to a foreground command (a CI run started in the background inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_png_frames(folder: Path) -> list[np.ndarray]:
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("frame_*.png"))]


def decode_video(path: Path) -> list[np.ndarray]:
    """Every frame of a video as RGB, decoded by the bundled ffmpeg honouring the stream's
    colour tags (an untagged stream is read as ffmpeg reads it: BT.601)."""
    from everzoom.ffmpeg import executable, probe

    info = probe(path)
    match = re.search(r"Video: .*?, (\d{2,5})x(\d{2,5})", info)
    assert match, info
    w, h = int(match.group(1)), int(match.group(2))
    matrix = "bt709" if re.search(r"Video: .*\(tv, bt709", info) else "bt601"
    proc = subprocess.run([executable(), "-v", "error", "-i", str(path), "-vf",
                           f"scale=in_color_matrix={matrix}:in_range=tv:flags=accurate_rnd+full_chroma_int",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    data = np.frombuffer(proc.stdout, np.uint8)
    assert data.size % (w * h * 3) == 0
    return list(data.reshape(-1, h, w, 3))
