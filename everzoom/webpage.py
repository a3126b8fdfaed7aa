"""`everzoom web`: one self-contained HTML page that zooms through a planned series in the
browser. The layers (JPEG with full colour resolution by default, lossless WebP with --lossless), their
reveal fields (where each gives way to the one behind while it is small), placements and the
camera path
of the plan are embedded as JSON beside the viewer's code (web/viewer.js, web/viewer.html), so
the page makes no request at all: it opens from disk or any static server, offline.
"""
from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .errors import EverzoomError
from .planning import Plan
from .blend import REACH
from .render import BLEND_GROW, FEATHER_GROW, RHO, SEAM_FRACTION
from .sinks import check_parent, creating, publish, temp_beside

CENTRE_SAMPLES_PER_STEP = 64


def layer_data_uri(image: np.ndarray, quality: int, lossless: bool) -> str:
    """An RGB image as a data: URI: lossless WebP, or JPEG with full-resolution colour (4:4:4) at
    quality 50 + quality/2 (80 -> 90). Lossy WebP always halves the colour resolution both
    ways, which on fine, saturated detail caps it near 29-31 dB at any quality; JPEG 4:4:4
    reaches 34-36 dB at a similar size (progressive, optimised Huffman tables: 9% smaller)."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if lossless:
        ok, buffer = cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])
        kind = "webp"
    else:
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50 + quality // 2,
                                                cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
                                                cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        kind = "jpeg"
    if not ok:
        raise EverzoomError("cannot encode a layer for the page")
    return f"data:image/{kind};base64," + base64.b64encode(buffer.tobytes()).decode("ascii")


def field_data_uri(field: np.ndarray) -> str:
    """A layer's reveal field (blend.py) as a data: URI: lossless grey PNG (smooth, so it stays
    small)."""
    ok, buffer = cv2.imencode(".png", field, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise EverzoomError("cannot encode a layer's reveal field for the page")
    return "data:image/png;base64," + base64.b64encode(buffer.tobytes()).decode("ascii")


def capped(image: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def page_data(plan: Plan, quality: int = 80, lossless: bool = False, max_side: int | None = None) -> dict:
    """Everything the viewer needs, as plain data."""
    stack, path = plan.stack, plan.path
    layers = []
    for layer in stack.layers:
        image = capped(layer.image, max_side)
        reveal = capped(layer.reveal, max_side) if layer.reveal is not None else None
        layers.append({"name": layer.name, "w": image.shape[1], "h": image.shape[0], "cx": layer.cx, "cy": layer.cy,
                       "width": layer.width, "height": layer.height, "seams": [bool(s) for s in layer.seams],
                       "interior": [int(round(i * image.shape[1] / layer.image.shape[1])) for i in layer.interior],
                       "src": layer_data_uri(image, quality, lossless),
                       "reveal": field_data_uri(reveal) if reveal is not None else None})
    ts = np.linspace(0.0, 1.0, CENTRE_SAMPLES_PER_STEP * path.steps + 1)
    centre = path.relative_centre(ts).reshape(-1, 2)
    zooms = stack.zoom_factors() + ([1 / plan.loop.scale / float(np.prod(stack.zoom_factors()))] if plan.loop else [])
    # the renderer draws a closed loop's copies inside the layers: their first copies say how each
    # layer meets the one around it, the outermost's copy included
    first = len(plan.renderer.stack) - (2 if plan.loop else 1) * len(stack)
    grow = plan.renderer.grow[first:first + len(stack)]
    return {"version": 1, "layers": layers, "crop": plan.renderer.crop, "seam_width": plan.options.seam_width,
            "seam_fraction": SEAM_FRACTION,
            "blend_grow": BLEND_GROW, "feather_grow": FEATHER_GROW, "reveal": {"reach": REACH, "rho": RHO},
            "grow": [float(g) for g in grow], "centre": np.round(centre, 7).tolist(),
            "zoom": float(np.exp(np.mean(np.log(zooms)))),
            "loop": {"scale": plan.loop.scale} if plan.loop else None,
            "path": {"fps": plan.options.fps, "depths": np.round(path.depths, 6).tolist()}}


def page(data: dict, title: str) -> str:
    """The HTML of the page: the template with the viewer's code and the data inlined."""
    folder = resources.files("everzoom") / "web"
    template = (folder / "viewer.html").read_text(encoding="utf-8")
    script = (folder / "viewer.js").read_text(encoding="utf-8")
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = title.replace("&", "&amp;").replace("<", "&lt;")
    return template.replace("__TITLE__", title).replace("__VIEWER__", script).replace("__DATA__", payload)


def write_page(plan: Plan, output: str | Path, quality: int = 80, lossless: bool = False,
               max_side: int | None = None, title: str = "everzoom") -> int:
    """Write the page (temporary file beside it, renamed when complete); its size in bytes."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise EverzoomError(f"-o {output}: the page is an .html file")
    if max_side is not None and not (16 <= max_side <= 16384):
        raise EverzoomError(f"--max-side must be from 16 to 16384 pixels, not {max_side}")
    check_parent(output)
    html = page(page_data(plan, quality, lossless, max_side), title).encode("utf-8")
    with creating(output.parent):
        tmp = temp_beside(output)
        try:
            tmp.write_bytes(html)
            publish(tmp, output)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return len(html)

