"""The exported page in a real browser (Debian's Chromium, driven by Playwright): it loads from
disk and from a local server with no request leaving it, draws what `everzoom render` draws,
and answers the wheel, the keys and reduced motion."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading

import cv2
import numpy as np
import pytest

import everzoom
from everzoom.path import CameraPath
from scene import psnr

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def pages(small_set, tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    lossless, lossy = folder / "lossless.html", folder / "lossy.html"
    everzoom.web(small_set.folder, lossless, lossless=True)
    everzoom.web(small_set.folder, lossy)
    return {"lossless": lossless, "lossy": lossy}


def open_page(browser, url: str, size=(128, 128), reduced: bool = False):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, device_scale_factor=1,
                                  reduced_motion="reduce" if reduced else "no-preference")
    page = context.new_page()
    log = {"errors": [], "requests": []}
    page.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("request", lambda r: log["requests"].append(r.url))
    page.goto(url)
    page.evaluate("window.everzoom.ready")
    return page, log


def canvas_at(page, z: float) -> np.ndarray:
    page.evaluate("z => { window.everzoom.pause(); return window.everzoom.setPosition(z); }", z)
    shot = page.locator("canvas").screenshot()
    return cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


def rendered_at(folder, z: float, size=(128, 128)) -> np.ndarray:
    p = everzoom.plan(folder, even=False)
    path = CameraPath(p.stack, size[0], size[1], np.array([z]))
    return p.renderer.render(path.view(0))


def test_page_loads_from_disk_without_requests_or_errors(browser, pages):
    page, log = open_page(browser, pages["lossless"].as_uri())
    assert page.evaluate("window.everzoom.backend") == "webgl2"
    page.evaluate("window.everzoom.frame()")
    assert log["errors"] == []
    assert log["requests"] == [pages["lossless"].as_uri()]


def test_page_loads_from_a_local_server(browser, pages):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(pages["lossy"].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/lossy.html"
        page, log = open_page(browser, url)
        page.evaluate("window.everzoom.frame()")
        assert log["errors"] == [] and log["requests"] == [url]
    finally:
        server.shutdown()


@pytest.mark.parametrize("kind, floor, renderer", [("lossless", 38, ""), ("lossy", 33, ""),
                                                   ("lossless", 32, "?renderer=canvas")])
def test_page_draws_what_render_draws(browser, pages, small_set, kind, floor, renderer):
    page, log = open_page(browser, pages[kind].as_uri() + renderer)
    assert page.evaluate("window.everzoom.backend") == ("canvas2d" if renderer else "webgl2")
    for z in (0.0, 1.5, 4.0):
        got, want = canvas_at(page, z), rendered_at(small_set.folder, z)
        assert got.shape == want.shape
        assert psnr(got, want) >= floor, (z, psnr(got, want))
    assert log["errors"] == []


def test_wheel_keys_and_reduced_motion(browser, pages):
    page, log = open_page(browser, pages["lossy"].as_uri())
    assert page.evaluate("window.everzoom.isPlaying()")
    page.evaluate("window.everzoom.pause(); window.everzoom.setPosition(2)")
    page.mouse.move(64, 64)
    page.mouse.wheel(0, -100)  # wheel up: in
    page.wait_for_function("window.everzoom.getPosition() > 2.1")
    assert abs(page.evaluate("window.everzoom.getPosition()") - 2.2) < 1e-6
    for key, expect in (("End", 4.0), ("Home", 0.0), ("ArrowUp", 0.1), ("+", 0.2), ("-", 0.1)):
        page.keyboard.press(key)
        assert abs(page.evaluate("window.everzoom.getPosition()") - expect) < 1e-6, key
    page.evaluate("window.everzoom.setPosition(1)")
    page.keyboard.press(" ")
    assert page.evaluate("window.everzoom.isPlaying()")
    page.wait_for_timeout(300)
    forward = page.evaluate("window.everzoom.getPosition()")
    assert forward > 1.0  # the loop starts going in
    page.keyboard.press("r")
    page.wait_for_timeout(300)
    assert page.evaluate("window.everzoom.getPosition()") < forward
    assert log["errors"] == []
    still, _ = open_page(browser, pages["lossy"].as_uri(), reduced=True)
    assert not still.evaluate("window.everzoom.isPlaying()")
    start = still.evaluate("window.everzoom.getPosition()")
    still.wait_for_timeout(300)
    assert still.evaluate("window.everzoom.getPosition()") == start


def test_a_long_series_keeps_few_layers_resident(browser, tmp_path):
    from scene import Scene, outpainted_set
    from conftest import write_set

    images, _ = outpainted_set(Scene(5), 40, 2.0, (64, 64))
    out = tmp_path / "long.html"
    everzoom.web(write_set(tmp_path / "in", images), out, align=False, zoom_factor=2)
    page, log = open_page(browser, out.as_uri())
    assert page.evaluate("window.everzoom.layers") == 40
    for z in (0, 10.5, 20, 30.25, 39, 5):
        page.evaluate("z => window.everzoom.setPosition(z)", z)
        assert page.evaluate("window.everzoom.resident()") <= 6
    assert log["errors"] == []


def test_control_bar_shows_when_the_pointer_moves(browser, pages):
    page, _ = open_page(browser, pages["lossy"].as_uri())
    assert page.evaluate("getComputedStyle(document.getElementById('bar')).opacity") == "0"
    page.mouse.move(10, 10)
    page.mouse.move(60, 60)
    page.wait_for_function("getComputedStyle(document.getElementById('bar')).opacity === '1'")


def test_max_side_caps_the_embedded_layers(small_set, tmp_path):
    import base64
    import json
    import re

    out = tmp_path / "small.html"
    everzoom.web(small_set.folder, out, max_side=64)
    data = json.loads(re.search(r'id="everzoom-data">(.*?)</script>', out.read_text(), re.S).group(1))
    assert len(data["layers"]) == 5
    for layer in data["layers"]:
        jpeg = base64.b64decode(layer["src"].split(",", 1)[1])
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (64, 64) and (layer["w"], layer["h"]) == (64, 64)


def test_pinch_zooms(browser, pages):
    """Two pointers spreading apart zoom in by the log of the spread, in zoom-factor steps."""
    page, log = open_page(browser, pages["lossy"].as_uri())
    page.evaluate("window.everzoom.pause(); window.everzoom.setPosition(1)")
    page.evaluate("""() => {
        const c = document.querySelector('canvas');
        const at = (type, id, x) => c.dispatchEvent(new PointerEvent(type, {pointerId: id, clientX: x, clientY: 64,
                                                                          bubbles: true, pointerType: 'touch'}));
        at('pointerdown', 1, 44); at('pointerdown', 2, 64);
        at('pointermove', 2, 64);   // spread 20
        at('pointermove', 2, 84);   // spread 40: twice as wide, one step of zoom factor 2 in
        at('pointerup', 1, 44); at('pointerup', 2, 84);
    }""")
    assert abs(page.evaluate("window.everzoom.getPosition()") - 2.0) < 1e-3
    assert log["errors"] == []


def test_control_bar_buttons(browser, pages):
    page, log = open_page(browser, pages["lossy"].as_uri())
    page.mouse.move(60, 60)
    page.click("#play", force=True)
    assert not page.evaluate("window.everzoom.isPlaying()")
    page.evaluate("""() => { const s = document.getElementById('position'); s.value = 0.5;
                             s.dispatchEvent(new Event('input')); }""")
    assert abs(page.evaluate("window.everzoom.getPosition()") - 2.0) < 1e-6  # half way: 2 of 4 steps
    page.evaluate("""() => { const s = document.getElementById('speed'); s.value = 3;
                             s.dispatchEvent(new Event('input')); }""")
    page.click("#play", force=True)
    page.wait_for_timeout(400)
    moved = abs(page.evaluate("window.everzoom.getPosition()") - 2.0)
    assert page.evaluate("window.everzoom.isPlaying()") and moved > 0.1
    assert log["errors"] == []


def test_a_closed_loop_zooms_forever_in_the_page(browser, tmp_path):
    """A zoomquilt's page zooms in for ever, drawing what render draws, across the wrap too."""
    from test_loop import quilt
    from conftest import write_set

    folder = write_set(tmp_path / "quilt", quilt(anchor_y=0.7), names=[f"q{k}.png" for k in range(4)])
    out = tmp_path / "quilt.html"
    everzoom.web(folder, out, lossless=True)
    p = everzoom.plan(folder, even=False, loop=True)
    assert p.loop is not None
    page, log = open_page(browser, out.as_uri())
    for z in (0.0, 1.5, 3.5, 3.9, 4.0, 5.5):
        path = CameraPath(p.stack, 128, 128, np.array([z % 4]), p.loop)
        want = p.renderer.render(path.view(0))
        got = canvas_at(page, z)
        assert psnr(got, want) >= 36, (z, psnr(got, want))
        assert abs(page.evaluate("window.everzoom.getPosition()") - z % 4) < 1e-9
    page.evaluate("window.everzoom.setPosition(3.95); window.everzoom.play()")
    page.wait_for_timeout(500)
    assert 0.0 < page.evaluate("window.everzoom.getPosition()") < 1.0  # played on through the wrap
    assert log["errors"] == []
