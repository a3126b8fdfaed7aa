"""Output formats, chosen by the output's extension: the codec, its quality setting and the
colour conversion, as ffmpeg arguments.

Colours: frames are RGB; video codecs store BT.709 limited-range YUV (what players assume for
HD, and what the stream's tags then say explicitly: primaries, transfer and matrix), converted
with swscale's accurate rounding and full chroma interpolation. GIF and WebP store RGB.

One quality knob, `quality` (0-100, higher is better), maps to each codec's own scale (see
QUALITY); `crf` overrides it for the codecs that have one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import EverzoomError

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
TO_YUV = ("scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,"
          "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv")
TO_YUV420 = ["-vf", f"{TO_YUV},format=yuv420p", *BT709]
GIF_MAX_FPS = 50.0  # GIF's time base is 1/100 s: faster frames are not shown faster
# GIF: a palette of its own for each frame (one palette for a whole zoom has no colours at the
# extremes of its innermost and outermost frames, which shifts their mean colour), mapped with
# error-diffusion dither; frame by frame, so nothing is held back
GIF_PALETTES = ("split[frame][stats];[stats]palettegen=max_colors=256:stats_mode=single:reserve_transparent=0[palette];"
                "[frame][palette]paletteuse=new=1:dither=sierra2_4a")

# extension -> (ffmpeg muxer, codecs it takes, default codec)
CONTAINERS = {
    ".mp4": ("mp4", ("h264", "h265", "av1"), "h264"),
    ".mkv": ("matroska", ("h264", "h265", "av1", "vp9"), "h264"),
    ".webm": ("webm", ("vp9", "av1"), "vp9"),
    ".mov": ("mov", ("prores", "h264", "h265"), "prores"),
    ".gif": ("gif", ("gif",), "gif"),
    ".webp": ("webp", ("webp",), "webp"),
}
CODECS = ("h264", "h265", "av1", "vp9", "prores", "gif", "webp")


def crf_of(codec: str, quality: int) -> int:
    """The codec's constant-quality value for `quality` 0-100 (80, the default, gives x264's
    CRF 18, visually lossless for this material)."""
    return {"h264": round(50 - 0.4 * quality), "h265": round(54 - 0.4 * quality),
            "av1": round(70 - 0.5 * quality), "vp9": round(71 - 0.5 * quality)}[codec]


QUALITY = ("quality 0-100 maps to: H.264 CRF 50-0.4q (80 -> 18), H.265 CRF 54-0.4q (80 -> 22), "
           "AV1 CRF 70-0.5q (80 -> 30), VP9 CRF 71-0.5q (80 -> 31), WebP quality q; "
           "ProRes 422 HQ and GIF have no quality setting")
_SPEED = {"ultrafast": 0, "superfast": 1, "veryfast": 2, "faster": 3, "fast": 4, "medium": 5, "slow": 6,
          "slower": 7, "veryslow": 8}


def output_kind(path: str | Path) -> str:
    """'frames' for a folder: a name without extension, one ending in a path separator, or an
    existing folder whose name has no video extension (`frames.v2`); else 'video' (an extension
    in CONTAINERS)."""
    text = str(path)
    suffix = Path(path).suffix.lower()
    if suffix == "" or text.endswith(("/", os.sep)) or (suffix not in CONTAINERS and Path(path).is_dir()):
        return "frames"
    if suffix in CONTAINERS:
        return "video"
    raise EverzoomError(f"output {path}: unsupported extension {suffix} (use {', '.join(CONTAINERS)}; for PNG "
                        f"frames, a folder name without extension or ending in {os.sep})")


@dataclass
class VideoSettings:
    """How a video file is encoded."""

    container: str = ".mp4"
    codec: str | None = None     # None: the container's default
    quality: int = 80
    crf: int | None = None       # overrides quality for h264/h265/av1/vp9
    preset: str = "medium"       # speed/size trade-off (x264's names, mapped for the others)
    loop: bool = True            # GIF/WebP: loop forever

    def __post_init__(self) -> None:
        self.container = self.container.lower()
        if self.container not in CONTAINERS:
            output_kind(f"x{self.container}")
        muxer, codecs, default = CONTAINERS[self.container]
        self.codec = self.codec or default
        if self.codec not in codecs:
            raise EverzoomError(f"--codec {self.codec} cannot go into a {self.container} file "
                                f"(it takes {', '.join(codecs)})")

    @property
    def muxer(self) -> str:
        return CONTAINERS[self.container][0]

    @property
    def yuv(self) -> bool:
        return self.codec not in ("gif", "webp")

    def value(self) -> int:
        return self.crf if self.crf is not None else crf_of(self.codec, self.quality)

    def output_args(self) -> list[str]:
        """ffmpeg output arguments (after the raw RGB input)."""
        return [*self.codec_args(), *self.container_args(), "-f", self.muxer]

    def container_args(self) -> list[str]:
        """What the finished file needs from its muxer: mp4 and mov put their index first, so that
        playback can start before the whole file has arrived."""
        return ["-movflags", "+faststart"] if self.container in (".mp4", ".mov") else []

    def codec_args(self) -> list[str]:
        """The encoder, its quality and the colour conversion."""
        speed = _SPEED[self.preset]
        if self.codec == "h264":
            args = ["-c:v", "libx264", "-crf", str(self.value()), "-preset", self.preset, *TO_YUV420]
        elif self.codec == "h265":
            args = ["-c:v", "libx265", "-crf", str(self.value()), "-preset", self.preset, "-tag:v", "hvc1",
                    "-x265-params", "log-level=error", *TO_YUV420]
        elif self.codec == "av1":
            args = ["-c:v", "libsvtav1", "-crf", str(self.value()), "-preset", str(12 - speed),
                    "-svtav1-params", "tune=0", *TO_YUV420]
        elif self.codec == "vp9":
            args = ["-c:v", "libvpx-vp9", "-crf", str(self.value()), "-b:v", "0", "-deadline", "good",
                    "-cpu-used", str(max(0, 5 - speed // 2)), "-row-mt", "1", *TO_YUV420]
        elif self.codec == "prores":
            args = ["-c:v", "prores_ks", "-profile:v", "3", "-vendor", "apl0",
                    "-vf", f"{TO_YUV},format=yuv422p10le", *BT709]
        elif self.codec == "webp":
            args = ["-c:v", "libwebp_anim", "-quality", str(self.quality), "-pix_fmt", "bgra",
                    "-loop", "0" if self.loop else "1"]
        else:
            args = ["-vf", GIF_PALETTES, "-loop", "0" if self.loop else "-1"]
        return args

    def check_size(self, width: int, height: int) -> None:
        """4:2:0 and 4:2:2 video needs even sides; PNG frames, GIF and WebP take any size."""
        if self.yuv and (width % 2 or height % 2):
            raise EverzoomError(f"--size {width}x{height}: {self.codec} video needs even width and height "
                                "(PNG frames, GIF and WebP take any size)")

