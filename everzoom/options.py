"""Render options: each defined once, here (name, type, default, help, command-line flags), and
checked once for the API and every command line alike. The click options of `everzoom render`,
`everzoom make` and `infinite_zoom.py` are generated from these fields (cli.render_options),
and the README's option table is checked against them (tests/test_docs.py)."""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .errors import EverzoomError
from .formats import CODECS, PRESETS
from .timeline import EASES, MODES

MAX_SIDE = 8192
MIN_SIDE = 16


def option(default: Any, *flags: str, help: str, legacy: tuple[str, ...] = (), legacy_default: Any = MISSING,
           metavar: str | None = None, choices: tuple[str, ...] | None = None, kind: type | None = None,
           negate: bool = False, shown: str | None = None):
    """A RenderOptions field with its command-line flags.

    `legacy`: the extra spellings infinite_zoom.py accepts (the original script's long forms),
    `legacy_default`: its own default there; `negate`: a --no-x flag that turns a default-on
    option off; `shown`: the default as the README and --help show it, where not the value."""
    cli = dict(flags=flags, help=help, legacy=legacy, legacy_default=legacy_default, metavar=metavar,
               choices=choices, kind=kind, negate=negate, shown=shown)
    return field(default=default, metadata={"cli": cli})


@dataclass
class RenderOptions:
    zoom_factor: float | None = option(
        None, "-zf", "--zoom-factor", kind=float, legacy=("--ZoomFactor",), shown="measured",
        help="Zoom factor between consecutive images (Midjourney's '1.5x' is really 4/3). Default: measured "
             "per pair (1.1 to 4.5); given, it is the prior the measurement refines, and used as is with "
             "--no-align (where the default is 2); a folder made by `everzoom generate` supplies its own.")
    steps: int = option(100, "-zs", "--steps", kind=int, legacy=("--ZoomSteps",),
                        help="Frames per zoom-factor step.")
    duration: float | None = option(None, "--duration", kind=float, metavar="SECONDS",
                                    help="Seconds of zoom, instead of --steps (holds come on top).")
    crop: float | None = option(
        None, "-zc", "--crop", kind=str, legacy=("--ZoomCrop",), shown="auto", metavar="auto|FRACTION",
        help="How each inner image meets the one behind it. auto: decided per side from the two images: where they "
             "agree, the inner image is kept to its edge; where its detail was redrawn or its colours differ, the edge "
             "crosses over --seam-width pixels of the frame; where whole shapes were repainted, the outer image's "
             "version shows there while the inner image is small, and the inner image's own pixels come in, from a "
             "seam where the two agree out to the edge, as the zoom reaches it. A fraction: the part of each inner "
             "image that is trusted, the border band outside it fading into the image behind (the original script's "
             "0.8: 10% of each side; 1: trust it all).")
    seam_width: float | None = option(None, "--seam-width", kind=float, metavar="PX", shown="2% of the frame",
                                      help="With --crop auto: over how many pixels of the frame an image's edge "
                                           "crosses into the one behind where the two do not simply agree (redrawn "
                                           "detail, another colour, repainted shapes); inside the edge; 0: a hard "
                                           "cut.")
    fps: float = option(30.0, "-fps", "--fps", kind=float, legacy=("--FramesPerSecond",), legacy_default=60.0,
                        help="Frames per second.")
    mode: str = option("in", "--mode", choices=MODES,
                       help="in: from the outermost image to the innermost; out: the reverse; in-out: in and back "
                            "out (out-in: the other way), easing to rest at the turn.")
    reverse: bool = option(False, "-rev", "--reverse", legacy=("--Reverse",),
                           help="Zoom out: the same as --mode out (with in-out: out-in).")
    loop: bool = option(False, "--loop",
                        help="Loop seamlessly when played on repeat (the frame after the last is the first): with "
                             "--mode in-out or out-in the turn at the end mirrors the one in the middle; with --mode "
                             "in or out the series must close (its outermost image reappears inside its innermost, "
                             "as in a zoomquilt) and the zoom goes on forever.")
    hold: float = option(0.0, "-d", "--hold", kind=float, legacy=("--Delay",), metavar="SECONDS",
                         help="Seconds to hold still at the start and at the end.")
    size: tuple[int, int] | None = option(None, "--size", metavar="WxH", shown="image size",
                                          help="Output size (video codecs need even sides); another aspect "
                                               "ratio shows a centre crop.")
    debug: bool = option(False, "-dbg", "--debug", legacy=("--Debug",),
                         help="Overlays: every layer's rectangle and centre (green: drawn), the seam of a layer whose "
                              "border shows the image behind (orange), frame index, zoom level, drawn layers.")
    ease: str = option("none", "--ease", "--easing", choices=(*EASES, "ease-in-out"),
                       help="How the zoom starts and stops: none (constant speed), or the speed ramps from rest "
                            "along a sine, cubic (smoothstep; --easing ease-in-out) or quint curve, applied to the "
                            "log of the view width.")
    ease_steps: float = option(1.0, "--ease-steps", kind=float, metavar="N",
                               help="Over how many image steps the speed ramps up and down at each end (at most "
                                    "half the zoom).")
    hold_each: float = option(0.0, "--hold-each", kind=float, metavar="SECONDS",
                              help="Pause at every image between the first and the last, easing to rest and away.")
    timing: str | None = option(None, "--timing", kind=str, metavar="FILE",
                                help="Seconds per step (CSV rows or a JSON object: image name or index -> seconds "
                                     "to travel from it to the next, zoomed-out image, and an optional hold "
                                     "there); the speed changes smoothly between steps. --duration scales them.")
    codec: str | None = option(None, "--codec", choices=CODECS, shown="by extension",
                               help="Video codec: .mp4 h264 (default), h265 or av1; .webm vp9 (default) or av1; "
                                    ".mov prores (default), h264 or h265; .mkv any of these.")
    quality: int = option(80, "--quality", kind=int, metavar="0-100",
                          help="One quality knob for every format, higher is better (80: H.264 CRF 18; the "
                               "README has the mapping per codec).")
    crf: int | None = option(None, "--crf", kind=int, shown="from --quality",
                             help="Expert: the codec's own CRF (H.264, H.265, AV1, VP9), instead of --quality.")
    preset: str = option("medium", "--preset", choices=PRESETS, shown="medium (veryfast with --draft)",
                         help="Encoder speed/size trade-off (x264's names; mapped for the other codecs).")
    audio: str | None = option(None, "--audio", kind=str, metavar="FILE",
                               help="Soundtrack (any format ffmpeg reads): AAC in .mp4/.mov/.mkv, Opus in .webm. "
                                    "The video's length decides: longer audio is cut (with a fade-out), shorter "
                                    "audio ends early.")
    audio_start: float = option(0.0, "--audio-start", kind=float, metavar="SECONDS",
                                help="Skip this far into the soundtrack.")
    audio_fade: float | None = option(None, "--audio-fade", kind=float, metavar="SECONDS", shown="1 when cut",
                                      help="Seconds of fade-out at the end of the soundtrack.")
    cluster: str | None = option(None, "--cluster", kind=str, metavar="ADDRESS",
                                 help="Render on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786), "
                                      "split into segments (needs the cluster extra; H.264/H.265 video or PNG frames).")
    workers: int | None = option(None, "--workers", kind=int, metavar="N",
                                 help="Render on a Dask cluster of N processes started on this machine.")
    shared_input: bool = option(False, "--shared-input",
                                help="With --cluster: the workers read the layers (as placed and blended) from a folder "
                                     "made inside the input folder, which every machine must see, instead of receiving "
                                     "them over the network.")
    segment_seconds: float = option(4.0, "--segment-seconds", kind=float, metavar="S",
                                    help="With --cluster or --workers: the length of each rendered segment.")
    draft: bool = option(False, "--draft", help="Quick preview: half size, veryfast preset.")
    overwrite: bool = option(False, "--overwrite",
                             help="Replace the frames in an existing frames folder (a video file is always "
                                  "replaced).")
    auto_sort: bool = option(False, "-as", "--auto-sort", legacy=("--AutoSort",),
                             help="Order the images automatically (file names do not matter); strays are left "
                                  "out and named.")
    series: int | None = option(None, "--series", kind=int, metavar="N",
                                help="With --auto-sort: of several separate series in the folder, the one to render "
                                     "(1: the longest; `everzoom sort` lists them).")
    align: bool = option(True, "--no-align", negate=True,
                         help="Do not measure the placements: assume perfect centring and the zoom factor.")
    local_align: bool = option(True, "--no-local-align", negate=True,
                               help="Do not warp the zone of each outer image around the inner one to meet it "
                                    "(for outpainters that shift or bend the picture a little as they zoom out).")
    color_match: bool = option(True, "--no-color-match", negate=True,
                               help="Keep each image's own colours in its border band.")
    force: bool = option(False, "--force", help="Render even when some image pairs do not match.")

    @classmethod
    def from_kwargs(cls, **kwargs) -> "RenderOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown render option(s): {', '.join(unknown)}")
        opts = cls(**kwargs)
        opts.validate()
        return opts

    def validate(self) -> None:
        zf = self.zoom_factor
        if zf is not None and not (isinstance(zf, (int, float)) and math.isfinite(zf) and zf > 1):
            raise EverzoomError(f"--zoom-factor must be a number greater than 1, not {zf}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise EverzoomError(f"--steps must be a whole number of at least 1, not {self.steps}")
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise EverzoomError(f"--duration must be a positive number of seconds, not {self.duration}")
        self.crop = parse_crop(self.crop)
        if self.seam_width is not None and not (math.isfinite(self.seam_width) and 0 <= self.seam_width <= 200):
            raise EverzoomError(f"--seam-width must be from 0 to 200 pixels, not {self.seam_width}")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise EverzoomError(f"--fps must be a positive number (at most 1000), not {self.fps}")
        if not (math.isfinite(self.hold) and 0 <= self.hold <= 3600):
            raise EverzoomError(f"--hold must be between 0 and 3600 seconds, not {self.hold}")
        if self.size is not None:
            check_size(self.size)
        if self.ease == "ease-in-out":
            self.ease = "cubic"
        if self.ease not in EASES:
            raise EverzoomError(f"--ease must be one of {', '.join(EASES)}, not {self.ease}")
        if self.mode not in MODES:
            raise EverzoomError(f"--mode must be one of {', '.join(MODES)}, not {self.mode}")
        if self.reverse:
            self.mode, self.reverse = {"in": "out", "in-out": "out-in"}.get(self.mode, self.mode), False
        if not (math.isfinite(self.ease_steps) and 0 <= self.ease_steps <= 1000):
            raise EverzoomError(f"--ease-steps must be a number of steps from 0 to 1000, not {self.ease_steps}")
        if not (math.isfinite(self.hold_each) and 0 <= self.hold_each <= 3600):
            raise EverzoomError(f"--hold-each must be between 0 and 3600 seconds, not {self.hold_each}")
        if self.workers is not None and not (isinstance(self.workers, int) and 1 <= self.workers <= 256):
            raise EverzoomError(f"--workers must be a whole number from 1 to 256, not {self.workers}")
        if self.cluster and self.workers:
            raise EverzoomError("--cluster and --workers: give one (a scheduler to use, or workers to start here)")
        if not (math.isfinite(self.segment_seconds) and 0 < self.segment_seconds <= 3600):
            raise EverzoomError(f"--segment-seconds must be a positive number of seconds, not {self.segment_seconds}")
        if not (isinstance(self.quality, int) and 0 <= self.quality <= 100):
            raise EverzoomError(f"--quality must be a whole number from 0 to 100, not {self.quality}")
        if self.crf is not None and not (isinstance(self.crf, int) and 0 <= self.crf <= 63):
            raise EverzoomError(f"--crf must be a whole number from 0 to 63, not {self.crf}")
        if not (math.isfinite(self.audio_start) and self.audio_start >= 0):
            raise EverzoomError(f"--audio-start must be a number of seconds of at least 0, not {self.audio_start}")
        if self.audio_fade is not None and not (math.isfinite(self.audio_fade) and self.audio_fade >= 0):
            raise EverzoomError(f"--audio-fade must be a number of seconds of at least 0, not {self.audio_fade}")
        if self.series is not None and not (isinstance(self.series, int) and self.series >= 1):
            raise EverzoomError(f"--series must be a whole number of at least 1, not {self.series}")
        if self.preset not in PRESETS:
            raise EverzoomError(f"--preset must be one of {', '.join(PRESETS)}, not {self.preset}")


def parse_crop(value) -> float | None:
    """'auto' (or None) -> None; else a trusted fraction in (0, 1]."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    try:
        crop = float(value)
    except (TypeError, ValueError):
        raise EverzoomError(f"--crop must be auto or a fraction in (0, 1], not {value!r}") from None
    if not (math.isfinite(crop) and 0 < crop <= 1):
        raise EverzoomError(f"--crop must be auto or a fraction in (0, 1], not {value}")
    return crop


def cli_fields():
    """(field, its command-line metadata) for every render option, in definition order."""
    return [(f, f.metadata["cli"]) for f in fields(RenderOptions)]


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """A plausible output size (video codecs also need even sides: formats.VideoSettings.check_size)."""
    w, h = size
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise EverzoomError(f"--size {w}x{h} is out of range: each side must be {MIN_SIDE} to {MAX_SIDE} pixels")
    return w, h


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080), checked."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise EverzoomError(f"--size must look like 1920x1080, not {text!r}") from None
    return check_size((w, h))


def options_table() -> str:
    """The README's table of render options, made from their one definition (tests/test_docs.py
    checks that the README holds exactly this)."""
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]
    for f, meta in cli_fields():
        metavar = (meta["metavar"] or "").replace("|", "\\|")
        flags = ", ".join(f"`{flag}`" + (f" {metavar}" if metavar and i == len(meta["flags"]) - 1 else "")
                          for i, flag in enumerate(meta["flags"]))
        if isinstance(f.default, bool):
            default = "off"  # the flag; a --no-x flag turns off what is on by default
        else:
            default = meta["shown"] if meta["shown"] is not None else ("" if f.default is None else f"{f.default:g}"
                                                                       if isinstance(f.default, float) else str(f.default))
        rows.append(f"| {flags} | {default} | {meta['help']} |")
    return "\n".join(rows)
