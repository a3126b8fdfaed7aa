"""Command line: `everzoom` (click subcommands) and the original `infinite_zoom.py` flags.

The CLI only parses options and calls the library; every error the user can cause becomes one
line on stderr and a non-zero exit.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click
from tqdm import tqdm

from . import api
from .errors import EverzoomError
from .images import write_image
from .options import parse_size
from .path import EASINGS
from .report import report_image
from .sinks import check_output
from .sinks import PRESETS

log = logging.getLogger("everzoom")


class _TqdmHandler(logging.Handler):
    """Log lines that do not tear progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "warning: " if record.levelno >= logging.WARNING else ""
        tqdm.write(f"everzoom: {prefix}{record.getMessage()}", file=sys.stderr)


def _setup_logging(quiet: bool) -> None:
    log.handlers[:] = [_TqdmHandler()]
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


class Bar:
    """tqdm progress bars on stderr as the library's progress callback (stage, done, total), one
    bar per stage; silent with --quiet. A bar appears with its stage's first report, so a run
    that fails early prints only its error line."""

    UNITS = {"render": "frame", "register": "pair", "sort": "image", "generate": "image"}

    def __init__(self, quiet: bool):
        self.quiet, self.stage, self.bar = quiet, None, None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(desc=stage, unit=self.UNITS.get(stage, "step"), total=total, file=sys.stderr,
                            disable=self.quiet, dynamic_ncols=True, leave=False)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _size(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_size(value)
    except EverzoomError as exc:
        raise click.BadParameter(str(exc).removeprefix("--size "), ctx, param) from None


RENDER_OPTIONS = [
    click.option("-zf", "--zoom-factor", type=float, default=None,
                 help="Zoom factor between consecutive images (Midjourney '1.5x' is really 4/3). "
                      "Default: measured per pair (1.1 to 4.5); given, it is the prior the measurement "
                      "refines (used as is with --no-align, where the default is 2)."),
    click.option("-zs", "--steps", type=int, default=100, show_default=True,
                 help="Frames per zoom-factor step."),
    click.option("--duration", type=float, default=None,
                 help="Seconds of zoom (instead of --steps); holds come on top."),
    click.option("-zc", "--crop", type=float, default=0.8, show_default=True,
                 help="Fraction of each inner image that is trusted; the border band outside it "
                      "fades into the image behind (1 = trust it all)."),
    click.option("-fps", "--fps", type=float, default=30.0, show_default=True, help="Frames per second."),
    click.option("-rev", "--reverse", is_flag=True, help="Zoom out (start at the innermost image)."),
    click.option("-d", "--hold", type=float, default=0.0, show_default=True,
                 help="Seconds to hold still at the start and at the end."),
    click.option("-dbg", "--debug", is_flag=True,
                 help="Draw layer rectangles and centres, frame index, zoom level and drawn layers."),
    click.option("--size", callback=_size, default=None, metavar="WxH",
                 help="Output size, even numbers (default: the images' size). Other aspect ratios "
                      "show a centre crop."),
    click.option("--easing", type=click.Choice(EASINGS), default="none", show_default=True,
                 help="ease-in-out: start and stop gently."),
    click.option("--crf", type=int, default=18, show_default=True, help="H.264 quality (lower = better)."),
    click.option("--preset", type=click.Choice(PRESETS), default=None,
                 help="H.264 speed/size preset. Default: medium (veryfast with --draft)."),
    click.option("--draft", is_flag=True, help="Quick preview: half size, fast preset."),
    click.option("--overwrite", is_flag=True, help="Replace the frames in an existing frames folder."),
    click.option("--no-align", "align", flag_value=False, default=True,
                 help="Do not measure the placements: assume perfect centring and the zoom factor."),
    click.option("--no-color-match", "color_match", flag_value=False, default=True,
                 help="Keep each image's colours at its border (no blending towards the image behind)."),
    click.option("--force", is_flag=True, help="Render even when some image pairs do not match."),
    click.option("-as", "--auto-sort", is_flag=True,
                 help="Order the images automatically (file names do not matter); strays are left out."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes (warnings still show)."),
]


def render_options(func):
    for option in reversed(RENDER_OPTIONS):
        func = option(func)
    return func


def _run_render(source: Path, output: Path, quiet: bool, **opts) -> None:
    _setup_logging(quiet)
    opts = {k: v for k, v in opts.items() if v is not None}
    with Bar(quiet) as bar:
        result = api.render(source, output, progress=bar, **opts)
    w, h = result.size
    log.info("wrote %s: %d frames, %dx%d, %g fps (%.1f s)", result.output, result.frames, w, h,
             result.fps, result.frames / result.fps)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="everzoom")
def cli() -> None:
    """everzoom: smooth infinite-zoom videos from AI-outpainted image series."""


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Video file (.mp4, .mkv, .mov) or, without extension, a folder of PNG frames.")
@render_options
def render(folder: Path, output: Path, quiet: bool, **opts) -> None:
    """Render the images in FOLDER (innermost first, natural order) into a zoom video.

    Image 0 is the innermost; each next image shows the same scene zoomed out by the zoom
    factor. The zoom runs from the outermost image in to the innermost (--reverse: out).
    """
    _run_render(folder, output, quiet, **opts)


@cli.command(name="sort")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--copy-to", type=click.Path(path_type=Path), default=None,
              help="Write the images in order to this folder as 000.png, 001.png ... (originals stay as they are).")
@click.option("--json", "as_json", is_flag=True, help="Print the order as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes.")
def sort_command(folder: Path, copy_to: Path | None, as_json: bool, quiet: bool) -> None:
    """Put an unordered FOLDER of zoom-out images in order, innermost first.

    No zoom factor is needed. Images that do not belong (an unrelated picture, a duplicate, a
    second variant of the same step) are left out and named, with the reason. Prints every
    link with its score (correlation) and zoom; ORB's independent zoom is shown where it found
    enough keypoints.
    """
    _setup_logging(quiet)
    with Bar(quiet) as bar:
        images, order = api.sort(folder, progress=bar)
    if copy_to is not None:
        if copy_to.resolve() == folder.resolve():
            raise EverzoomError(f"--copy-to {copy_to} is the input folder: choose another, originals are never renamed")
        if copy_to.exists() and any(copy_to.iterdir()):
            raise EverzoomError(f"--copy-to folder {copy_to} is not empty")
        copy_to.mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(images):
            write_image(copy_to / f"{k:03d}.png", image)
        log.info("wrote %d images to %s", len(images), copy_to)
    if as_json:
        click.echo(json.dumps(order.as_dict(), indent=2))
        return
    click.echo(f"0. {order.order[0]}")
    for k, link in enumerate(order.links, 1):
        orb = f", ORB {link.orb_zoom:.3f} ({link.orb_inliers} inliers)" if link.orb_zoom else ""
        click.echo(f"{k}. {link.outer}  (contains {link.inner}: zoom {link.zoom:.3f}, score {link.score:.2f}{orb})")
    for name, why in order.left_out.items():
        click.echo(f"left out {name}: {why}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the report picture here (.png or .jpg).")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON on stdout.")
@click.option("-zf", "--zoom-factor", type=float, default=None, help="Expected zoom factor (default: measured).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes.")
def inspect(folder: Path, output: Path | None, as_json: bool, zoom_factor: float | None, quiet: bool) -> None:
    """Measure how each image in FOLDER sits inside the next one and show it.

    For every consecutive pair: the measured zoom factor, the offset of the inner image's centre
    from the outer one's (in outer pixels) and the confidence (correlation after alignment);
    the report picture draws the inner image's rectangle on the outer one, red where it does
    not match. Exits non-zero when a pair does not match.
    """
    _setup_logging(quiet)
    with Bar(quiet) as bar:
        images, names, fits = api.inspect(folder, zoom_factor=zoom_factor, progress=bar)
    if output is not None:
        write_image(output, report_image(images, fits))
        log.info("wrote %s", output)
    if as_json:
        click.echo(json.dumps({"images": names, "pairs": [f.as_dict() for f in fits]}, indent=2))
    else:
        for f in fits:
            click.echo(f"{f.inner} in {f.outer}: zoom {f.zoom:.4f}, offset {f.offset[0]:+.2f} {f.offset[1]:+.2f} px, "
                       f"confidence {f.confidence:.3f}{'' if f.ok else '  DOES NOT MATCH'}")
    if not all(f.ok for f in fits):
        raise click.exceptions.Exit(1)


GENERATE_OPTIONS = [
    click.option("--images", type=int, default=12, show_default=True, help="How many images to make."),
    click.option("--zoom-factor", type=float, default=2.0, show_default=True,
                 help="Zoom factor from one image to the next (any value > 1; the original used 4)."),
    click.option("--size", type=int, default=512, show_default=True, help="Image side in pixels, a multiple of 8."),
    click.option("--steps", type=int, default=30, show_default=True, help="Inference steps per image."),
    click.option("--guidance", type=float, default=7.5, show_default=True, help="Classifier-free guidance scale."),
    click.option("--negative-prompt", default="", help="What the images should not show."),
    click.option("--seed", type=int, default=None,
                 help="Seed of the run; each image's seed derives from it (all are recorded). Default: random."),
    click.option("--model", default=None, help="Text-to-image model id or local folder (default: SD 2.1 base)."),
    click.option("--inpaint-model", default=None, help="Inpainting model id or local folder (default: SD 2 inpainting)."),
    click.option("--device", default="auto", show_default=True, help="cuda, mps or cpu; auto picks in that order."),
    click.option("--dtype", type=click.Choice(["auto", "fp16", "bf16", "fp32"]), default="auto", show_default=True,
                 help="auto: fp16 on cuda, fp32 elsewhere."),
    click.option("--overlap", type=int, default=16, show_default=True,
                 help="Pixels of the pasted previous image the inpainting may repaint, for a seamless border."),
    click.option("--mask-blur", type=int, default=8, show_default=True, help="Softness of the inpainting mask."),
    click.option("--resume", is_flag=True, help="Continue an interrupted run: nothing already made is redone."),
    click.option("--start-image", type=click.Path(path_type=Path), default=None,
                 help="Begin from this picture instead of text-to-image."),
    click.option("--attention-slicing", is_flag=True, help="Save GPU memory (slower)."),
    click.option("--cpu-offload", is_flag=True, help="Keep model parts on the CPU until needed (saves GPU memory)."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes."),
]


def generate_options(func):
    for option in reversed(GENERATE_OPTIONS):
        func = option(func)
    return func


def _generate(prompts: Path, folder: Path, quiet: bool, opts: dict) -> Path:
    from .generate import GenerateOptions, generate as run

    opts = {k: v for k, v in opts.items() if v is not None}
    if "start_image" in opts:
        opts["start_image"] = str(opts["start_image"])
    with Bar(quiet) as bar:
        return run(prompts, folder, GenerateOptions(**opts), progress=bar, quiet=quiet)


PROMPTS_HELP = """PROMPTS is a text file, one prompt per line in zoom-out order (image 0 is the innermost); blank
lines and # comments are ignored. With more images than prompts, each prompt holds for an equal
share of the images, in order (12 images, 3 prompts: 4 each); a line "N: prompt" pins that
prompt to start at image N."""


@cli.command(help=f"""Generate an outpainted zoom-out series with Stable Diffusion (needs pip install -e .[gen]).

Image 0 comes from text-to-image (or --start-image); each next one is the previous image shrunk
by the zoom factor, pasted at the centre of a noise-filled canvas and inpainted around it, then
the exact shrunk image is pasted back (feathered across --overlap) so the centre never drifts.
Writes 000.png, 001.png ... and everzoom.json (prompts, seeds, models, settings) into OUTPUT.

{PROMPTS_HELP}""")
@click.argument("prompts", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder for the images.")
@generate_options
def generate(prompts: Path, output: Path, quiet: bool, **opts) -> None:
    _setup_logging(quiet)
    folder = _generate(prompts, output, quiet, opts)
    log.info("wrote the series to %s", folder)


@cli.command(help=f"""Generate a series (like `generate`) and render it into a zoom video in one go.

The images go to --images-dir (default: a folder named after the video, beside it).

{PROMPTS_HELP}""")
@click.argument("prompts", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The video (.mp4, .mkv, .mov).")
@click.option("--images-dir", type=click.Path(path_type=Path), default=None, help="Where the images go.")
@click.option("--frames-per-step", type=int, default=60, show_default=True, help="Video frames per zoom step.")
@click.option("--fps", type=float, default=30.0, show_default=True, help="Video frames per second.")
@click.option("--hold", type=float, default=1.0, show_default=True, help="Seconds held still at each end.")
@click.option("--reverse", is_flag=True, help="Zoom out instead of in.")
@generate_options
def make(prompts: Path, output: Path, images_dir: Path | None, frames_per_step: int, fps: float, hold: float,
         reverse: bool, quiet: bool, **opts) -> None:
    _setup_logging(quiet)
    check_output(output)
    folder = _generate(prompts, images_dir or output.with_name(output.stem + "_images"), quiet, opts)
    _run_render(folder, output, quiet, steps=frames_per_step, fps=fps, hold=hold, reverse=reverse)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-i", "--input", "folder", type=click.Path(path_type=Path), required=True,
              help="Folder of images, innermost first.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Video file (.mp4, .mkv, .mov) or, without extension, a folder of PNG frames.")
@render_options
def legacy(folder: Path, output: Path, quiet: bool, **opts) -> None:
    """The original infinite_zoom.py command line, rendered by everzoom."""
    _run_render(folder, output, quiet, **opts)


def _main(command: click.Command, argv, prog_name: str) -> None:
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"{prog_name}: error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except EverzoomError as exc:
        click.echo(f"{prog_name}: error: {exc}", err=True)
        code = 1
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo(f"{prog_name}: interrupted; nothing was written", err=True)
        code = 130
    sys.exit(code or 0)


main = functools.partial(_main, cli, None, "everzoom")
legacy_main = functools.partial(_main, legacy, None, "infinite_zoom.py")
