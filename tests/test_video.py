"""Video files: right colours (BT.709, tagged), honest failures of ffmpeg, the usual
permissions, no folders left by a failed run, and a fast, clean Ctrl-C."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import everzoom
from everzoom.ffmpeg import probe
from everzoom.formats import VideoSettings
from everzoom.sinks import VideoSink
from conftest import as_from_a_terminal, decode_video

ROOT = Path(__file__).resolve().parents[1]
PATCHES = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (128, 128, 128), (230, 180, 140),
           (40, 90, 200), (250, 250, 20), (16, 235, 128)]


def patches_frame(side: int = 32) -> np.ndarray:
    frame = np.zeros((side, side * len(PATCHES), 3), np.uint8)
    for i, colour in enumerate(PATCHES):
        frame[:, i * side:(i + 1) * side] = colour
    return frame


@pytest.mark.parametrize("container, codec", [(".mp4", "h264"), (".mkv", "h264")])
def test_pure_colours_come_back_within_3_levels_and_the_stream_says_bt709(tmp_path, container, codec):
    """RGB -> BT.709 limited-range YUV, tagged (primaries, transfer, matrix): decoded honouring
    the tags, every patch is within 3 levels. (BT.601 tagged or read as BT.709 shifts them by
    up to 5-12 levels, which is what an untagged HD video shows in players.)"""
    frame = patches_frame()
    out = tmp_path / f"p{container}"
    with VideoSink(out, frame.shape[1], frame.shape[0], 30, VideoSettings(container, codec=codec)) as sink:
        for _ in range(3):
            sink.write(frame)
    assert "(tv, bt709, progressive)" in probe(out)
    decoded = decode_video(out)
    assert len(decoded) == 3
    side = frame.shape[0]
    for i, colour in enumerate(PATCHES):
        patch = decoded[1][8:side - 8, i * side + 8:(i + 1) * side - 8].reshape(-1, 3).astype(float)
        assert np.abs(patch.mean(axis=0) - colour).max() <= 3, (colour, patch.mean(axis=0))


def stand_in_ffmpeg(tmp_path: Path, script: str) -> dict:
    """An environment whose ffmpeg is a shell script (imageio-ffmpeg honours IMAGEIO_FFMPEG_EXE)."""
    exe = tmp_path / "bin" / "ffmpeg"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    return dict(os.environ, IMAGEIO_FFMPEG_EXE=str(exe), PYTHONPATH=str(ROOT))


@pytest.mark.parametrize("script", ["echo 'No space left on device' >&2; exit 1",
                                    "cat > /dev/null; echo 'Conversion failed!' >&2; exit 1"])
def test_a_failing_ffmpeg_is_an_error_and_leaves_nothing(small_set, tmp_path, script):
    """ffmpeg failing at once (the frames hit a closed pipe) or at the end (it read them all,
    then failed): one line naming the file, a non-zero exit, nothing at the target."""
    env = stand_in_ffmpeg(tmp_path, script)
    out = tmp_path / "out" / "zoom.mp4"
    proc = subprocess.run([sys.executable, "-m", "everzoom", "render", str(small_set.folder), "-o", str(out),
                           "-zs", "3", "-q"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("everzoom: error: ffmpeg") and "zoom" in lines[0]
    assert ("No space left" in lines[0]) or ("Conversion failed" in lines[0])
    assert not (tmp_path / "out").exists()


def test_outputs_get_the_usual_permissions(small_set, tmp_path):
    old = os.umask(0o022)
    try:
        everzoom.render(small_set.folder, tmp_path / "z.mp4", steps=2)
        everzoom.render(small_set.folder, tmp_path / "frames", steps=2)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "z.mp4").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "frames").stat().st_mode) == 0o755
    frames = list((tmp_path / "frames").iterdir())
    assert len(frames) == 9 and all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in frames)


@pytest.mark.parametrize("name", ["newdir/sub/zoom.mp4", "newdir/sub/frames"])
def test_a_run_that_fails_before_writing_makes_no_folders(tmp_path, run_cli, name):
    r = run_cli("render", tmp_path / "missing", "-o", tmp_path / name)
    assert r.code != 0 and "missing" in r.err
    assert sorted(tmp_path.iterdir()) == []


def test_a_failing_render_removes_the_folders_it_made(small_set, tmp_path, monkeypatch):
    from everzoom.planning import Plan

    def broken(self, index):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(Plan, "zoom_frame", broken)
    with pytest.raises(RuntimeError):
        everzoom.render(small_set.folder, tmp_path / "a" / "b" / "z.mp4", steps=2)
    assert sorted(tmp_path.iterdir()) == []


def test_inspect_refuses_a_report_that_is_not_a_picture_before_working(small_set, tmp_path, run_cli):
    start = time.perf_counter()
    r = run_cli("inspect", small_set.folder, "-o", tmp_path / "report.txt")
    assert r.code != 0 and r.err.strip().splitlines() == [
        f"everzoom: error: -o {tmp_path / 'report.txt'}: the report is a picture; use one of "
        ".png, .jpg, .jpeg, .webp, .bmp, .tif, .tiff"]
    assert time.perf_counter() - start < 1.0  # refused up front, not after registering the set
    assert list(tmp_path.iterdir()) == []


def _interrupt(command: list[str], tmp_path: Path, ready, signals: int = 1, env=None) -> tuple[int, str, float]:
    """Start `command` in its own session, wait for `ready()`, send SIGINT to its whole process
    group as a terminal does (`signals` times, 50 ms apart); return its exit code, stderr and how
    long it took to stop."""
    env = env or dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=as_from_a_terminal)
    deadline = time.time() + 120
    while not ready() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    start = time.perf_counter()
    for _ in range(signals):
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, time.perf_counter() - start


@pytest.mark.parametrize("signals", [1, 2])
def test_ctrl_c_stops_within_2_s_and_leaves_nothing(small_set, tmp_path, signals):
    """A Ctrl-C at the terminal (SIGINT to the process group; ffmpeg is kept out of it and
    killed, so it cannot finish the file or rewrite it for +faststart): exit 130 within 2 s,
    one line, no file, no temporary file, no folder; also when a second Ctrl-C arrives during
    the clean-up."""
    out = tmp_path / "new" / "long.mp4"
    code, err, took = _interrupt([sys.executable, "-m", "everzoom", "render", str(small_set.folder), "-o", str(out),
                                  "-zs", "3000", "--size", "640x640", "-q"], tmp_path,
                                 lambda: (tmp_path / "new").exists() and any((tmp_path / "new").iterdir()), signals)
    assert code == 130, err
    assert took < 2.0, took
    assert err.strip().splitlines() == ["everzoom: interrupted; nothing was written"]
    assert list(tmp_path.iterdir()) == []
