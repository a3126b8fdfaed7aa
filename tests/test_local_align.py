"""Local alignment: a smoothly shifted outer image is warped to meet the inner one; clean,
flat or unrelated borders are left alone; the inner image is never changed."""
from __future__ import annotations

import numpy as np
import cv2

import everzoom
from everzoom.local_align import MAX_SHIFT, local_warp, pixel_grid
from everzoom.stack import Stack
from scene import Scene, outpainted_set

SIZE = 256


def known_field(shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """A smooth displacement (a 4x4-mesh-like bend) over the centre half of an image, fading to
    nothing outside 0.6 of its width."""
    h, w = shape
    y, x = (np.indices(shape, dtype=np.float32) + 0.5) / [[[h]], [[w]]]
    fade = np.clip((0.3 - np.maximum(np.abs(x - 0.5), np.abs(y - 0.5))) / 0.05, 0, 1)
    dx = amplitude * np.sin(2 * np.pi * (x * 1.5 + 0.2)) * np.cos(2 * np.pi * y) * fade
    dy = amplitude * np.cos(2 * np.pi * (x + y * 1.5)) * fade
    return np.stack([dx, dy], axis=2).astype(np.float32)


def shifted(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """The picture with its content moved by `field`: the result at x + field(x) is the picture at x
    (inverted to first order, exact enough for a smooth field of a few pixels)."""
    return cv2.remap(image, pixel_grid(image.shape) - field, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def pair(seed: int = 3):
    images, _ = outpainted_set(Scene(seed), 2, 2.0, (SIZE, SIZE))
    stack = Stack.nominal(images, 2.0)
    return images[0], images[1], stack.layers[0].pixel_matrix(stack.layers[1])


def test_a_known_smooth_field_is_recovered():
    inner, outer, matrix = pair()
    truth = known_field(outer.shape[:2], 2.5)
    warped_outer = shifted(outer, truth)
    result, warp = local_warp(inner, warped_outer, matrix)
    assert warp.applied and warp.before > 1.0
    x0, y0, x1, y1 = warp.box
    inside = np.zeros(outer.shape[:2], bool)
    inside[72:184, 72:184] = True  # the footprint (64..192) less the band the field cannot see past
    # the field found at x should be the true one where x lands: truth(x + field(x))
    landed = cv2.remap(truth[y0:y1, x0:x1], pixel_grid(warp.field.shape) + warp.field, None, cv2.INTER_LINEAR)
    error = np.hypot(*(warp.field - landed).transpose(2, 0, 1))[inside[y0:y1, x0:x1]]
    assert np.quantile(error, 0.9) <= 0.3, np.quantile(error, 0.9)
    assert warp.after < 0.5 * warp.before
    # the outer image is restored where it was shifted (away from its untouched outside)
    before = np.abs(warped_outer[80:176, 80:176].astype(float) - outer[80:176, 80:176]).mean()
    after = np.abs(result[80:176, 80:176].astype(float) - outer[80:176, 80:176]).mean()
    assert after < 0.5 * before, (before, after)
    assert np.array_equal(result[:y0], warped_outer[:y0]) and np.array_equal(result[:, x1:], warped_outer[:, x1:])


def test_a_clean_pair_is_left_alone():
    inner, outer, matrix = pair()
    result, warp = local_warp(inner, outer, matrix)
    assert not warp.applied and result is outer
    assert np.quantile(np.hypot(*warp.field.transpose(2, 0, 1)), 0.9) < 0.1, warp.as_dict()


def test_flat_or_unrelated_borders_leave_the_placement_alone():
    inner, outer, matrix = pair()
    flat = np.full_like(outer, 120)
    for other in (flat, outpainted_set(Scene(99), 2, 2.0, (SIZE, SIZE))[0][1]):
        result, warp = local_warp(inner, other, matrix)
        assert not warp.applied and result is other, warp.as_dict()


def test_the_displacement_is_capped():
    inner, outer, matrix = pair()
    _, warp = local_warp(inner, shifted(outer, known_field(outer.shape[:2], 12.0)), matrix)
    assert warp.largest <= MAX_SHIFT * SIZE + 1e-3


def test_render_warps_the_outer_image_and_shows_the_inner_one_as_it_is(tmp_path):
    inner, outer, _ = pair()
    images, _ = outpainted_set(Scene(3), 3, 2.0, (SIZE, SIZE))
    images[1] = shifted(images[1], known_field((SIZE, SIZE), 2.5))
    p = everzoom.plan(images, zoom_factor=2, steps=4)
    assert len(p.warps) == 2 and p.warps[0].applied and not p.warps[1].applied
    assert np.array_equal(p.stack.layers[0].image, images[0])
    assert not np.array_equal(p.stack.layers[1].image, images[1])
    last = p.zoom_frame(p.path.frames - 1)
    assert np.array_equal(last[4:-4, 4:-4], images[0][4:-4, 4:-4])  # the keyframe: the inner image as it is
    off = everzoom.plan(images, zoom_factor=2, steps=4, local_align=False)
    assert off.warps == [] and np.array_equal(off.stack.layers[1].image, images[1])


def test_inspect_reports_the_misalignment_before_and_after(tmp_path, run_cli):
    from conftest import write_set
    import json

    images, _ = outpainted_set(Scene(3), 3, 2.0, (SIZE, SIZE))
    images[1] = shifted(images[1], known_field((SIZE, SIZE), 2.5))
    r = run_cli("inspect", write_set(tmp_path / "in", images), "--json", "-q", "-o", tmp_path / "r.png")
    assert r.code == 0, r.err
    pairs = json.loads(r.out)["pairs"]
    assert len(pairs) == 2
    first, second = (p["local_align"] for p in pairs)
    assert first["applied"] and first["residual_after_px"] < 0.5 * first["residual_before_px"]
    assert not second["applied"] and second["residual_before_px"] < 0.5 * first["residual_before_px"]
    assert (tmp_path / "r.png").exists()
