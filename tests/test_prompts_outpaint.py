"""The prompts file and the outpainting geometry: pure functions, no models needed."""
from __future__ import annotations

import numpy as np
import pytest

from everzoom.errors import EverzoomError
from everzoom.outpaint import canvas_and_mask, default_overlap, paste_back, pasted_box, step_factor
from everzoom.prompts import parse, schedule


def test_prompts_share_the_images_equally():
    entries = parse("# comment\n a seed \n\na tree\n# another\na forest\n")
    assert entries == [(None, "a seed"), (None, "a tree"), (None, "a forest")]
    assert schedule(entries, 12) == ["a seed"] * 4 + ["a tree"] * 4 + ["a forest"] * 4
    assert schedule(entries, 3) == ["a seed", "a tree", "a forest"]
    assert schedule(parse("only"), 3) == ["only"] * 3


def test_pinned_prompts_start_where_they_say():
    assert schedule(parse("a\n3: b\nc\n9: d"), 12) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"] * 3
    assert schedule(parse("0: a\n2: b"), 4) == ["a", "a", "b", "b"]


@pytest.mark.parametrize("text, images, words", [
    ("", 3, "no prompts"), ("# nothing\n\n", 3, "no prompts"), ("a\n5: b", 4, "pinned to image 5"),
    ("4: a\n2: b", 6, "increasing"), ("3:", 5, "needs text")])
def test_bad_prompts(text, images, words):
    with pytest.raises(EverzoomError, match=words):
        schedule(parse(text), images)


def test_canvas_mask_and_paste_back():
    rng = np.random.default_rng(0)
    previous = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    canvas, mask, small = canvas_and_mask(previous, 2.0, overlap=4, rng=rng)
    at, side = pasted_box(64, 2.0)
    assert (at, side) == (16, 32) and small.shape == (32, 32, 3)
    assert np.array_equal(canvas[16:48, 16:48], small)
    assert (mask[20:44, 20:44] == 0).all() and (mask[:16] == 255).all() and (mask[16:20, 16:48] == 255).all()
    painted = np.full((64, 64, 3), 7, np.uint8)
    out = paste_back(painted, small, overlap=4)
    assert np.array_equal(out[20:44, 20:44], small[4:28, 4:28])  # exact inside the overlap band
    assert np.array_equal(out[:16], painted[:16])  # the painting is kept outside
    edge = out[16, 30].astype(int)
    assert np.all(np.abs(edge - 7) < np.abs(small[0, 14].astype(int) - 7) + 1)  # the band blends


@pytest.mark.parametrize("size", [64, 72, 128, 512, 1024])
@pytest.mark.parametrize("zoom", [4 / 3, 1.5, 2.0, 3.0])
def test_the_pasted_image_sits_exactly_centred_and_its_inner_half_is_exact(size, zoom):
    """The pasted side has the canvas's parity (a whole number of pixels from each edge), the
    real factor is size / side, and with the default overlap the inner half of the pasted
    square is the shrunk previous image, exactly (issue: 8.6/255 off at 64 px)."""
    at, side = pasted_box(size, zoom)
    assert (size - side) % 2 == 0 and at == (size - side) // 2 and abs(side - size / zoom) <= 1
    assert step_factor(size, zoom) == size / side
    rng = np.random.default_rng(size)
    previous = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    overlap = default_overlap(size, zoom)
    assert 1 <= overlap <= side // 4
    canvas, mask, small = canvas_and_mask(previous, zoom, overlap, rng)
    painted = (rng.random((size, size, 3)) * 255).astype(np.uint8)  # whatever the model paints
    out = paste_back(painted, small, overlap)
    q = side // 4
    inner = out[at + q:at + side - q, at + q:at + side - q].astype(int)
    assert np.array_equal(inner, small[q:side - q, q:side - q])
    assert (mask[at + overlap:at + side - overlap, at + overlap:at + side - overlap] == 0).all()
    assert (mask[:at] == 255).all() and mask[at:at + overlap, at:at + side].min() == 255
