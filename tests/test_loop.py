"""Closed loops: a series whose outermost image sits inside its innermost one zooms forever,
the frame after the last being the first, with the path, its speed and the blend continuous."""
from __future__ import annotations

import json

import numpy as np
import pytest

import everzoom
from conftest import read_png_frames, write_set
from scene import Scene, looped

SIZE = 128


def quilt(seed: int = 44, n: int = 4, anchor_y: float = 0.5) -> list[np.ndarray]:
    """A zoomquilt of n images zoom 2 apart: the scene repeats every n octaves about the origin,
    so image n-1 sits inside image 0. With anchor_y != 0.5 each image sits that far down its
    outer one (image k centred at lambda * 2**k, which heads for the loop's fixed point)."""
    scene = looped(Scene(seed), n)
    lam = -(anchor_y - 0.5) / (1 - 1 / 2)
    return [scene.image(0.0, lam * 2.0 ** k, 2.0 ** k, SIZE, SIZE) for k in range(n)]


@pytest.mark.parametrize("anchor_y", [0.5, 0.7])
def test_a_closed_loop_zooms_forever(anchor_y):
    p = everzoom.plan(quilt(anchor_y=anchor_y), steps=6, loop=True)
    assert p.loop is not None and abs(p.loop.scale - 1 / 16) < 0.002
    assert p.path.frames == 4 * 6  # the frame after the last is the first: not repeated
    first = p.zoom_frame(0)
    after_last = p.renderer.render(p.path.view_at(p.path.steps))
    assert np.abs(after_last.astype(int) - first).max() <= 1
    lw = [p.path.log_width(i) for i in range(p.path.frames)] + [float(np.log(p.path.view_at(p.path.steps).width))]
    speed = np.diff(lw)
    assert np.allclose(speed, speed[0], rtol=1e-6)  # constant, also across the wrap
    centres = [p.path.view_at(d) for d in (p.path.steps - 1e-3, p.path.steps, p.path.steps + 1e-3)]
    rel = [(v.cx / v.width, v.cy / v.width) for v in centres]
    assert np.allclose(np.diff(rel, axis=0)[0], np.diff(rel, axis=0)[1], atol=1e-6)  # the centre runs on smoothly
    frames = [p.zoom_frame(i) for i in range(p.path.frames)] + [after_last]
    change = [np.abs(b.astype(float) - a).mean() for a, b in zip(frames, frames[1:])]
    assert change[-1] <= 1.3 * np.median(change) and change[-2] <= 1.3 * np.median(change)


def test_zooming_out_a_loop_plays_it_backwards():
    images = quilt()
    forward = everzoom.plan(images, steps=4, loop=True)
    backward = everzoom.plan(images, steps=4, loop=True, mode="out")
    n = forward.path.frames
    assert backward.path.frames == n
    for i in (0, 1, n // 2, n - 1):
        assert np.array_equal(backward.zoom_frame(i), forward.zoom_frame((n - i) % n))


def test_loop_render_and_what_a_loop_cannot_do(tmp_path, run_cli):
    folder = write_set(tmp_path / "quilt", quilt(), names=[f"q{k}.png" for k in range(4)])
    r = run_cli("render", folder, "-o", tmp_path / "frames", "--loop", "-zs", 3, "-q")
    assert r.code == 0, r.err
    assert len(read_png_frames(tmp_path / "frames")) == 12
    for extra, word in ((("--ease", "sine"), "--ease"), (("--hold", "1"), "--hold")):
        r = run_cli("render", folder, "-o", tmp_path / "z.mp4", "--loop", *extra)
        assert r.code == 1 and word in r.err and "closed loop" in r.err
    r = run_cli("render", folder, "-o", tmp_path / "pingpong", "--loop", "--mode", "in-out", "-zs", 2, "-q")
    assert r.code == 0 and len(read_png_frames(tmp_path / "pingpong")) == 2 * 6


def test_inspect_reports_the_closing_pair(tmp_path, run_cli):
    folder = write_set(tmp_path / "quilt", quilt(anchor_y=0.7), names=[f"q{k}.png" for k in range(4)])
    r = run_cli("inspect", folder, "--json", "-q")
    assert r.code == 0, r.err
    loop = json.loads(r.out)["loop"]
    assert (loop["inner"], loop["outer"]) == ("q3.png", "q0.png") and loop["ok"]
    assert abs(loop["zoom_factor"] - 2) < 0.01 and loop["confidence"] > 0.9
    assert abs(loop["offset_px"][0]) < 0.5 and abs(loop["offset_px"][1] - 0.2 * SIZE) < 0.5
    assert "blend" in loop and "local_align" in loop
    r = run_cli("inspect", folder, "-o", tmp_path / "report.png", "-q")
    assert r.code == 0 and "closes into a loop: q3.png in q0.png" in r.out
    plain = write_set(tmp_path / "plain", [Scene(46).image(0, 0, 2.0 ** k, SIZE, SIZE) for k in range(4)])
    assert json.loads(run_cli("inspect", plain, "--json", "-q").out)["loop"] is None
