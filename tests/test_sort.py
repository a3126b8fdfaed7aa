"""Auto-sort: shuffled sets come back in order without the zoom factor; strays are named."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from everzoom.ordering import sort_images
from scene import Scene, perturbed_set
from conftest import write_set

HARD = dict(jitter=8, scale_error=0.02, redraw=0.12, drift=0.04, jpeg_quality=90)


def shuffled(images, seed):
    """The images under random hex names in random order; and the true order of those names."""
    rng = np.random.default_rng(seed)
    names = [f"{rng.integers(0, 2**32):08x}.png" for _ in images]
    perm = rng.permutation(len(images))
    return [images[i] for i in perm], [names[i] for i in perm], names


@pytest.mark.parametrize("n, zf, size, octaves", [
    (3, 2.0, (128, 128), -12), (8, 1.5, (128, 96), -12), (8, 3.0, (160, 160), -16),
    (20, 4 / 3, (96, 96), -12), (60, 4 / 3, (96, 96), -28)])
def test_shuffled_sets_are_put_in_order(n, zf, size, octaves):
    images, _ = perturbed_set(Scene(n, min_octave=octaves, amplitude=5.0), n, zf, size, seed=n, **HARD)
    shuffled_images, shuffled_names, truth = shuffled(images, n)
    order = sort_images(shuffled_images, shuffled_names)
    assert order.order == truth
    assert order.left_out == {}
    assert all(abs(link.zoom / zf - 1) < 0.05 for link in order.links)


def variant(scene: Scene, placements, k: int, size, seed: int) -> np.ndarray:
    """Another outpainting of step k: the same image k-1 in the middle, other surroundings."""
    w, h = size
    p, q = placements[k], placements[k - 1]
    xs = p.cx + (np.arange(w) + 0.5 - w / 2) * p.width / w
    ys = p.cy + (np.arange(h) + 0.5 - h / 2) * p.width / w
    outside = np.maximum(np.abs(xs - q.cx)[None, :] - q.width / 2, np.abs(ys - q.cy)[:, None] - q.width / 2)
    weight = np.clip(outside / (4 * p.width / w) + 0.5, 0, 1)[:, :, None]
    other = scene.reseeded(0.0, seed).image(p.cx, p.cy, p.width, w, h)
    own = scene.image(p.cx, p.cy, p.width, w, h)
    return np.clip(own * (1 - weight) + other * weight + 0.5, 0, 255).astype(np.uint8)


def test_strays_and_a_second_variant_are_left_out_and_named():
    size = (128, 128)
    scene = Scene(31)
    images, placements = perturbed_set(scene, 8, 2.0, size, seed=31, jitter=4, drift=0.03)
    strays = [Scene(91).image(0, 0, 5.0, *size), Scene(92).image(0.3, 0, 11.0, *size),
              variant(scene, placements, 4, size, 7)]
    names = [f"step{i}.png" for i in range(8)] + ["cat.png", "dog.png", "step4b.png"]
    order = sort_images(images + strays, names)
    assert order.order == names[:8]
    assert set(order.left_out) == {"cat.png", "dog.png", "step4b.png"}
    assert "unrelated" in order.left_out["cat.png"]
    assert "variant of the same step as step4.png" in order.left_out["step4b.png"]


def test_an_exact_duplicate_is_named():
    images, _ = perturbed_set(Scene(32), 5, 2.0, (128, 128), seed=32)
    order = sort_images(images + [images[2].copy()], [f"{i}.png" for i in range(5)] + ["copy.png"])
    assert order.order == [f"{i}.png" for i in range(5)]
    assert order.left_out == {"copy.png": "a duplicate of 2.png"}


def test_two_interleaved_series_are_an_error(tmp_path, run_cli):
    a, _ = perturbed_set(Scene(33), 4, 2.0, (128, 128), seed=33)
    b, _ = perturbed_set(Scene(34), 4, 1.5, (128, 128), seed=34)
    names = [f"{i:02d}.png" for i in range(8)]
    folder = write_set(tmp_path / "in", [x for pair in zip(a, b) for x in pair], names=names)
    r = run_cli("sort", folder)
    assert r.code != 0
    line = r.err.strip().splitlines()[-1]
    assert "2 separate zoom series" in line
    assert "00.png, 02.png, 04.png, 06.png" in line and "01.png, 03.png, 05.png, 07.png" in line
    r = run_cli("render", folder, "-as", "-o", tmp_path / "x.mp4")
    assert r.code != 0 and "separate zoom series" in r.err


def test_sort_command_copies_in_order_and_prints_json(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(35), 6, 1.5, (128, 128), seed=35, jitter=4)
    shuffled_images, shuffled_names, truth = shuffled(images, 35)
    folder = write_set(tmp_path / "in", shuffled_images, names=shuffled_names)
    before = sorted(p.name for p in folder.iterdir())
    r = run_cli("sort", folder, "--copy-to", tmp_path / "ordered", "--json", "-q")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["order"] == truth and len(data["links"]) == 5
    assert set(data["timings_s"]) == {"features", "pair_scores", "ordering", "orb_check"}
    copied = sorted((tmp_path / "ordered").iterdir())
    assert [p.name for p in copied] == [f"{i:03d}.png" for i in range(6)]
    for k, p in enumerate(copied):
        by_name = dict(zip(shuffled_names, shuffled_images))
        assert np.array_equal(cv2.imread(str(p))[:, :, ::-1], by_name[truth[k]])
    assert sorted(p.name for p in folder.iterdir()) == before  # originals untouched
    r = run_cli("sort", folder)
    assert r.code == 0 and r.out.splitlines()[0] == f"0. {truth[0]}"


def test_render_auto_sort_matches_rendering_the_ordered_set(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(36), 5, 2.0, (128, 128), seed=36)
    shuffled_images, shuffled_names, truth = shuffled(images, 36)
    folder = write_set(tmp_path / "in", shuffled_images, names=shuffled_names)
    ordered = write_set(tmp_path / "ordered", images)
    assert run_cli("-i", folder, "-o", tmp_path / "a", "-as", "-zs", 3, "-q", legacy_cli=True).code == 0
    assert run_cli("render", ordered, "-o", tmp_path / "b", "-zs", 3, "-q").code == 0
    for a, b in zip(sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir()), strict=True):
        assert np.array_equal(cv2.imread(str(a)), cv2.imread(str(b)))


@pytest.mark.parametrize("zf", [1.1, 1.2, 1.3, 4.5])
def test_two_images_close_together_or_at_the_range_edge_are_sorted(zf):
    """Two images zoom 1.1-1.3 apart are a series, not two variants of one step; a best match at
    the very edge of the searched zooms (1.1 or 4.5) is kept."""
    images, _ = perturbed_set(Scene(40, min_octave=-12, amplitude=5.0), 2, zf, (192, 192), seed=40)
    order = sort_images(images[::-1], ["outer.png", "inner.png"])
    assert order.order == ["inner.png", "outer.png"] and order.left_out == {}
    assert len(order.links) == 1 and abs(order.links[0].zoom / zf - 1) < 0.03


@pytest.mark.parametrize("case", ["duplicates", "unrelated", "one and strays"])
def test_a_sort_that_leaves_fewer_than_two_images_is_a_clear_error(tmp_path, run_cli, case):
    images, _ = perturbed_set(Scene(41), 2, 2.0, (128, 128), seed=41)
    other = [Scene(90 + i).image(0, 0, 3.0, 128, 128) for i in range(2)]
    sets = {"duplicates": [images[0], images[0].copy()], "unrelated": other, "one and strays": [images[0], *other]}
    folder = write_set(tmp_path / "in", sets[case])
    for args in (("sort", folder), ("render", folder, "-as", "-o", tmp_path / "z.mp4")):
        r = run_cli(*args)
        assert r.code == 1 and "Traceback" not in r.err
        line = r.err.strip().splitlines()[-1]
        assert line.startswith("everzoom: error:")
        assert ("only img_0.png is left" in line) or ("no two images fit together" in line), line
    assert not (tmp_path / "z.mp4").exists()
