"""Command lines, bad input (one line, non-zero exit, nothing half-written) and interruption."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

import everzoom
from everzoom import api
from everzoom.ffmpeg import probe
from everzoom.images import find_images
from conftest import as_from_a_terminal, read_png_frames, write_set

ROOT = Path(__file__).resolve().parents[1]


def frame_count(path: Path) -> int:
    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def one_line_error(result, *words) -> None:
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_render_command_writes_a_video(small_set, tmp_path, run_cli):
    out = tmp_path / "zoom.mp4"
    r = run_cli("render", small_set.folder, "-o", out, "--steps", 3, "--fps", 12, "-q")
    assert r.code == 0, r.err
    assert frame_count(out) == 13


def test_original_script_flags(small_set, tmp_path, run_cli):
    out = tmp_path / "video.mp4"
    r = run_cli("-zf", 2, "-zs", 4, "-zc", 0.8, "-i", small_set.folder, "-o", out, "-fps", 10, "-d", 0.5,
                "-rev", "-dbg", "-q", legacy_cli=True)
    assert r.code == 0, r.err
    assert frame_count(out) == 4 * 4 + 1 + 2 * 5
    frames = tmp_path / "frames"
    r = run_cli("-i", small_set.folder, "-o", frames, "-zs", 2, "-q", legacy_cli=True)
    assert r.code == 0, r.err
    assert len(read_png_frames(frames)) == 9


def test_infinite_zoom_script_runs_as_a_program(small_set, tmp_path):
    out = tmp_path / "v.mp4"
    proc = subprocess.run([sys.executable, str(ROOT / "infinite_zoom.py"), "-zf", "2", "-zs", "2", "-i",
                           str(small_set.folder), "-o", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert frame_count(out) == 9


def test_help_documents_every_option(run_cli):
    r = run_cli("render", "--help")
    assert r.code == 0
    for opt in ("--zoom-factor", "-zf", "--steps", "-zs", "--crop", "-zc", "--fps", "-fps", "--reverse", "-rev",
                "--hold", "-d", "--debug", "-dbg", "--size", "--duration", "--easing", "--crf", "--preset",
                "--quiet", "--draft", "--overwrite"):
        assert opt in r.out, opt


def test_progress_bar_on_stderr_and_quiet_silences_it(small_set, tmp_path, run_cli):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "a", "--steps", 2)
    assert r.code == 0 and "render" in r.err and "wrote" in r.err
    r = run_cli("render", small_set.folder, "-o", tmp_path / "b", "--steps", 2, "--quiet")
    assert r.code == 0 and r.err == ""


def test_natural_sort(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    write_set(tmp_path, [img] * 4, names=["frame_10.png", "frame_2.png", "frame_1.png", "Frame_3.jpg"])
    assert [p.name for p in find_images(tmp_path)] == ["frame_1.png", "frame_2.png", "Frame_3.jpg", "frame_10.png"]


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "missing", ["missing", "does not exist"]),
    (lambda d: d, ["holds no images"]),
    (lambda d: write_set(d, [np.zeros((16, 16, 3), np.uint8)]), ["holds 1 image", "at least 2"]),
])
def test_bad_input_folders(tmp_path, run_cli, make, words):
    folder = make(tmp_path / "in") if "missing" not in words else make(tmp_path)
    folder.mkdir(exist_ok=True) if "missing" not in words else None
    r = run_cli("render", folder, "-o", tmp_path / "out.mp4")
    one_line_error(r, *words)
    assert not (tmp_path / "out.mp4").exists()


def test_corrupt_image_is_named(small_set, tmp_path, run_cli):
    folder = write_set(tmp_path / "in", small_set.images)
    (folder / "img_2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    r = run_cli("render", folder, "-o", tmp_path / "out.mp4")
    one_line_error(r, "img_2.png")
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*")) == []


def test_non_images_are_skipped_with_a_note(small_set, tmp_path, run_cli):
    folder = write_set(tmp_path / "in", small_set.images)
    (folder / "notes.txt").write_text("hello")
    r = run_cli("render", folder, "-o", tmp_path / "f", "--steps", 1)
    assert r.code == 0
    assert "notes.txt" in r.err


def test_grey_rgba_and_16_bit_images_are_converted(small_set, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    ims = small_set.images
    cv2.imwrite(str(folder / "0.png"), cv2.cvtColor(ims[0], cv2.COLOR_RGB2GRAY))
    cv2.imwrite(str(folder / "1.png"), cv2.cvtColor(ims[1], cv2.COLOR_RGB2BGRA))
    cv2.imwrite(str(folder / "2.png"), cv2.cvtColor(ims[2], cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "3.jpg"), cv2.cvtColor(ims[3], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "4.webp"), cv2.cvtColor(ims[4], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
    images, names = everzoom.load_images(folder)
    assert names == ["0.png", "1.png", "2.png", "3.jpg", "4.webp"]
    assert all(im.shape == (128, 128, 3) and im.dtype == np.uint8 for im in images)
    assert np.array_equal(images[1], ims[1]) and np.array_equal(images[2], ims[2])
    assert np.array_equal(images[4], ims[4])
    assert np.abs(images[0].astype(int) - cv2.cvtColor(ims[0], cv2.COLOR_RGB2GRAY)[:, :, None]).max() == 0
    assert len(list(everzoom.frames(folder, steps=1))) == 5


@pytest.mark.parametrize("args, words", [
    (["-zf", "1"], ["--zoom-factor", "greater than 1"]),
    (["-zf", "0.5"], ["--zoom-factor"]),
    (["-zf", "nan"], ["--zoom-factor"]),
    (["-zf", "abc"], ["zoom-factor"]),
    (["-zs", "0"], ["--steps"]),
    (["-zc", "0"], ["--crop"]),
    (["-zc", "1.5"], ["--crop"]),
    (["-fps", "0"], ["--fps"]),
    (["-fps", "-5"], ["--fps"]),
    (["--size", "641x480"], ["--size", "even"]),
    (["--size", "100000x100000"], ["--size", "out of range"]),
    (["--size", "big"], ["--size"]),
    (["--duration", "-1"], ["--duration"]),
    (["-d", "-1"], ["--hold"]),
    (["--crf", "99"], ["--crf"]),
])
def test_bad_options(small_set, tmp_path, run_cli, args, words):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "out.mp4", *args)
    one_line_error(r, *words)
    assert list(tmp_path.iterdir()) == []


def test_bad_options_in_the_original_syntax(small_set, tmp_path, run_cli):
    r = run_cli("-zf", "1", "-i", small_set.folder, "-o", tmp_path / "v.mp4", legacy_cli=True)
    one_line_error(r, "--zoom-factor")
    r = run_cli("-i", tmp_path / "nope", "-o", tmp_path / "v.mp4", legacy_cli=True)
    one_line_error(r, "nope")


def test_unwritable_output_folder(small_set, tmp_path, run_cli):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("render", small_set.folder, "-o", blocker / "out.mp4")
    one_line_error(r, "output folder", "file")


def test_unsupported_output_extension(small_set, tmp_path, run_cli):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "out.avi")
    one_line_error(r, ".avi")


def test_output_folders_are_checked_before_any_rendering(small_set, tmp_path, run_cli, monkeypatch):
    """A video name that is an existing folder, and folder names with a dot: decided up front."""
    def no_planning(*args, **kwargs):
        raise AssertionError("rendering started")
    monkeypatch.setattr(api, "make_plan", no_planning)
    (tmp_path / "out.mp4").mkdir()
    r = run_cli("render", small_set.folder, "-o", tmp_path / "out.mp4")
    one_line_error(r, "out.mp4 is a folder", "a video needs a file name")
    r = run_cli("render", small_set.folder, "-o", tmp_path / "frames.v2")
    one_line_error(r, "unsupported extension .v2", "ending in")
    monkeypatch.undo()
    for name in ("frames.v2/", "out.mp4/"):
        r = run_cli("render", small_set.folder, "-o", f"{tmp_path}/{name}", "-zs", 2, "-q")
        assert r.code == 0, r.err
        assert len(list((tmp_path / name.rstrip("/")).glob("frame_*.png"))) == 9
    (tmp_path / "old.v1").mkdir()
    assert run_cli("render", small_set.folder, "-o", tmp_path / "old.v1", "-zs", 2, "-q").code == 0
    assert len(list((tmp_path / "old.v1").glob("frame_*.png"))) == 9


def test_existing_video_is_overwritten(small_set, tmp_path, run_cli):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    assert run_cli("render", small_set.folder, "-o", out, "-zs", 2, "-q").code == 0
    assert frame_count(out) == 9


def test_frames_folder_with_frames_needs_overwrite(small_set, tmp_path, run_cli):
    out = tmp_path / "frames"
    assert run_cli("render", small_set.folder, "-o", out, "-zs", 3, "-q").code == 0
    (out / "keep.txt").write_text("mine")
    r = run_cli("render", small_set.folder, "-o", out, "-zs", 2)
    one_line_error(r, "already holds frames", "--overwrite")
    assert len(list(out.glob("frame_*.png"))) == 13
    assert run_cli("render", small_set.folder, "-o", out, "-zs", 2, "--overwrite", "-q").code == 0
    assert len(list(out.glob("frame_*.png"))) == 9 and (out / "keep.txt").exists()


@pytest.mark.parametrize("name", ["out.mp4", "frames"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_render_leaves_nothing(small_set, tmp_path, monkeypatch, name, error):
    calls = {"n": 0}
    real = api.Plan.zoom_frame

    def failing(self, index):
        calls["n"] += 1
        if calls["n"] > 5:
            raise error("stop")
        return real(self, index)

    monkeypatch.setattr(api.Plan, "zoom_frame", failing)
    with pytest.raises(error):
        everzoom.render(small_set.folder, tmp_path / name, steps=10)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_leaves_no_video(small_set, tmp_path):
    """A real SIGINT to a running render: exit 130, one line, no file and no temp file left."""
    out = tmp_path / "long.mp4"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "everzoom", "render", str(small_set.folder), "-o", str(out),
                             "-zs", "3000", "--size", "640x640", "-q"], stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=as_from_a_terminal)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".long.*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_mixed_image_sizes_render_with_a_warning(small_set, tmp_path, run_cli):
    ims = list(small_set.images)
    ims[1] = cv2.resize(ims[1], (96, 96), interpolation=cv2.INTER_AREA)
    folder = write_set(tmp_path / "in", ims)
    r = run_cli("render", folder, "-o", tmp_path / "f", "-zs", 1)
    assert r.code == 0
    assert "differ in size" in r.err


def test_draft_renders_half_size(small_set, tmp_path, run_cli):
    out = tmp_path / "draft.mp4"
    r = run_cli("render", small_set.folder, "-o", out, "--draft", "-zs", 2, "--duration", 1, "--fps", 10, "-q")
    assert r.code == 0, r.err
    reader = imageio_ffmpeg.read_frames(str(out))
    assert next(reader)["size"] == (64, 64)
    assert sum(1 for _ in reader) == 10  # --duration wins over --steps


def test_original_long_options(small_set, tmp_path, run_cli):
    """Every long form of the original script: --ZoomFactor --ZoomSteps --ZoomCrop --Input
    --Output --AutoSort --Debug --Delay --Reverse --FramesPerSecond."""
    plain = tmp_path / "plain"
    r = run_cli("--Input", small_set.folder, "--Output", plain, "--ZoomFactor", 2, "--ZoomSteps", 3,
                "--ZoomCrop", 0.9, "--FramesPerSecond", 10, "--Delay", 0.2, "-q", legacy_cli=True)
    assert r.code == 0, r.err
    frames = read_png_frames(plain)
    assert len(frames) == 4 * 3 + 1 + 2 * 2  # 0.2 s held at 10 fps at each end
    assert np.array_equal(frames[0], frames[2]) and not np.array_equal(frames[2], frames[3])
    expected = list(everzoom.frames(small_set.folder, steps=3, reverse=True))
    for extra, name in ((("--AutoSort",), "sorted"), (("--Debug",), "debug")):
        r = run_cli("--Input", small_set.folder, "--Output", tmp_path / name, "--ZoomSteps", 3, "--Reverse", *extra,
                    "-q", legacy_cli=True)
        assert r.code == 0, r.err
    rev, dbg = read_png_frames(tmp_path / "sorted"), read_png_frames(tmp_path / "debug")
    assert len(rev) == len(dbg) == len(expected) == 13
    assert all(np.array_equal(a, b) for a, b in zip(rev, expected, strict=True))  # zooms out, in the sorted order
    changed = np.any(dbg[0] != expected[0], axis=2)  # --Debug draws its overlay
    assert 0.005 < changed.mean() < 0.5


def test_original_defaults_output_mp4_at_60_fps(small_set, tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run_cli("-i", small_set.folder, "-zs", 6, "-q", legacy_cli=True)
    assert r.code == 0, r.err
    assert frame_count(tmp_path / "output.mp4") == 25 and ", 60 fps," in probe(tmp_path / "output.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output.mp4"]
    r = run_cli("render", small_set.folder, "-o", tmp_path / "own.mp4", "-zs", 6, "-q")  # everzoom keeps 30
    assert r.code == 0 and ", 30 fps," in probe(tmp_path / "own.mp4")


def test_no_align_still_detects_an_outermost_first_folder(small_set, tmp_path, run_cli):
    backward = write_set(tmp_path / "bwd", small_set.images[::-1])
    r = run_cli("-i", backward, "-o", tmp_path / "b", "-zs", 2, "--no-align", "-zf", 2, legacy_cli=True)
    assert r.code == 0 and "outermost first" in r.err
    forward = list(everzoom.frames(small_set.folder, steps=2, align=False, zoom_factor=2))
    backward_frames = read_png_frames(tmp_path / "b")
    assert len(forward) == len(backward_frames) == 9
    assert all(np.array_equal(a, b) for a, b in zip(forward, backward_frames, strict=True))
