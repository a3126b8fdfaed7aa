"""Generation with tiny local diffusers pipelines on the CPU (no model hub here).

Skipped where the `gen` extra is not installed, except when EVERZOOM_REQUIRE_GEN=1 (CI sets it),
where a missing extra fails instead."""
from __future__ import annotations

import builtins
import json
import os
import subprocess

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("EVERZOOM_REQUIRE_GEN") == "1":
    import diffusers  # noqa: F401  (fail, do not skip, where generation must be tested)
    import torch
else:
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")

import everzoom
from everzoom.ffmpeg import probe
from everzoom.generate import MANIFEST, GenerateOptions, generate

from conftest import as_from_a_terminal
from scene import psnr

PINNED = "# a test series\na seed\n\na sprout\n3: a tree\na forest\n"
FAST = ["--image-size", "64", "--inference-steps", "2"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    torch.set_num_threads(1)
    import tiny_models

    return tiny_models.build(tmp_path_factory.mktemp("models"))


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("a seed\na forest\n")
    return path


def run_generate(run_cli, models, prompts, out, *extra):
    t2i, inpaint = models
    return run_cli("generate", prompts, "-o", out, "--model", t2i, "--inpaint-model", inpaint, *FAST, *extra)


def test_files_manifest_and_pasted_centres(models, tmp_path, run_cli):
    prompts = tmp_path / "pinned.txt"
    prompts.write_text(PINNED)
    out = tmp_path / "series"
    r = run_generate(run_cli, models, prompts, out, "--images", 5, "--seed", 11, "-q")
    assert r.code == 0, r.err
    assert sorted(p.name for p in out.iterdir()) == ["000.png", "001.png", "002.png", "003.png", "004.png", MANIFEST]
    manifest = json.loads((out / MANIFEST).read_text())
    assert [i["prompt"] for i in manifest["images"]] == ["a seed", "a seed", "a sprout", "a tree", "a forest"]
    assert manifest["zoom_factor"] == 2.0 and manifest["settings"]["seed"] == 11
    assert manifest["settings"]["model"] == str(models[0]) and manifest["settings"]["inpaint_model"] == str(models[1])
    assert len({i["seed"] for i in manifest["images"]}) == 5
    assert len(manifest["runs"]) == 1 and manifest["runs"][0]["first_image"] == 0
    assert {"everzoom", "diffusers", "torch", "device", "dtype"} <= set(manifest["runs"][0])
    assert manifest["runs"][0]["device"] == "cpu" and manifest["runs"][0]["dtype"] == "float32"
    assert manifest["step_factor"] == 2.0 and manifest["settings"]["overlap"] == 2  # 1/16 of the 32-px paste
    images = [cv2.imread(str(out / f"{k:03d}.png"))[:, :, ::-1] for k in range(5)]
    assert len(images) == 5
    for inner, outer in zip(images, images[1:]):
        small = cv2.resize(inner, (32, 32), interpolation=cv2.INTER_AREA)
        centre = outer[16:48, 16:48]
        # inside the overlap band the pasted image is exact; the band itself blends into the painting
        assert np.abs(centre[2:-2, 2:-2].astype(int) - small[2:-2, 2:-2]).max() <= 1
        assert not np.array_equal(outer[:8], np.zeros_like(outer[:8]))


def test_same_seed_same_pixels(models, prompts, tmp_path, run_cli):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert run_generate(run_cli, models, prompts, tmp_path / name, "--images", 3, "--seed", seed, "-q").code == 0
    a, b, c = (read_series(tmp_path / n) for n in "abc")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def read_series(folder):
    return [cv2.imread(str(p)) for p in sorted(folder.glob("[0-9][0-9][0-9].png"))]


def test_resume_redoes_nothing(models, prompts, tmp_path, run_cli):
    out = tmp_path / "series"
    assert run_generate(run_cli, models, prompts, out, "--images", 4, "--seed", 3, "-q").code == 0
    before = read_series(out)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    (out / "003.png").unlink()
    (out / "002.png").unlink()
    r = run_generate(run_cli, models, prompts, out, "--images", 4, "--seed", 3, "--resume")
    assert r.code == 0, r.err
    assert "resuming at image 2" in r.err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("00[01].png")} == {k: stamps[k] for k in ("000.png", "001.png")}
    assert all(np.array_equal(x, y) for x, y in zip(before, read_series(out), strict=True))  # the same seeds, the same images
    r = run_generate(run_cli, models, prompts, out, "--images", 4, "--seed", 3)
    assert r.code != 0 and "--resume" in r.err  # a non-empty folder is not overwritten silently


def test_start_image(models, prompts, tmp_path, run_cli):
    start = (np.random.default_rng(0).random((80, 120, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "start.png"), start)
    out = tmp_path / "series"
    assert run_generate(run_cli, models, prompts, out, "--images", 2, "--start-image", tmp_path / "start.png",
                        "-q").code == 0
    first = cv2.imread(str(out / "000.png"))
    assert np.array_equal(first, cv2.resize(start[:, 20:100], (64, 64), interpolation=cv2.INTER_AREA))


def test_make_renders_what_it_generated_placed_exactly(models, prompts, tmp_path, run_cli):
    """A generated 64-px series (which registration alone cannot place: too small and too soft)
    renders, placed as the manifest says: exact factor size / pasted side (64 at 1.5: 64/42),
    each image exactly centred; `make` takes the render options (here a zoom in and back out
    with a soundtrack)."""
    t2i, inpaint = models
    video = tmp_path / "zoom.mp4"
    track = tmp_path / "tone.wav"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=5",
                    str(track)], check=True)
    r = run_cli("make", prompts, "-o", video, "--model", t2i, "--inpaint-model", inpaint, *FAST, "--images", 3,
                "--zoom-factor", 1.5, "--steps", 4, "--fps", 10, "--seed", 1, "--size", "48x32", "-q",
                "--mode", "in-out", "--audio", track, "--web", tmp_path / "zoom.html")
    assert r.code == 0, r.err
    page = (tmp_path / "zoom.html").read_text()
    assert page.count('"src":"data:image/jpeg;base64,') == 3
    count, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert count == 2 * (2 * 4) + 1
    assert "Audio: aac" in probe(video)
    folder = tmp_path / "zoom_images"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["step_factor"] == 64 / 42
    p = everzoom.plan(folder, steps=2)
    assert p.stack.zoom_factors() == [64 / 42, 64 / 42]
    assert all(layer.cx == 0 and layer.cy == 0 for layer in p.stack.layers)
    last = list(everzoom.frames(folder, steps=2))[-1]
    assert psnr(last, read_png_frames_like(folder)[0]) > 40


def read_png_frames_like(folder):
    return [cv2.imread(str(p))[:, :, ::-1] for p in sorted(folder.glob("[0-9][0-9][0-9].png"))]


@pytest.mark.parametrize("args, words", [
    (["--image-size", "60"], ["--image-size", "multiple of 8"]),
    (["--overlap", "9"], ["--overlap 9", "from 0 to 8"]),
    (["--zoom-factor", "1"], ["--zoom-factor"]),
    (["--images", "1"], ["--images"]),
    (["--model", "./no/such/model"], ["--model", "does not exist"]),
    (["--inpaint-model", "nobody/no-such-model"], ["inpainting model nobody/no-such-model"]),
])
def test_bad_generation_input(models, prompts, tmp_path, run_cli, args, words):
    t2i, inpaint = models
    r = run_cli("generate", prompts, "-o", tmp_path / "out", "--model", t2i, "--inpaint-model", inpaint, *FAST,
                "--images", 2, *args)
    assert r.code != 0
    line = r.err.strip().splitlines()[-1]
    assert "Traceback" not in r.err and line.startswith("everzoom: error:")
    for w in words:
        assert w in line


def test_bad_prompts_files(tmp_path, run_cli, models):
    r = run_cli("generate", tmp_path / "missing.txt", "-o", tmp_path / "out")
    assert r.code != 0 and "missing.txt does not exist" in r.err
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    r = run_cli("generate", tmp_path / "empty.txt", "-o", tmp_path / "out")
    assert r.code != 0 and "holds no prompts" in r.err


def test_missing_extra_gives_an_install_hint(prompts, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_diffusers(name, *args, **kwargs):
        if name == "diffusers":
            raise ImportError("No module named 'diffusers'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_diffusers)
    with pytest.raises(everzoom.EverzoomError, match=r"pip install -e \.\[gen\]"):
        generate(prompts, tmp_path / "out", GenerateOptions(images=2, image_size=64))


def test_resume_refuses_other_prompts_seed_or_settings(models, prompts, tmp_path, run_cli):
    out = tmp_path / "series"
    assert run_generate(run_cli, models, prompts, out, "--images", 3, "--seed", 3, "-q").code == 0
    (out / "002.png").unlink()
    other = tmp_path / "other.txt"
    other.write_text("a pebble\na forest\n")
    for args, words in (((other,), "prompts (image 0: 'a pebble', was 'a seed')"), ((prompts, "--seed", 4), "seed (4, was 3)"),
                        ((prompts, "--guidance", 3.0), "guidance (3.0, was 7.5)")):
        t2i, inpaint = models
        r = run_cli("generate", args[0], "-o", out, "--model", t2i, "--inpaint-model", inpaint, *FAST, "--images", 3,
                    *args[1:], "--resume")
        assert r.code != 0 and "Traceback" not in r.err
        line = r.err.strip().splitlines()[-1]
        assert line.startswith("everzoom: error: --resume:") and words in line, line
    assert not (out / "002.png").exists()
    r = run_generate(run_cli, models, prompts, out, "--images", 3, "--resume")  # the seed comes from the manifest
    assert r.code == 0 and (out / "002.png").exists()
    assert len(json.loads((out / MANIFEST).read_text())["runs"]) == 2


def test_old_spellings_and_mask_blur(models, prompts, tmp_path, run_cli):
    t2i, inpaint = models
    r = run_cli("generate", prompts, "-o", tmp_path / "s", "--model", t2i, "--inpaint-model", inpaint, "--size", 64,
                "--steps", 1, "--mask-blur", 4, "--images", 2)
    assert r.code == 0, r.err
    assert "--size is now --image-size" in r.err and "--steps is now --inference-steps" in r.err
    assert "--mask-blur is ignored" in r.err
    settings = json.loads((tmp_path / "s" / MANIFEST).read_text())["settings"]
    assert settings["image_size"] == 64 and settings["inference_steps"] == 1


def test_a_pinned_first_prompt_is_a_clear_error(models, tmp_path, run_cli):
    path = tmp_path / "pinned.txt"
    path.write_text("3: a castle\na kingdom\n")
    t2i, inpaint = models
    r = run_cli("generate", path, "-o", tmp_path / "s", "--model", t2i, "--inpaint-model", inpaint, *FAST)
    assert r.code != 0 and "Traceback" not in r.err
    assert r.err.strip().splitlines()[-1] == ("everzoom: error: the first prompt is pinned to image 3, so images 0-2 "
                                             "would have no prompt: pin it to 0, or add a prompt before it")
    assert not (tmp_path / "s").exists()


class _FakeTorch:
    float16, bfloat16, float32 = "fp16", "bf16", "fp32"


@pytest.mark.parametrize("device, dtype", [("cuda", "fp16"), ("cuda:1", "fp16"), ("cpu", "fp32"), ("mps", "fp32")])
def test_fp16_by_default_on_every_cuda_device(device, dtype):
    from everzoom.generate import pick_dtype

    assert pick_dtype(_FakeTorch, "auto", device) == dtype
    assert pick_dtype(_FakeTorch, "fp32", device) == "fp32"


def test_cpu_offload_uses_the_chosen_cuda_device(monkeypatch):
    """--cpu-offload hands the device (cuda:1 too) to diffusers; elsewhere the pipeline just moves."""
    import diffusers
    from everzoom.generate import load_pipeline

    calls = []

    class Pipe:
        def enable_model_cpu_offload(self, device=None):
            calls.append(("offload", device))

        def to(self, device):
            calls.append(("to", device))
            return self

        def set_progress_bar_config(self, **kw):
            pass

    monkeypatch.setattr(diffusers.AutoPipelineForInpainting, "from_pretrained", classmethod(lambda cls, *a, **k: Pipe()))
    opts = GenerateOptions(cpu_offload=True)
    load_pipeline("inpainting", "x", "cuda:1", "fp16", opts, quiet=True)
    load_pipeline("inpainting", "x", "cpu", "fp32", opts, quiet=True)
    assert calls == [("offload", "cuda:1"), ("to", "cpu")]


def test_ctrl_c_keeps_the_finished_images_and_says_so(models, prompts, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    t2i, inpaint = models
    out = tmp_path / "series"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-m", "everzoom", "generate", str(prompts), "-o", str(out), "--model",
                             str(t2i), "--inpaint-model", str(inpaint), *FAST, "--images", "400", "--seed", "1", "-q"],
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=as_from_a_terminal)
    deadline = time.time() + 120
    while not (out / "002.png").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    line = err.strip().splitlines()[-1]
    done = sorted(p.name for p in out.glob("[0-9][0-9][0-9].png"))
    assert len(done) >= 3
    assert line == (f"everzoom: interrupted; images 000-{len(done) - 1:03d} are kept in {out}; "
                    "continue with the same command and --resume")
    assert [i["file"] for i in json.loads((out / MANIFEST).read_text())["images"]] == done
    assert not list(out.glob(".*"))
