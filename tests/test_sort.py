"""Auto-sort: shuffled sets come back in order without the zoom factor, every link confirmed by
registration; strays, variants, several series and closed loops are named."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import everzoom
from everzoom.ordering import sort_images
from everzoom.register import register_pair
from scene import Scene, anchored_set, looped, perturbed_set
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
    sorting = sort_images(shuffled_images, shuffled_names)
    assert len(sorting.chains) == 1 and sorting.chains[0].order == truth
    assert sorting.left_out == {} and sorting.problems == []
    assert all(abs(link.zoom / zf - 1) < 0.05 for link in sorting.chains[0].links)


def test_every_link_is_one_that_registration_accepts():
    images, _ = perturbed_set(Scene(8, min_octave=-12, amplitude=5.0), 8, 1.5, (128, 96), seed=8, **HARD)
    shuffled_images, names, truth = shuffled(images, 8)
    chain = sort_images(shuffled_images, names).chains[0]
    by_name = dict(zip(names, shuffled_images))
    assert len(chain.links) == len(chain.order) - 1
    for link, inner, outer in zip(chain.links, chain.order[:-1], chain.order[1:], strict=True):
        assert (link.inner, link.outer) == (inner, outer) and not link.weak
        fit = register_pair(by_name[inner], by_name[outer])
        assert fit.ok and abs(fit.zoom / link.zoom - 1) < 0.01


def test_an_off_centre_16_by_9_series_is_sorted():
    """ComfyUI's uneven outpaint padding: every inner image 22% of the height below the centre."""
    images, _ = anchored_set(Scene(50, min_octave=-16), 8, 2.56, (192, 108), anchor=(0.5, 0.72))
    shuffled_images, names, truth = shuffled(images, 50)
    sorting = sort_images(shuffled_images, names)
    assert [c.order for c in sorting.chains] == [truth] and sorting.problems == []
    for link in sorting.chains[0].links:
        assert abs(link.zoom / 2.56 - 1) < 0.01
        assert abs(link.offset[0]) < 0.5 and abs(link.offset[1] - 0.22 * 108) < 0.5


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
    for order in (range(11), [10, *range(10)]):  # the variant named first or last: the true image is kept
        sorting = sort_images([(images + strays)[i] for i in order], [names[i] for i in order])
        assert [c.order for c in sorting.chains] == [names[:8]]
        assert set(sorting.left_out) == {"cat.png", "dog.png", "step4b.png"}
        assert "unrelated" in sorting.left_out["cat.png"]
        assert "variant of the same step as step4.png" in sorting.left_out["step4b.png"]
        assert "surroundings agree less" in sorting.left_out["step4b.png"]
        assert sorting.problems == []


def test_variants_of_the_outermost_step_that_nothing_tells_apart_need_force(tmp_path, run_cli):
    size = (128, 128)
    scene = Scene(37)
    images, placements = perturbed_set(scene, 4, 2.0, size, seed=37)
    folder = write_set(tmp_path / "in", images + [variant(scene, placements, 3, size, 8)],
                       names=[f"{i}.png" for i in range(4)] + ["3b.png"])
    r = run_cli("sort", folder)
    assert r.code == 1 and "not proven" in r.out
    assert "3.png and 3b.png are variants of the same step" in r.err.strip().splitlines()[-1]
    r = run_cli("sort", folder, "--force")
    assert r.code == 0 and "left out 3b.png: another variant" in r.out


def test_an_exact_duplicate_is_named():
    images, _ = perturbed_set(Scene(32), 5, 2.0, (128, 128), seed=32)
    sorting = sort_images(images + [images[2].copy()], [f"{i}.png" for i in range(5)] + ["copy.png"])
    assert [c.order for c in sorting.chains] == [[f"{i}.png" for i in range(5)]]
    assert sorting.left_out == {"copy.png": "a duplicate of 2.png"}


def test_two_interleaved_series_are_an_error(tmp_path, run_cli):
    a, _ = perturbed_set(Scene(33), 4, 2.0, (128, 128), seed=33)
    b, _ = perturbed_set(Scene(34), 4, 1.5, (128, 128), seed=34)
    names = [f"{i:02d}.png" for i in range(8)]
    folder = write_set(tmp_path / "in", [x for pair in zip(a, b) for x in pair], names=names)
    r = run_cli("sort", folder)
    assert r.code != 0
    line = r.err.strip().splitlines()[-1]
    assert "2 separate zoom series" in line and "--series" in line
    assert "00.png, 02.png, 04.png, 06.png" in line and "01.png, 03.png, 05.png, 07.png" in line
    r = run_cli("render", folder, "-as", "-o", tmp_path / "x.mp4")
    assert r.code != 0 and "separate zoom series" in r.err
    assert not (tmp_path / "x.mp4").exists()


def test_several_series_and_strays_are_listed_and_one_is_chosen(tmp_path, run_cli):
    """Two chains and two strays: all listed (longest first), exit 1 until --series picks one."""
    long_chain, _ = anchored_set(Scene(60, min_octave=-16), 6, 2.56, (192, 108), anchor=(0.5, 0.72))
    short_chain, _ = perturbed_set(Scene(61), 4, 2.0, (192, 108), seed=61)
    strays = [Scene(93).image(0, 0, 5.0, 192, 108), Scene(94).image(0.2, 0.1, 9.0, 192, 108)]
    images = long_chain + short_chain + strays
    names = [f"a{i}.png" for i in range(6)] + [f"b{i}.png" for i in range(4)] + ["s0.png", "s1.png"]
    rng = np.random.default_rng(62)
    perm = rng.permutation(len(images))
    folder = write_set(tmp_path / "in", [images[i] for i in perm], names=[names[i] for i in perm])
    r = run_cli("sort", folder, "--json")
    assert r.code == 1
    data = json.loads(r.out)
    assert [c["order"] for c in data["chains"]] == [names[:6], names[6:10]]
    assert set(data["left_out"]) == {"s0.png", "s1.png"}
    assert "2 separate zoom series" in r.err.strip().splitlines()[-1]
    r = run_cli("sort", folder)
    assert "series 1 of 2 (6 images):" in r.out and "series 2 of 2 (4 images):" in r.out
    r = run_cli("sort", folder, "--series", 2, "--copy-to", tmp_path / "short.v1", "-q")
    assert r.code == 0, r.err
    copied = sorted((tmp_path / "short.v1").iterdir())
    assert [p.name for p in copied] == [f"{i:03d}.png" for i in range(4)]
    assert np.array_equal(cv2.imread(str(copied[0]))[:, :, ::-1], short_chain[0])
    r = run_cli("render", folder, "-as", "--series", 1, "-o", tmp_path / "long", "-zs", 2, "-q")
    assert r.code == 0, r.err
    assert len(list((tmp_path / "long").glob("frame_*.png"))) == 11


def test_sort_command_copies_in_order_and_prints_json(tmp_path, run_cli):
    images, _ = perturbed_set(Scene(35), 6, 1.5, (128, 128), seed=35, jitter=4)
    shuffled_images, shuffled_names, truth = shuffled(images, 35)
    folder = write_set(tmp_path / "in", shuffled_images, names=shuffled_names)
    before = sorted(p.name for p in folder.iterdir())
    r = run_cli("sort", folder, "--copy-to", tmp_path / "ordered.1.1", "--json", "-q")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [c["order"] for c in data["chains"]] == [truth] and len(data["chains"][0]["links"]) == 5
    assert data["chains"][0]["loop"] is None and data["problems"] == []
    assert set(data["timings_s"]) == {"features", "pair_scores", "confirm", "ordering"}
    copied = sorted((tmp_path / "ordered.1.1").iterdir())
    assert [p.name for p in copied] == [f"{i:03d}.png" for i in range(6)]
    for k, p in enumerate(copied):
        by_name = dict(zip(shuffled_names, shuffled_images))
        assert np.array_equal(cv2.imread(str(p))[:, :, ::-1], by_name[truth[k]])
    assert sorted(p.name for p in folder.iterdir()) == before  # originals untouched
    r = run_cli("sort", folder)
    assert r.code == 0 and r.out.splitlines()[0] == f"0. {truth[0]}"
    assert r.out.splitlines()[1].startswith(f"1. {truth[1]}  (contains {truth[0]}: zoom 1.5") and "confidence" in r.out
    sorting = everzoom.sort(folder)  # the API: chains, the chosen one, its images
    by_name = dict(zip(shuffled_names, shuffled_images))
    assert all(np.array_equal(a, by_name[n]) for a, n in zip(sorting.pictures(sorting.choose()), truth, strict=True))
    r = run_cli("sort", folder, "--copy-to", tmp_path / "ordered.1.1")
    assert r.code == 1 and "is not empty" in r.err


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
    sorting = sort_images(images[::-1], ["outer.png", "inner.png"])
    assert [c.order for c in sorting.chains] == [["inner.png", "outer.png"]] and sorting.left_out == {}
    links = sorting.chains[0].links
    assert len(links) == 1 and abs(links[0].zoom / zf - 1) < 0.03


def test_a_closed_loop_is_found_and_turned_to_follow_the_names(tmp_path, run_cli):
    """A zoomquilt: four images zoom 2 apart whose outermost sits inside the innermost."""
    scene = looped(Scene(44), 4)
    images = [scene.image(0, 0, 2.0 ** k, 128, 128) for k in range(4)]
    names = [f"quilt{k}.png" for k in range(4)]
    sorting = sort_images(images[2:] + images[:2], names[2:] + names[:2])
    chain = sorting.chains[0]
    assert [c.order for c in sorting.chains] == [names] and sorting.problems == []
    assert chain.loop is not None and (chain.loop.inner, chain.loop.outer) == ("quilt3.png", "quilt0.png")
    assert abs(chain.loop.zoom / 2 - 1) < 0.01
    folder = write_set(tmp_path / "quilt", images[::-1], names=names[::-1])
    r = run_cli("sort", folder)
    assert r.code == 0 and "closes into a loop: quilt3.png sits inside quilt0.png" in r.out
    plain, _ = perturbed_set(Scene(45), 4, 2.0, (128, 128), seed=45)
    assert sort_images(plain, names).chains[0].loop is None


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
        assert "no two images fit together" in line, line
    assert not (tmp_path / "z.mp4").exists()


@pytest.mark.parametrize("ext, size, anchor", [(".jpg", (108, 192), (0.38, 0.5)), (".webp", (192, 108), (0.62, 0.3))])
def test_portrait_and_landscape_series_stored_lossy_are_sorted(tmp_path, run_cli, ext, size, anchor):
    """Footprints off centre either way, portrait or landscape, as JPEG or WebP files."""
    images, _ = anchored_set(Scene(70, min_octave=-16), 6, 2.2, size, anchor=anchor)
    rng = np.random.default_rng(71)
    names = [f"{rng.integers(0, 2**32):08x}{ext}" for _ in images]
    folder = tmp_path / "in"
    folder.mkdir()
    quality = [cv2.IMWRITE_JPEG_QUALITY, 88] if ext == ".jpg" else [cv2.IMWRITE_WEBP_QUALITY, 85]
    for name, image in zip(names, images):
        cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), quality)
    r = run_cli("sort", folder, "--json", "-q")
    assert r.code == 0, r.err
    assert [c["order"] for c in json.loads(r.out)["chains"]] == [names]


def test_a_weak_link_is_named_and_needs_force(tmp_path, run_cli):
    """Image 2's detail mostly redrawn: image 1 is found inside it only with the series' help."""
    scene = Scene(80)
    images, placements = perturbed_set(scene, 5, 2.0, (128, 128), seed=80)
    p = placements[2]
    other = scene.reseeded(1.0 / placements[1].width, 3).image(p.cx, p.cy, p.width, 128, 128)
    images[2] = np.clip(0.4 * images[2] + 0.6 * other + 0.5, 0, 255).astype(np.uint8)
    folder = write_set(tmp_path / "in", images)
    r = run_cli("sort", folder)
    assert r.code == 1 and "weak" in r.out
    assert "img_1.png inside img_2.png is a weak link" in r.err.strip().splitlines()[-1]
    r = run_cli("sort", folder, "--force", "--json", "-q")
    assert r.code == 0
    links = json.loads(r.out)["chains"][0]["links"]
    assert [link["weak"] for link in links] == [False, True, False, False]
    assert run_cli("render", folder, "-as", "-o", tmp_path / "z.mp4").code == 1
