"""Rendering on a Dask cluster (a LocalCluster of 2 worker processes on 127.0.0.1): the same
frames as the single-process render, segments joined without a seam in time, a killed worker
survived, Ctrl-C cleaned up."""
from __future__ import annotations

import filecmp
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed
import numpy as np
import pytest

import everzoom
from everzoom.ffmpeg import executable
from conftest import as_from_a_terminal, decode_video, make_set, read_png_frames
from scene import luma_psnr

ROOT = Path(__file__).resolve().parents[1]
FPS = 10


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def single(small_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "frames"
    everzoom.render(small_set.folder, out, steps=6, fps=FPS, hold=0.2)
    return out


def test_png_frames_are_bit_identical(client, small_set, single, tmp_path):
    out = tmp_path / "frames"
    everzoom.render(small_set.folder, out, steps=6, fps=FPS, hold=0.2, client=client, segment_seconds=0.7)
    a, b = sorted(single.iterdir()), sorted(out.iterdir())
    assert [p.name for p in a] == [p.name for p in b]
    assert all(filecmp.cmp(x, y, shallow=False) for x, y in zip(a, b, strict=True))


def timestamps(path: Path) -> list[float]:
    log = subprocess.run([executable(), "-v", "info", "-i", str(path), "-vf", "showinfo", "-f", "null", "-"],
                         capture_output=True, text=True)
    assert "error" not in log.stderr.lower().replace("error_", ""), log.stderr[-2000:]
    return [float(t) for t in re.findall(r"pts_time:([\d.]+)", log.stderr)]


@pytest.mark.parametrize("segment_seconds", [0.7, 0.5])  # 29 frames: 7+7+7+7+1 and 5*5+4
def test_mp4_segments_join_without_a_seam_in_time(client, small_set, single, tmp_path, segment_seconds):
    out = tmp_path / "zoom.mp4"
    everzoom.render(small_set.folder, out, steps=6, fps=FPS, hold=0.2, crf=10, client=client,
                    segment_seconds=segment_seconds)
    reference = read_png_frames(single)
    frames = decode_video(out)
    assert len(frames) == len(reference) == 29
    for i, frame in enumerate(frames):
        own = luma_psnr(frame, reference[i])
        assert own >= 40, (i, own)
        for j in (i - 1, i + 1):
            if 0 <= j < len(reference) and not np.array_equal(reference[j], reference[i]):
                assert own > luma_psnr(frame, reference[j]), (i, j)
    stamps = timestamps(out)
    assert len(stamps) == 29 and np.allclose(np.diff(stamps), 1 / FPS, atol=1e-3)
    info = subprocess.run([executable(), "-i", str(out)], capture_output=True, text=True).stderr
    assert f"{FPS} fps" in info and "bt709" in info
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoom.mp4"]


def test_a_killed_worker_does_not_spoil_the_render(small_set, single, tmp_path):
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        pids = list(c.run(os.getpid).values())
        killed = {"done": False}

        def progress(stage, done, total):
            if not killed["done"] and done > 0:
                os.kill(pids[0], signal.SIGKILL)
                killed["done"] = True
        out = tmp_path / "frames"
        everzoom.render(small_set.folder, out, steps=6, fps=FPS, hold=0.2, client=c, segment_seconds=0.3,
                        progress=progress)
    cluster.close()
    assert killed["done"]
    a, b = sorted(single.iterdir()), sorted(out.iterdir())
    assert len(a) == len(b) and all(filecmp.cmp(x, y, shallow=False) for x, y in zip(a, b, strict=True))


def test_ctrl_c_cancels_and_leaves_nothing(tmp_path):
    big = make_set(tmp_path / "in", n=6, size=(512, 512))
    out = tmp_path / "out" / "zoom.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "everzoom", "render", str(big.folder), "-o", str(out), "-zs", "200",
                             "--workers", "2", "--segment-seconds", "1"],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            preexec_fn=as_from_a_terminal)
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline and "render:" not in seen:
        seen += proc.stderr.read(1)
    assert "render:" in seen, seen
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    t0 = time.time()
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode != 0 and time.time() - t0 < 20, rest[-1000:]
    assert "Traceback" not in rest, rest[-2000:]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_single_machine_rendering_imports_nothing_from_dask(small_set, tmp_path):
    code = (f"import sys, everzoom; everzoom.render({str(small_set.folder)!r}, {str(tmp_path / 'f')!r}, steps=2); "
            "print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.stdout.strip() == "False", result.stderr


def test_cluster_formats_it_cannot_join_are_refused(small_set, tmp_path, run_cli):
    r = run_cli("render", small_set.folder, "-o", tmp_path / "z.webm", "--workers", "2", "-q")
    assert r.code != 0 and "cluster" in r.err and not list(tmp_path.iterdir())


def test_the_soundtrack_is_added_once_after_the_join(client, small_set, tmp_path):
    track = tmp_path / "tone.wav"
    subprocess.run([executable(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=10", str(track)], check=True)
    out = tmp_path / "zoom.mp4"
    everzoom.render(small_set.folder, out, steps=6, fps=FPS, client=client, segment_seconds=0.7, audio=track)
    info = subprocess.run([executable(), "-i", str(out)], capture_output=True, text=True).stderr
    assert "Audio: aac" in info and f"{FPS} fps" in info
    assert len(decode_video(out)) == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tone.wav", "zoom.mp4"]


def test_shared_input_sends_the_plan_without_its_pixels(client, small_set, single, tmp_path):
    import pickle

    from everzoom import cluster

    p = everzoom.plan(small_set.folder, steps=6, fps=FPS, hold=0.2)
    full = len(pickle.dumps(p))
    p.renderer.unprepare()
    p.blends, p.warps = [], []
    cluster.park(p, tmp_path / "parked")
    assert len(pickle.dumps(p)) < 0.1 * full
    out = tmp_path / "frames"
    everzoom.render(small_set.folder, out, steps=6, fps=FPS, hold=0.2, client=client, segment_seconds=0.7,
                    shared_input=True)
    a, b = sorted(single.iterdir()), sorted(out.iterdir())
    assert len(a) == len(b) and all(filecmp.cmp(x, y, shallow=False) for x, y in zip(a, b, strict=True))
    assert not list(small_set.folder.glob(".everzoom-plan-*"))  # the parked pixels are removed
