"""Command line: `everzoom` (click subcommands) and the original `infinite_zoom.py` flags.

The CLI only parses options and calls the library; every option comes from its one definition
(options.RenderOptions, generate.GenerateOptions). Every error the user can cause becomes one
line on stderr and a non-zero exit; Ctrl-C says what was kept.
"""
from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from dataclasses import MISSING
from pathlib import Path

import click
from tqdm import tqdm

from . import api
from .errors import EverzoomError
from .generate import GenerateOptions, Progress, option_fields
from .images import IMAGE_SUFFIXES, write_image
from .options import cli_fields, parse_size
from .report import report_image
from .sinks import check_new_folder, check_output, check_parent, creating

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

    UNITS = {"render": "frame", "register": "pair", "align": "pair", "blend": "layer", "sort": "image", "generate": "image"}

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


# What an interrupted command leaves behind, said when Ctrl-C stops it (set by the command).
_on_interrupt = {"note": "nothing was written"}


def _size(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_size(value)
    except EverzoomError as exc:
        raise click.BadParameter(str(exc).removeprefix("--size "), ctx, param) from None


def _click_option(f, meta: dict, legacy: bool = False):
    """The click option of one dataclass field, from its metadata (see options.option)."""
    flags = [*meta["flags"], *(meta["legacy"] if legacy else ())]
    default = meta["legacy_default"] if legacy and meta["legacy_default"] is not MISSING else None
    shown = meta["shown"] if meta["shown"] is not None else (f.default if f.default not in (None, "") else None)
    help_text = meta["help"] + (f"  [default: {shown}]" if shown is not None and not isinstance(f.default, bool) else "")
    if legacy and default is not None:
        help_text = meta["help"] + f"  [default: {default}]"
    common = dict(default=default, help=help_text, metavar=meta["metavar"], show_default=False)
    if meta["negate"]:
        return click.option(*flags, f.name, flag_value=False, **{k: v for k, v in common.items() if k != "metavar"})
    if isinstance(f.default, bool):
        return click.option(*flags, f.name, is_flag=True, **{k: v for k, v in common.items() if k != "metavar"})
    if f.name == "size":
        return click.option(*flags, f.name, callback=_size, **common)
    kind = click.Choice(meta["choices"]) if meta["choices"] else meta["kind"]
    return click.option(*flags, f.name, type=kind, **common)


def render_options(skip: tuple[str, ...] = (), legacy: bool = False):
    """Decorator adding every render option (but `skip`) to a command."""
    def decorate(func):
        for f, meta in reversed(cli_fields()):
            if f.name not in skip:
                func = _click_option(f, meta, legacy)(func)
        return click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes (warnings still show).")(func)
    return decorate


def generate_options(old_spellings: bool):
    """Decorator adding every generate option (and, for `generate`, the old spellings of the two
    that `make` now leaves to the render options, and the retired --mask-blur)."""
    def decorate(func):
        for f, meta in reversed(option_fields()):
            func = _click_option(f, meta)(func)
        if old_spellings:
            func = click.option("--size", "old_size", type=int, default=None, hidden=True)(func)
            func = click.option("--steps", "old_steps", type=int, default=None, hidden=True)(func)
        return click.option("--mask-blur", "old_mask_blur", type=int, default=None, hidden=True)(func)
    return decorate


def _given(opts: dict) -> dict:
    return {k: v for k, v in opts.items() if v is not None}


def _run_render(source: Path, output: str, quiet: bool, **opts) -> None:
    with Bar(quiet) as bar:
        result = api.render(source, output, progress=bar, **_given(opts))
    w, h = result.size
    log.info("wrote %s: %d frames, %dx%d, %g fps (%.1f s)", result.output, result.frames, w, h,
             result.fps, result.frames / result.fps)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="everzoom")
def cli() -> None:
    """everzoom: smooth infinite-zoom videos from AI-outpainted image series."""


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(), required=True,
              help="Video file (.mp4, .mkv, .webm, .mov, .gif, .webp) or a folder of PNG frames (a name without "
                   "extension, or ending in /).")
@render_options()
def render(folder: Path, output: str, quiet: bool, **opts) -> None:
    """Render the images in FOLDER (innermost first, natural order) into a zoom video.

    Image 0 is the innermost; each next image shows the same scene zoomed out by the zoom
    factor. The zoom runs from the outermost image in to the innermost (--reverse: out).
    """
    _setup_logging(quiet)
    _run_render(folder, output, quiet, **opts)


WEB_SKIPS = ("codec", "crf", "preset", "audio", "audio_start", "audio_fade", "overwrite", "draft", "debug", "hold",
             "size")  # video-only: the page draws at the screen's own size and speed


def web_options(func):
    """The page's own options (beside the render options that place the layers and make the path)."""
    func = click.option("--max-side", type=int, default=None, metavar="PX",
                        help="Cap the embedded layers' longer side (default: as they are).")(func)
    return click.option("--lossless", is_flag=True, default=False,
                        help="Embed the layers as lossless WebP (default: lossy, --quality).")(func)


def _write_web(source: Path, output: Path, quiet: bool, **opts) -> None:
    with Bar(quiet) as bar:
        size = api.web(source, output, progress=bar, **_given(opts))
    log.info("wrote %s (%.1f MB)", output, size / 1e6)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The page (.html).")
@web_options
@render_options(skip=WEB_SKIPS)
def web(folder: Path, output: Path, quiet: bool, **opts) -> None:
    """Export the images in FOLDER as one self-contained HTML page that zooms in the browser.

    The same input handling as render (sorting, registration, local alignment, blend). The page
    plays the render's camera path (default: a seamless in-out loop) at the screen's own
    resolution; it needs no network and opens from disk. Wheel or pinch to zoom, space to pause,
    arrows or +/- to step, r to reverse, Home/End for the ends.
    """
    _setup_logging(quiet)
    if opts.get("mode") is None:  # the page's default is the in-out loop (api.web)
        del opts["mode"], opts["loop"]
    _write_web(folder, output, quiet, **opts)


@cli.command(name="sort")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--copy-to", type=click.Path(path_type=Path), default=None,
              help="Write the images in order to this folder as 000.png, 001.png ... (originals stay as they are).")
@click.option("--series", type=int, default=None, metavar="N",
              help="Of several series in the folder, the one to copy (1: the longest; all are listed).")
@click.option("--force", is_flag=True, help="Accept an order with weak links or variants nothing tells apart.")
@click.option("--json", "as_json", is_flag=True, help="Print the chains as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes.")
def sort_command(folder: Path, copy_to: Path | None, series: int | None, force: bool, as_json: bool,
                 quiet: bool) -> None:
    """Put an unordered FOLDER of zoom-out images in order, innermost first.

    No zoom factor is needed. Every link of the order is confirmed by the registration that
    rendering uses (its zoom factor and confidence are printed). Images that do not belong (an
    unrelated picture, a duplicate, a second variant of the same step) are left out and named,
    with the reason. A folder of several separate series lists each, longest first, and exits
    non-zero unless --series picks one; a weak link or two variants nothing tells apart make it
    exit non-zero unless --force. A series whose outermost image sits inside its innermost one
    closes into a loop, and says so.
    """
    _setup_logging(quiet)
    if copy_to is not None:
        check_new_folder(copy_to, "--copy-to", inside=folder)
    with Bar(quiet) as bar:
        sorting = api.sort(folder, progress=bar)
    if as_json:
        click.echo(json.dumps(sorting.as_dict(), indent=2))
    else:
        _print_sorting(sorting)
    chain = sorting.choose(series, force)
    if copy_to is not None:
        images = sorting.pictures(chain)
        with creating(copy_to):
            for k, image in enumerate(images):
                _on_interrupt["note"] = f"{k} of {len(images)} images were copied to {copy_to} in order"
                write_image(copy_to / f"{k:03d}.png", image)
        log.info("wrote %d images to %s", len(images), copy_to)


def _print_sorting(sorting) -> None:
    """The chains (each link with its registration), what was left out, what is in doubt."""
    for number, chain in enumerate(sorting.chains, 1):
        if len(sorting.chains) > 1:
            click.echo(f"series {number} of {len(sorting.chains)} ({len(chain.order)} images):")
        click.echo(f"0. {chain.order[0]}")
        for k, link in enumerate(chain.links, 1):
            click.echo(f"{k}. {link.outer}  (contains {link.inner}: zoom {link.zoom:.3f}, "
                       f"confidence {link.confidence:.2f}{', weak' if link.weak else ''})")
        if chain.loop:
            click.echo(f"closes into a loop: {chain.loop.inner} sits inside {chain.loop.outer} "
                       f"(zoom {chain.loop.zoom:.3f}, confidence {chain.loop.confidence:.2f})")
    for name, why in sorting.left_out.items():
        click.echo(f"left out {name}: {why}")
    for problem in sorting.problems:
        click.echo(f"not proven: {problem}")
    for note in sorting.notes:
        click.echo(f"note: {note}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the report picture here (.png, .jpg, .webp ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON on stdout.")
@click.option("-zf", "--zoom-factor", type=float, default=None, help="Expected zoom factor (default: measured).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes.")
def inspect(folder: Path, output: Path | None, as_json: bool, zoom_factor: float | None, quiet: bool) -> None:
    """Measure how each image in FOLDER sits inside the next one and show it.

    For every consecutive pair: the measured zoom factor, the offset of the inner image's centre
    from the outer one's (in outer pixels) and the confidence: the correlation of the two
    images' fine detail after alignment (1: the same detail; near 0: unrelated), with how many
    independent samples of detail it rests on. When every pair matches, also how the inner
    image meets the outer one, per side: how deep its detail disagrees (there the fine detail
    crosses over --seam-width frame pixels) and how wide its colours are eased; and the local
    alignment: the misalignment along the inner image's border before and after the outer
    image is warped to meet it (p90, outer pixels) and the largest shift. The report
    picture draws the inner image's rectangle on the outer one, red where it does not match,
    its disagreeing sides orange, and the local shift field as arrows (magnified 10x). Exits non-zero when a pair does not match.
    """
    _setup_logging(quiet)
    if output is not None:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise EverzoomError(f"-o {output}: the report is a picture; use one of {', '.join(IMAGE_SUFFIXES)}")
        check_parent(output)
    with Bar(quiet) as bar:
        found = api.inspect(folder, zoom_factor=zoom_factor, progress=bar)
    if output is not None:
        with creating(output.parent):
            write_image(output, report_image(found))
        log.info("wrote %s", output)
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
    else:
        for f in found.fits:
            click.echo(f"{f.inner} in {f.outer}: zoom {f.zoom:.4f}, offset {f.offset[0]:+.2f} {f.offset[1]:+.2f} px, "
                       f"confidence {f.confidence:.3f}{'' if f.ok else '  DOES NOT MATCH: ' + f.problem}")
        if found.loop:
            f = found.loop
            click.echo(f"closes into a loop: {f.inner} in {f.outer}: zoom {f.zoom:.4f}, offset {f.offset[0]:+.2f} "
                       f"{f.offset[1]:+.2f} px, confidence {f.confidence:.3f}")
    if not found.ok:
        raise click.exceptions.Exit(1)


def _generate(prompts: Path, folder: Path, quiet: bool, opts: dict) -> Path:
    from .generate import generate as run

    opts = _given(opts)
    renamed = {"old_size": "image_size", "old_steps": "inference_steps"}
    for old, new in renamed.items():
        if old in opts:
            value = opts.pop(old)
            log.warning("--%s is now --%s (the render options --size and --steps mean the video's size and "
                        "frames per image)", old.removeprefix("old_"), new.replace("_", "-"))
            opts.setdefault(new, value)
    if opts.pop("old_mask_blur", None) is not None:
        log.warning("--mask-blur is ignored: the inpainting pipeline binarises its mask, and --overlap sets the "
                    "soft transition")
    if "start_image" in opts:
        opts["start_image"] = str(opts["start_image"])
    state = Progress()
    _on_interrupt["note"] = f"nothing was made in {folder}"

    def kept() -> str:
        if not state.done:
            return f"no image was finished in {folder}"
        return (f"images 000-{state.done - 1:03d} are kept in {state.folder}; "
                "continue with the same command and --resume")
    with Bar(quiet) as bar:
        try:
            return run(prompts, folder, GenerateOptions(**opts), progress=bar, quiet=quiet, state=state)
        except KeyboardInterrupt:
            _on_interrupt["note"] = kept()
            raise


MAKE_SKIPS = ("zoom_factor", "auto_sort")  # make's zoom factor is the generator's; its series is in order
PROMPTS_HELP = """PROMPTS is a text file, one prompt per line in zoom-out order (image 0 is the innermost); blank
lines and # comments are ignored. With more images than prompts, each prompt holds for an equal
share of the images, in order (12 images, 3 prompts: 4 each); a line "N: prompt" pins that
prompt to start at image N (the first prompt starts at image 0)."""


@cli.command(help=f"""Generate an outpainted zoom-out series with Stable Diffusion (needs pip install -e .[gen]).

Image 0 comes from text-to-image (or --start-image); each next one is the previous image shrunk
by the zoom factor, pasted exactly centred on a noise-filled canvas and inpainted around it,
then the exact shrunk image is pasted back (faded in across --overlap) so the centre never
drifts. Writes 000.png, 001.png ... and everzoom.json (prompts, seeds, models, settings, the
exact geometry, and device, dtype and versions of every run) into OUTPUT.

{PROMPTS_HELP}""")
@click.argument("prompts", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder for the images.")
@generate_options(old_spellings=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes.")
def generate(prompts: Path, output: Path, quiet: bool, **opts) -> None:
    _setup_logging(quiet)
    folder = _generate(prompts, output, quiet, opts)
    log.info("wrote the series to %s", folder)


@cli.command(help=f"""Generate a series (like `generate`) and render it (like `render`) in one go.

The images go to --images-dir (default: a folder named after the output, beside it); every
render option works as in `render` (the zoom factor is the generator's, and the series is
placed exactly as it was made).

{PROMPTS_HELP}""")
@click.argument("prompts", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(), required=True,
              help="The video (or a folder of PNG frames: no extension, or ending in /).")
@click.option("--images-dir", type=click.Path(path_type=Path), default=None, help="Where the images go.")
@click.option("--web", "web_page", type=click.Path(path_type=Path), default=None, metavar="FILE.html",
              help="Also export the interactive page (as `everzoom web`).")
@web_options
@generate_options(old_spellings=False)
@render_options(skip=MAKE_SKIPS)
def make(prompts: Path, output: str, images_dir: Path | None, web_page: Path | None, lossless: bool,
         max_side: int | None, quiet: bool, **opts) -> None:
    _setup_logging(quiet)
    render_names = {f.name for f, _ in cli_fields()} - set(MAKE_SKIPS)
    render_opts = {k: v for k, v in opts.items() if k in render_names}
    check_output(output, bool(render_opts.get("overwrite")))
    if web_page is not None and web_page.suffix.lower() not in (".html", ".htm"):
        raise EverzoomError(f"--web {web_page}: the page is an .html file")
    folder = _generate(prompts, images_dir or Path(output).with_name(Path(output).stem + "_images"), quiet,
                       {k: v for k, v in opts.items() if k not in render_names})
    _on_interrupt["note"] = f"the images are kept in {folder}; no video was written"
    _run_render(folder, output, quiet, **render_opts)
    if web_page is not None:
        page_opts = {k: v for k, v in render_opts.items() if k not in WEB_SKIPS}
        _write_web(folder, web_page, quiet, lossless=lossless, max_side=max_side, **page_opts)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-i", "--input", "--Input", "folder", type=click.Path(path_type=Path), required=True,
              help="Folder of images (either order: innermost or outermost first).")
@click.option("-o", "--output", "--Output", type=click.Path(), default="output.mp4",
              help="Video file or a folder of PNG frames (no extension, or ending in /).  [default: output.mp4]")
@render_options(legacy=True)
def legacy(folder: Path, output: str, quiet: bool, **opts) -> None:
    """The original infinite_zoom.py command line, rendered by everzoom."""
    _setup_logging(quiet)
    _run_render(folder, output, quiet, **opts)


def _main(command: click.Command, argv, prog_name: str) -> None:
    _on_interrupt["note"] = "nothing was written"
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"{prog_name}: error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except EverzoomError as exc:
        click.echo(f"{prog_name}: error: {exc}", err=True)
        code = 1
    except (KeyboardInterrupt, click.exceptions.Abort):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the exit short
        click.echo(f"{prog_name}: interrupted; {_on_interrupt['note']}", err=True)
        code = 130
    sys.exit(code or 0)


main = functools.partial(_main, cli, None, "everzoom")
legacy_main = functools.partial(_main, legacy, None, "infinite_zoom.py")
