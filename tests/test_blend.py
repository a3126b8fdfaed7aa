"""The adaptive blend (default): detail kept where inner and outer agree, seams hidden where an
outpainter redrew the border, colours eased; --crop keeps the fixed band."""
from __future__ import annotations

import json

import numpy as np

import everzoom
from conftest import read_png_frames, write_set
from scene import Scene, ground_truth, perturbed_set, psnr


def mean_fidelity(s, **options) -> float:
    """Mean PSNR against the ground truth over the frames of a 10-step render."""
    w, h = s.size
    p = everzoom.plan(s.folder, zoom_factor=s.zf, steps=10, **options)
    scores = []
    for i in range(1, p.path.frames - 1):
        view = p.path.view(i)
        gt = ground_truth(s.scene, s.placements, s.size, view.cx, view.cy, view.width, w, h)
        scores.append(psnr(p.renderer.render(view), gt, margin=0.02))
    return float(np.mean(scores))


def test_default_blend_keeps_the_detail_of_a_clean_series(small_set):
    """Where the images agree the inner one's detail reaches (almost) to its edge: the default
    scores within 0.5 dB of trusting every pixel (crop 1)."""
    default, trusted = (mean_fidelity(small_set, **o) for o in ({}, {"crop": 1.0}))
    assert default >= trusted - 0.5, (default, trusted)
    p = everzoom.plan(small_set.folder, zoom_factor=2, steps=2)
    assert all(b is None or not any(b.seams) for b in p.blends)


def edge_step(frame: np.ndarray, x: int, rows: slice) -> float:
    """The largest change of the mean grey level between neighbouring columns near column x:
    a seam's step is coherent along the edge, the texture's is not."""
    grey = frame.astype(np.float64).mean(axis=2)[rows].mean(axis=0)
    return float(np.abs(np.diff(grey[x - 8:x + 8])).max())


def test_redrawn_border_gets_a_soft_seam(tmp_path):
    """An outpainter that redrew the inner image's surroundings in the outer one (other detail,
    other colours, seamless in the outer image): the blend finds the disagreeing sides and
    crosses them over, so the edge shows far less of a step than a hard cut (crop 1)."""
    images, placements = perturbed_set(Scene(21), 3, 2.0, (192, 192), seed=21, redraw=0.2, straddle=14)
    folder = write_set(tmp_path / "in", images)
    p = everzoom.plan(folder, zoom_factor=2, steps=4)
    assert all(p.blends[0].seams) and max(p.blends[0].colour) > 0, p.blends[0].as_dict()
    hard = everzoom.plan(folder, zoom_factor=2, steps=4, crop=1.0)
    view = p.path.view(2)
    x = round(view.to_frame(placements[0].cx - placements[0].width / 2, 0)[0])
    rows = slice(80, 112)
    soft, cut = edge_step(p.renderer.render(view), x, rows), edge_step(hard.renderer.render(view), x, rows)
    assert soft < 0.5 * cut, (soft, cut)


def test_colour_step_is_eased_only_in_the_low_pass(tmp_path):
    """A colour drift between the images: the inner image's border is moved towards the outer
    one's colours, its centre and its detail are kept."""
    images, _ = perturbed_set(Scene(22), 3, 2.0, (160, 160), seed=22, drift=0.12)
    p = everzoom.plan(images, zoom_factor=2, steps=2)
    b = p.blends[0]
    assert max(b.colour) > 0 and b.pixels is not None
    inner = images[0].astype(np.float64)
    assert np.array_equal(b.pixels[40:-40, 40:-40], images[0][40:-40, 40:-40])
    high = lambda im: im - __import__("cv2").GaussianBlur(im, (0, 0), 3)  # noqa: E731
    kept = psnr(np.clip(high(b.pixels.astype(np.float64)) + 128, 0, 255), np.clip(high(inner) + 128, 0, 255))
    assert kept > 40, kept


def test_fixed_crop_band_is_still_available(small_set):
    """--crop 0.8 fades each inner image into the outer one over the outer 10% of each side, as
    before: the middle is the inner image, the edge the outer one, in between a ramp."""
    images = [np.clip(small_set.images[0].astype(int) + 40, 0, 255).astype(np.uint8)] + small_set.images[1:]
    p = everzoom.plan(images, zoom_factor=2, steps=4, align=False, color_match=False, crop=0.8)
    assert p.blends == []
    view = p.path.view(12)  # image 1 fills the frame exactly; image 0 is its middle half, x 32..96
    whole = everzoom.plan(images, zoom_factor=2, steps=4, align=False, color_match=False, crop=1.0)
    lift = lambda frame: (frame.astype(float) - small_set.images[1])[40:88].mean(axis=(0, 2))  # noqa: E731
    alpha = lift(p.renderer.render(view))[32:96] / lift(whole.renderer.render(view))[32:96]
    assert np.allclose(alpha[8:-8], 1, atol=0.02)  # the trusted middle is the inner image
    assert alpha[0] < 0.15 and alpha[-1] < 0.15  # the outer image at the edge,
    assert np.all(np.diff(alpha[:7]) > 0) and np.all(np.diff(alpha[-7:]) < 0)  # ramping over 6.4 px


def test_inspect_reports_the_blend(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(21), 3, 2.0, (192, 192), seed=21, redraw=0.2)
    folder = write_set(tmp_path / "in", images)
    r = run_cli("inspect", folder, "--json", "-q", "-o", tmp_path / "r.png")
    assert r.code == 0, r.err
    pairs = json.loads(r.out)["pairs"]
    assert len(pairs) == 2
    sides = pairs[0]["blend"]
    assert set(sides) == {"left", "top", "right", "bottom"}
    assert all(s["detail_disagrees_px"] > 0 and s["disagreement"] > 0.2 for s in sides.values())


def test_odd_sizes(small_set, tmp_path, run_cli):
    """PNG frames take any size; H.264 needs even sides and says so."""
    r = run_cli("render", small_set.folder, "-o", tmp_path / "frames", "--size", "95x61", "-zs", "2", "-q")
    assert r.code == 0, r.err
    frames = read_png_frames(tmp_path / "frames")
    assert len(frames) == 9 and frames[0].shape == (61, 95, 3)
    r = run_cli("render", small_set.folder, "-o", tmp_path / "v.mp4", "--size", "95x61", "-zs", "2", "-q")
    assert r.code != 0 and "even" in r.err and not (tmp_path / "v.mp4").exists()


def test_debug_overlay_shows_the_blend_band(tmp_path):
    """--debug: the layer rectangles stay pure green; the inner edge of a seam band is orange."""
    from everzoom.overlay import BAND, DRAWN

    images, _ = perturbed_set(Scene(21), 3, 2.0, (192, 192), seed=21, redraw=0.2, straddle=14)
    p = everzoom.plan(write_set(tmp_path / "in", images), zoom_factor=2, steps=4, debug=True, seam_width=16)
    frame = p.zoom_frame(2)
    plain = everzoom.plan(write_set(tmp_path / "in2", images), zoom_factor=2, steps=4, seam_width=16).zoom_frame(2)
    def near(picture, colour):
        return int((np.abs(picture.astype(int) - colour).max(axis=2) < 30).sum())
    assert near(frame, DRAWN) > 100 and near(frame, BAND) > 100
    assert near(plain, BAND) < 0.1 * near(frame, BAND)
