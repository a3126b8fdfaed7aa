"""Finishing a video: every output format decoded back, the soundtrack, the zoom modes and
loops, easing and per-image timing."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import everzoom
from everzoom.ffmpeg import executable, probe
from everzoom.timeline import eased, plan_depths, ramp_position
from conftest import decode_video, read_png_frames
from scene import luma_psnr

FPS = 10


def ffmpeg(*args: str) -> bytes:
    return subprocess.run([executable(), "-v", "error", *args], capture_output=True, check=True).stdout


def decode_rgb(path, fps: float) -> list[np.ndarray]:
    """GIF / WebP frames as RGB on the decoded timeline at `fps` (they may merge equal frames)."""
    w, h = (int(v) for v in __import__("re").search(r"Video: .*?, (\d+)x(\d+)", probe(path)).groups())
    data = np.frombuffer(ffmpeg("-i", str(path), "-vf", f"fps={fps}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"),
                         np.uint8)
    return list(data.reshape(-1, h, w, 3))


def loops_forever(path) -> bool:
    data = path.read_bytes()
    if path.suffix == ".gif":
        at = data.find(b"NETSCAPE2.0")
        return at > 0 and int.from_bytes(data[at + 13:at + 15], "little") == 0
    at = data.find(b"ANIM")
    return at > 0 and int.from_bytes(data[at + 12:at + 14], "little") == 0


@pytest.fixture(scope="module")
def reference(small_set, tmp_path_factory):
    """The PNG render the videos are compared with."""
    out = tmp_path_factory.mktemp("ref") / "frames"
    everzoom.render(small_set.folder, out, steps=3, fps=FPS)
    return read_png_frames(out)


FORMATS = [("mp4", None, "h264"), ("mp4", "h265", "hevc"), ("mp4", "av1", "av1"), ("webm", None, "vp9"),
           ("webm", "av1", "av1"), ("mov", None, "prores"), ("mkv", "vp9", "vp9"), ("gif", None, "gif"),
           ("webp", None, "webp")]


@pytest.mark.parametrize("ext, codec, stream", FORMATS)
def test_every_format_decodes_back(small_set, reference, tmp_path, ext, codec, stream):
    out = tmp_path / f"zoom.{ext}"
    options = dict(steps=3, fps=FPS) | ({"codec": codec} if codec else {})
    everzoom.render(small_set.folder, out, **options)
    info = probe(out)
    assert f"Video: {stream}" in info, info
    assert f"{FPS} fps" in info or f"{FPS} tbr" in info, info
    if ext in ("gif", "webp"):
        frames = decode_rgb(out, FPS)
        assert loops_forever(out)
    else:
        frames = decode_video(out)
        assert "bt709" in info, info
    if codec == "h265":
        assert "hvc1" in info
    assert len(frames) == len(reference) and frames[0].shape == reference[0].shape
    floor = 25 if ext == "gif" else 35
    for got, want in ((frames[0], reference[0]), (frames[-1], reference[-1])):
        assert luma_psnr(got, want) >= floor, luma_psnr(got, want)
        if ext != "gif":  # see test_gif_mean_colour
            assert colour_shift(got, want) <= 3


def colour_shift(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.reshape(-1, 3).mean(axis=0) - b.reshape(-1, 3).mean(axis=0)).max())


def test_gif_mean_colour(small_set, reference, tmp_path):
    out = tmp_path / "zoom.gif"
    everzoom.render(small_set.folder, out, steps=3, fps=FPS)
    frames = decode_rgb(out, FPS)
    assert len(frames) == len(reference)
    assert max(colour_shift(frames[i], reference[i]) for i in (0, -1)) <= 3


def gif_palettes(data: bytes) -> list[bytes]:
    """The colour table each frame of a GIF file is drawn with (its own, or else the file's global
    one): the file's blocks walked as the GIF89a specification lays them out."""
    def skip_sub_blocks(at: int) -> int:
        while data[at]:
            at += data[at] + 1
        return at + 1

    table = lambda packed: 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0  # noqa: E731
    at, palettes = 13 + table(data[10]), []
    shared = data[13:at]
    while data[at] != 0x3B:
        if data[at] == 0x21:  # extension: label, then data sub-blocks
            at = skip_sub_blocks(at + 2)
        else:  # 0x2C image: descriptor, local table, LZW code size, image data sub-blocks
            assert data[at] == 0x2C
            size = table(data[at + 9])
            palettes.append(data[at + 10:at + 10 + size] if size else shared)
            at = skip_sub_blocks(at + 10 + size + 1)
    return palettes


def test_every_gif_frame_has_a_palette_of_its_own(small_set, tmp_path):
    out = tmp_path / "zoom.gif"
    everzoom.render(small_set.folder, out, steps=3, fps=FPS)
    palettes = gif_palettes(out.read_bytes())
    assert len(palettes) == len(decode_rgb(out, FPS))
    assert len(set(palettes)) == len(palettes)  # each made from its frame, none shared


def test_gif_frame_rate_is_capped_at_50(small_set, tmp_path, run_cli):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "z.gif", "-zs", "2", "--fps", "60")
    assert r.code == 0 and "lowered to 50" in r.err
    assert "50 fps" in probe(tmp_path / "z.gif")


def test_a_codec_the_container_cannot_hold_is_refused_before_rendering(small_set, tmp_path, run_cli):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "z.webm", "--codec", "h264", "-q")
    assert r.code != 0 and "--codec h264" in r.err and len(r.err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def tone(path, seconds: float, click_at: float | None = None) -> None:
    """A 440 Hz tone (or silence with one click at `click_at`) as a WAV file."""
    if click_at is None:
        source = f"sine=frequency=440:duration={seconds}:sample_rate=48000"
    else:
        source = f"aevalsrc=exprs='if(between(t,{click_at},{click_at + 0.005}),0.9,0)':d={seconds}:s=48000"
    ffmpeg("-y", "-f", "lavfi", "-i", source, str(path))


def pcm(path) -> np.ndarray:
    return np.frombuffer(ffmpeg("-i", str(path), "-vn", "-ac", "1", "-ar", "48000", "-f", "s16le", "-"),
                         np.int16).astype(float) / 32768


def test_a_longer_soundtrack_is_cut_with_a_fade(small_set, tmp_path):
    track = tmp_path / "tone.wav"
    tone(track, 10)
    out = tmp_path / "zoom.mp4"
    result = everzoom.render(small_set.folder, out, steps=5, fps=FPS, audio=track)
    seconds = result.frames / FPS
    info = probe(out)
    assert "Audio: aac" in info
    sound = pcm(out)
    assert abs(len(sound) / 48000 - seconds) <= 1 / FPS
    window = 4800  # 0.1 s
    rms = [np.sqrt((sound[i:i + window] ** 2).mean()) for i in range(0, len(sound) - window, window)]
    tail = np.sqrt((sound[-9600:] ** 2).mean())
    assert tail <= 0.05 * np.median(rms), (tail, np.median(rms))


def test_audio_start_skips_into_the_track_and_webm_gets_opus(small_set, tmp_path):
    track = tmp_path / "click.wav"
    tone(track, 6, click_at=2.0)
    out = tmp_path / "zoom.webm"
    everzoom.render(small_set.folder, out, steps=5, fps=FPS, audio=track, audio_start=0.5)
    assert "Audio: opus" in probe(out)
    sound = pcm(out)
    assert abs(np.argmax(np.abs(sound)) / 48000 - 1.5) < 0.02


def test_a_shorter_soundtrack_ends_early_in_silence(small_set, tmp_path):
    track = tmp_path / "short.wav"
    tone(track, 0.8)
    out = tmp_path / "zoom.mp4"
    result = everzoom.render(small_set.folder, out, steps=5, fps=FPS, audio=track)
    sound = pcm(out)
    assert abs(len(sound) / 48000 - result.frames / FPS) <= 1 / FPS
    assert np.abs(sound[int(1.2 * 48000):]).max() < 1e-3 and np.abs(sound[:int(0.5 * 48000)]).max() > 0.1


@pytest.mark.parametrize("make_bad", ["missing", "silent"])
def test_a_soundtrack_that_cannot_be_used_stops_before_rendering(small_set, tmp_path, run_cli, make_bad):
    bad = tmp_path / "in" / ("nothing.wav" if make_bad == "missing" else "picture.png")
    bad.parent.mkdir()
    if make_bad == "silent":
        bad.write_bytes((small_set.folder / "img_0.png").read_bytes())
    r = run_cli("render", small_set.folder, "-o", tmp_path / "out" / "z.mp4", "--audio", bad, "-q")
    assert r.code != 0 and str(bad) in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_in_out_plays_back_the_same_way(small_set, tmp_path):
    everzoom.render(small_set.folder, tmp_path / "f", steps=3, mode="in-out")
    frames = read_png_frames(tmp_path / "f")
    assert len(frames) == 2 * 12 + 1
    for i in range(len(frames)):
        assert np.array_equal(frames[i], frames[len(frames) - 1 - i])
    p = everzoom.plan(small_set.folder, steps=3, mode="in-out")
    lw = np.array([p.path.log_width(i) for i in range(p.path.frames)])
    speed = np.diff(lw)
    turn = len(frames) // 2
    assert abs(speed[turn - 1]) < 0.25 * abs(speed[turn - 4])  # eased to rest at the turn
    assert np.abs(np.diff(speed)).max() < 0.5 * np.abs(speed).max()  # no jump in speed anywhere


def test_out_in_and_reverse(small_set):
    a = everzoom.plan(small_set.folder, steps=3, mode="out-in").path
    b = everzoom.plan(small_set.folder, steps=3, mode="in-out", reverse=True).path
    c = everzoom.plan(small_set.folder, steps=3, mode="in-out").path
    assert np.allclose(a.depths, b.depths) and np.allclose(a.depths, 4 - c.depths)


def test_loop_wraps_seamlessly(small_set):
    p = everzoom.plan(small_set.folder, steps=4, mode="in-out", loop=True)
    d = p.path.depths
    assert len(d) == 2 * 16
    twice = np.concatenate([d, d])
    step = np.abs(np.diff(twice))
    assert np.all(step > 0)  # no frame repeats, also across the wrap
    wrap = len(d) - 1
    assert step[wrap] <= 1.3 * max(step[wrap - 1], step[wrap + 1])
    assert step[wrap] < 0.05 and step[len(d) // 2] < 0.05  # both turns ease to rest
    frames = [p.zoom_frame(i) for i in (len(d) - 1, 0, 1)]
    residual = [np.abs(frames[k + 1].astype(float) - frames[k]).mean() for k in range(2)]
    assert residual[0] <= 1.3 * residual[1] + 0.5


def test_loop_needs_both_ways(small_set, run_cli, tmp_path):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "z.mp4", "--loop", "-q")
    assert r.code != 0 and "--loop" in r.err and "in-out" in r.err


@pytest.mark.parametrize("ease", ["sine", "cubic", "quint"])
def test_easing_follows_the_named_curve(ease):
    steps, frames, ramp_steps = 6, 121, 2
    d = plan_depths(steps, frames, ease=ease, ease_steps=ramp_steps)
    t = np.linspace(0, 1, frames)
    ramp = ramp_steps / steps
    lost = ramp * (1 - float(ramp_position(np.array(1.0), ease)))
    speed = 1 / (1 - 2 * lost)
    head = t < ramp
    expect = steps * speed * ramp * ramp_position(t[head] / ramp, ease)
    assert np.abs(d[head] - expect).max() <= 0.01
    assert np.allclose(d[::-1], steps - d, atol=0.01)  # the end mirrors the start
    middle = np.diff(d)[(t[1:] > ramp + 0.02) & (t[1:] < 1 - ramp - 0.02)]
    assert np.allclose(middle, middle[0])  # constant speed between the ramps
    assert np.allclose(eased(t, "none", "none", ramp), t)


def test_timing_file_and_hold_each(small_set, tmp_path):
    timing = tmp_path / "t.json"
    timing.write_text(json.dumps({"img_3.png": 2.0, "1": {"seconds": 0.5, "hold": 1.0}}))
    p = everzoom.plan(small_set.folder, steps=10, fps=FPS, timing=timing)
    d = p.path.depths
    assert len(d) == round((1 + 2 + 1 + 0.5 + 1.0) * FPS) + 1
    # the speed changes smoothly: far less per frame than travelling the same knots piecewise
    # linearly (a step change of speed at each image) would
    times = np.array([0, 2, 3, 3.5, 4.5, 5.5]) * FPS  # img_3's step takes 2 s, img_1's 0.5 s and a 1 s hold
    linear = np.interp(np.arange(len(d)), times, [0, 1, 2, 3, 3, 4])
    for knot in (20, 30):  # reaching img_3 and img_2, where the travel time per step changes
        jerk, jump = (abs(x[knot + 1] - 2 * x[knot] + x[knot - 1]) for x in (d, linear))
        assert jump > 0.04 and jerk < 0.6 * jump, (knot, jerk, jump)
    at_hold = np.flatnonzero(np.isclose(d, 3.0, atol=1e-6))  # image 1 is 3 steps in from the outermost
    assert len(at_hold) >= FPS - 1
    held = everzoom.plan(small_set.folder, steps=10, fps=FPS, hold_each=0.5).path.depths
    assert len(held) == 4 * 10 + 3 * 5 + 1
    for image in (1, 2, 3):
        assert np.sum(np.isclose(held, image, atol=1e-6)) >= 4
    scaled = everzoom.plan(small_set.folder, steps=10, fps=FPS, timing=timing, duration=3.0).path.depths
    assert len(scaled) == 30


def test_timing_file_errors(small_set, tmp_path, run_cli):
    bad = tmp_path / "t.csv"
    bad.write_text("image,seconds\nnope.png,2\n")
    r = run_cli("render", small_set.folder, "-o", tmp_path / "z.mp4", "--timing", bad, "-q")
    assert r.code != 0 and "nope.png" in r.err and len(r.err.strip().splitlines()) == 1
