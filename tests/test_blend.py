"""How images meet (default): a seam that runs where inner and outer agree, at the edge on a
clean series; a repainted border given to the outer image while the inner one is small and
revealed by the time the view reaches it; colour steps spread wide; no frame pixel ever
outside the range of the images it mixes; --crop keeps the fixed band."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

import everzoom
from conftest import read_png_frames, write_set
from frame_range import outside
from scene import Scene, ground_truth, outpainted_set, perturbed_set, psnr


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


def repainted(scene: Scene, n: int, size: int, sides: tuple[int, ...], depth: float = 0.15, seed: int = 3):
    """A zoom-2 series whose every outer image repainted a band straddling the inner image's
    border on the given sides (0 left, 1 top, 2 right, 3 bottom) with other shapes (the scene
    re-seeded from coarse octaves up), `depth` of the inner width either way of the border."""
    images, placements = outpainted_set(scene, n, 2.0, (size, size))
    for k in range(1, n):
        p, q = placements[k], placements[k - 1]
        xs = p.cx + (np.arange(size) + 0.5 - size / 2) * p.width / size
        ys = p.cy + (np.arange(size) + 0.5 - size / 2) * p.width / size
        gaps = [xs[None, :] - (q.cx - q.width / 2), ys[:, None] - (q.cy - q.width / 2),
                (q.cx + q.width / 2) - xs[None, :], (q.cy + q.width / 2) - ys[:, None]]
        weight = np.zeros((size, size))
        for side in sides:
            along = np.abs(ys - q.cy)[:, None] if side in (0, 2) else np.abs(xs - q.cx)[None, :]
            near = np.clip(1 - np.abs(gaps[side]) / (depth * q.width), 0, 1) * (along < q.width / 2)
            weight = np.maximum(weight, near * near * (3 - 2 * near))
        other = scene.reseeded(0.5 / q.width, seed + k).image(p.cx, p.cy, p.width, size, size)
        images[k] = np.clip(images[k] * (1 - weight[:, :, None]) + other * weight[:, :, None] + 0.5, 0, 255).astype(np.uint8)
    return images, placements


def test_a_clean_series_keeps_its_detail_and_its_seam_at_the_edge(small_set):
    """Where the images agree the seam is the edge: nothing is given up, and the default scores
    within 0.5 dB of trusting every pixel (a hard cut, crop 1)."""
    default, trusted = (mean_fidelity(small_set, **o) for o in ({}, {"crop": 1.0}))
    assert default >= trusted - 0.5, (default, trusted)
    p = everzoom.plan(small_set.folder, zoom_factor=2, steps=2)
    assert all(b is None or not any(b.seams) for b in p.blends)


def test_the_seam_leaves_the_edge_only_where_the_images_disagree(tmp_path):
    """The outer image repainted only the band along the inner image's left side: there the seam
    goes in past the repainted band, on the other three sides it stays at the edge."""
    images, _ = repainted(Scene(23), 3, 192, sides=(0,))
    p = everzoom.plan(write_set(tmp_path / "in", images), zoom_factor=2, steps=2)
    b = p.blends[0]
    assert b.seams == (True, False, False, False), b.as_dict()
    middle = b.depths[0][48:-48]
    assert 0.1 * 192 < np.median(middle) < 0.35 * 192  # the repainted band reaches 15% of 192 px in
    assert all(float(d.max()) <= 0.01 * 192 for d in b.depths[1:])


def test_a_repainted_border_is_given_to_the_outer_image_then_revealed(tmp_path):
    """While the inner image is small its repainted border shows the outer image's version;
    the frame whose view is exactly the inner image shows it as it is."""
    images, _ = repainted(Scene(24), 3, 192, sides=(0, 1, 2, 3))
    p = everzoom.plan(write_set(tmp_path / "in", images), zoom_factor=2, steps=8)
    r, layer = p.renderer, p.stack.layers[0]
    assert all(p.blends[0].seams)
    exact = r.render(p.path.view(p.path.frames - 1))  # the view is layer 0
    assert psnr(exact, images[0]) > 45
    view = p.path.view(0)  # two steps earlier: layer 0 is a quarter of the frame
    assert r.cover(0, view) == 1.0
    frame = r.render(view).astype(np.float64)
    place = r.placement(0, view)
    zone = (slice(math.ceil(place.top) + 3, math.floor(place.bottom) - 3),
            slice(math.ceil(place.left) + 1, math.ceil(place.left) + 4))  # inside its left edge
    behind = np.empty((r.out_h, r.out_w, 4), np.uint8)
    behind[:] = r._warp(r.placement(1, view), view, (0, 0, r.out_w, r.out_h))
    own = r._warp(place, view, (0, 0, r.out_w, r.out_h)).astype(np.float64)
    assert np.abs(frame[zone] - behind[zone][:, :, :3]).mean() < 2.0  # the outer image's version
    assert np.abs(own[zone][:, :, :3] - behind[zone][:, :, :3]).mean() > 10  # ... which differs from its own
    inside = (slice(90, 102), slice(90, 102))
    assert np.abs(frame[inside] - own[inside][:, :, :3]).max() <= 1  # well inside, its own pixels


def test_the_reveal_is_a_slow_soft_wipe(tmp_path):
    """Between the two, the boundary of what the inner image shows moves from its seam to its
    edge a little every frame: no frame changes the border's picture much more than the last."""
    images, _ = repainted(Scene(25), 3, 160, sides=(0, 1, 2, 3))
    p = everzoom.plan(write_set(tmp_path / "in", images), zoom_factor=2, steps=12)
    frames = [p.zoom_frame(i).astype(np.float64) for i in range(p.path.frames)]
    lw = np.array([p.path.log_width(i) for i in range(p.path.frames)])
    # compare each frame with the next, both zoomed to the next one's view (the change the zoom alone makes is undone)
    change = []
    for a, b, la, lb in zip(frames, frames[1:], lw, lw[1:], strict=False):
        s = math.exp(la - lb)
        m = cv2.getRotationMatrix2D((80 - 0.5, 80 - 0.5), 0, s)
        change.append(float(np.abs(cv2.warpAffine(a, m, (160, 160)) - b)[24:-24, 24:-24].mean()))
    change = np.array(change)
    assert change.max() < 1.6 * np.median(change), change


@pytest.mark.parametrize("kind", ["clean", "repainted", "redrawn and drifting", "jpeg"])
def test_no_frame_pixel_is_outside_the_images_it_mixes(tmp_path, kind):
    """Per pixel, every frame lies within the range of the samples of the layers drawn there
    (each within its own footprint), give or take 2 levels of resampling overshoot."""
    scene = Scene(26)
    if kind == "clean":
        images, _ = outpainted_set(scene, 4, 2.0, (128, 128))
    elif kind == "repainted":
        images, _ = repainted(scene, 4, 128, sides=(0, 1, 2, 3))
    else:
        images, _ = perturbed_set(scene, 4, 2.0, (128, 128), seed=26, redraw=0.15, straddle=12, drift=0.06,
                                  jpeg_quality=60 if kind == "jpeg" else None)
    p = everzoom.plan(write_set(tmp_path / "in", images), steps=10, size=(160, 96))
    for index in range(0, p.path.frames, 3):
        share, excess = outside(p.renderer, p.path.view(index))
        assert share == 0.0, (index, share, excess)


def test_a_colour_step_is_crossed_over_a_few_frame_pixels(tmp_path):
    """A colour drift between images whose detail agrees: the edge crosses over --seam-width
    frame pixels, so the frame shows a far smaller jump there than a hard cut."""
    images, placements = perturbed_set(Scene(22), 3, 2.0, (160, 160), seed=22, drift=0.12)
    p = everzoom.plan(images, zoom_factor=2, steps=8)
    b = p.blends[0]
    assert all(b.seams) and not any(b.zones) and max(b.colour) > 8, b.as_dict()
    flat = everzoom.plan(images, zoom_factor=2, steps=8, crop=1.0)
    view = p.path.view(4)
    x = round(view.to_frame(placements[0].cx - placements[0].width / 2, 0)[0])

    def step(frame):  # the colour jump across the left edge, over the middle rows
        rows = frame.astype(np.float64)[60:100]
        return float(np.abs(rows[:, x:x + 2].mean(axis=(0, 1)) - rows[:, x - 2:x].mean(axis=(0, 1))).max())
    assert step(p.renderer.render(view)) < 0.5 * step(flat.renderer.render(view))


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


def test_inspect_reports_and_draws_the_seam(tmp_path, run_cli):
    images, _ = repainted(Scene(23), 3, 192, sides=(0,))
    folder = write_set(tmp_path / "in", images)
    r = run_cli("inspect", folder, "--json", "-q", "-o", tmp_path / "r.png")
    assert r.code == 0, r.err
    pairs = json.loads(r.out)["pairs"]
    assert len(pairs) == 2
    sides = pairs[0]["blend"]
    assert set(sides) == {"left", "top", "right", "bottom"}
    assert sides["left"]["seam_px"]["median"] > 0.1 * 192 and sides["top"]["seam_px"]["most"] < 2
    assert sides["left"]["shape_disagreement"] > sides["top"]["shape_disagreement"]
    assert {"kind", "seam_px", "detail_disagreement", "colour_step", "shape_disagreement"} <= set(sides["right"])
    assert sides["left"]["kind"] == "shapes repainted" and sides["top"]["kind"] != "shapes repainted"
    picture = cv2.imread(str(tmp_path / "r.png"))[:, :, ::-1].astype(int)
    row = picture[:240, :240]  # the first pair's inner image: its left zone tinted orange
    orange = np.array([255, 150, 0])
    tint = lambda part: float(np.abs(part - orange).sum(axis=2).mean())  # noqa: E731
    assert tint(row[60:180, 5:25]) < tint(row[60:180, 110:130]) - 40


def test_odd_sizes(small_set, tmp_path, run_cli):
    """PNG frames take any size; H.264 needs even sides and says so."""
    r = run_cli("render", small_set.folder, "-o", tmp_path / "frames", "--size", "95x61", "-zs", "2", "-q")
    assert r.code == 0, r.err
    frames = read_png_frames(tmp_path / "frames")
    assert len(frames) == 9 and frames[0].shape == (61, 95, 3)
    r = run_cli("render", small_set.folder, "-o", tmp_path / "v.mp4", "--size", "95x61", "-zs", "2", "-q")
    assert r.code != 0 and "even" in r.err and not (tmp_path / "v.mp4").exists()


def test_debug_overlay_draws_the_seam(tmp_path):
    """--debug: the layer rectangles stay pure green; a seam that left the edge is orange."""
    from everzoom.overlay import BAND, DRAWN

    images, _ = repainted(Scene(23), 3, 192, sides=(0,))
    folder = write_set(tmp_path / "in", images)
    frame = everzoom.plan(folder, zoom_factor=2, steps=4, debug=True).zoom_frame(4)  # layer 0 half the frame
    plain = everzoom.plan(folder, zoom_factor=2, steps=4).zoom_frame(4)

    def near(picture, colour):
        return int((np.abs(picture.astype(int) - colour).max(axis=2) < 30).sum())
    assert near(frame, DRAWN) > 100 and near(frame, BAND) > 40
    assert near(plain, BAND) < 0.1 * near(frame, BAND)
