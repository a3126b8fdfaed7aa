"""Generate the outpainted series with diffusers: text-to-image for image 0, then for each next
image shrink-paste-inpaint with that image's prompt (see outpaint.py for the geometry).

torch and diffusers are imported only here, when generation is asked for, so rendering stays
light. Images are written as 000.png, 001.png ... as each completes (temp file + rename), with
`everzoom.json` rewritten after every image: the settings, the prompt and seed of every image,
the exact geometry (step_factor: the real zoom between images; each image exactly centred in
the next), and per run the device, dtype and library versions. An interrupted run resumes at
the first missing image; a resume with other prompts, seed or settings is refused.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from importlib.metadata import version
from pathlib import Path

import numpy as np

from .errors import EverzoomError
from .images import read_image, write_image
from .options import option
from .outpaint import canvas_and_mask, check_overlap, default_overlap, paste_back, step_factor
from .prompts import read as read_prompts
from .prompts import schedule
from .sinks import no_interrupts

log = logging.getLogger("everzoom")

MANIFEST = "everzoom.json"
DEFAULT_MODEL = "stabilityai/stable-diffusion-2-1-base"
DEFAULT_INPAINT_MODEL = "stabilityai/stable-diffusion-2-inpainting"
DTYPES = ("auto", "fp16", "bf16", "fp32")
# the settings that shape the pictures: a resumed run must use the same
SETTINGS = ("model", "inpaint_model", "zoom_factor", "image_size", "inference_steps", "guidance", "negative_prompt",
            "overlap")


@dataclass
class GenerateOptions:
    images: int = option(12, "--images", kind=int, help="How many images to make.")
    zoom_factor: float = option(2.0, "--zoom-factor", kind=float,
                                help="Zoom factor from one image to the next (any value > 1; the real one is "
                                     "image size / pasted side, recorded in everzoom.json).")
    image_size: int = option(512, "--image-size", kind=int, help="Image side in pixels, a multiple of 8.")
    inference_steps: int = option(30, "--inference-steps", kind=int, help="Inference steps per image.")
    guidance: float = option(7.5, "--guidance", kind=float, help="Classifier-free guidance scale.")
    negative_prompt: str = option("", "--negative-prompt", help="What the images should not show.")
    seed: int | None = option(None, "--seed", kind=int, shown="random",
                              help="Seed of the run; each image's seed derives from it (all are recorded).")
    model: str = option(DEFAULT_MODEL, "--model", help="Text-to-image model id or local folder.")
    inpaint_model: str = option(DEFAULT_INPAINT_MODEL, "--inpaint-model", help="Inpainting model id or local folder.")
    device: str = option("auto", "--device", help="cuda (or cuda:N), mps or cpu; auto picks in that order.")
    dtype: str = option("auto", "--dtype", choices=DTYPES, help="auto: fp16 on a CUDA device, fp32 elsewhere.")
    overlap: int | None = option(None, "--overlap", kind=int, shown="1/16 of the pasted image",
                                 help="Pixels of the pasted previous image the inpainting may repaint and the "
                                      "paste-back fades across (at most a quarter of it).")
    resume: bool = option(False, "--resume", help="Continue an interrupted run: nothing already made is redone.")
    start_image: str | None = option(None, "--start-image", metavar="FILE",
                                     help="Begin from this picture instead of text-to-image.")
    attention_slicing: bool = option(False, "--attention-slicing", help="Save GPU memory (slower).")
    cpu_offload: bool = option(False, "--cpu-offload",
                               help="Keep model parts on the CPU until needed (saves GPU memory).")

    def validate(self) -> None:
        if self.images < 2:
            raise EverzoomError(f"--images must be at least 2, not {self.images}")
        if not (self.zoom_factor > 1 and np.isfinite(self.zoom_factor)):
            raise EverzoomError(f"--zoom-factor must be a number greater than 1, not {self.zoom_factor}")
        if self.image_size < 64 or self.image_size % 8:
            raise EverzoomError(f"--image-size must be a multiple of 8 (at least 64), not {self.image_size}")
        if round(self.image_size / self.zoom_factor) < 8:
            raise EverzoomError(f"--zoom-factor {self.zoom_factor} leaves less than 8 pixels of a "
                                f"{self.image_size} image")
        if self.inference_steps < 1:
            raise EverzoomError(f"--inference-steps must be at least 1, not {self.inference_steps}")
        if self.overlap is None:
            self.overlap = default_overlap(self.image_size, self.zoom_factor)
        check_overlap(self.overlap, self.image_size, self.zoom_factor)
        if self.dtype not in DTYPES:
            raise EverzoomError(f"--dtype must be one of {', '.join(DTYPES)}, not {self.dtype}")
        for name, value in (("--model", self.model), ("--inpaint-model", self.inpaint_model)):
            if _looks_local(value) and not Path(value).is_dir():
                raise EverzoomError(f"{name} folder {value} does not exist")
        if self.start_image and not Path(self.start_image).is_file():
            raise EverzoomError(f"--start-image {self.start_image} does not exist")


def _looks_local(model: str) -> bool:
    """A local folder, existing or meant: anything but a hub id ("name" or "owner/name")."""
    return Path(model).exists() or model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def _libraries():
    try:
        import diffusers
        import torch
    except ImportError:
        raise EverzoomError("generation needs torch and diffusers: install them with pip install -e .[gen]") from None
    return torch, diffusers


def is_cuda(device: str) -> bool:
    return device.split(":")[0] == "cuda"


def pick_device(torch, wanted: str) -> str:
    if wanted != "auto":
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    log.warning("no GPU found: generating on the CPU, which is very slow for real models")
    return "cpu"


def pick_dtype(torch, wanted: str, device: str):
    """fp16 on any CUDA device (cuda, cuda:1 ...) unless asked otherwise; fp32 elsewhere."""
    if wanted == "auto":
        return torch.float16 if is_cuda(device) else torch.float32
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[wanted]


def load_pipeline(kind: str, model: str, device: str, dtype, opts: GenerateOptions, quiet: bool):
    """A diffusers pipeline (AutoPipeline, by id or local folder), on `device`, with memory savers.
    With --cpu-offload on a CUDA device, the parts move to that device only while they run."""
    torch, diffusers = _libraries()
    cls = diffusers.AutoPipelineForText2Image if kind == "text2image" else diffusers.AutoPipelineForInpainting
    try:
        pipe = cls.from_pretrained(model, torch_dtype=dtype, safety_checker=None, requires_safety_checker=False)
    except (OSError, ValueError, EnvironmentError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EverzoomError(f"cannot load {kind} model {model}: {first}") from None
    if opts.cpu_offload and is_cuda(device):
        pipe.enable_model_cpu_offload(device=device)
    else:
        if opts.cpu_offload:
            log.warning("--cpu-offload needs a CUDA device; running on %s without it", device)
        pipe = pipe.to(device)
    if opts.attention_slicing:
        pipe.enable_attention_slicing()
    pipe.set_progress_bar_config(disable=quiet, leave=False)
    return pipe


def image_seed(base: int, index: int) -> int:
    """Each image's own seed, derived from the run's seed: reproducible, independent per image."""
    return int(np.random.SeedSequence([base, index]).generate_state(1)[0])


def _to_rgb8(image) -> np.ndarray:
    return np.clip(np.asarray(image) * 255 + 0.5, 0, 255).astype(np.uint8)


def _write_manifest(folder: Path, data: dict) -> None:
    tmp = folder / f".{MANIFEST}.part"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(folder / MANIFEST)


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a generated folder, or None (none there, or not readable as one)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("images"), list) else None


def _differences(manifest: dict, opts: GenerateOptions, prompts: list[str], seed_given: bool) -> list[str]:
    """What a resumed run would do differently from the run it continues."""
    recorded = manifest.get("settings", {})
    wanted = asdict(opts)
    out = [f"{k} ({wanted.get(k)!r}, was {recorded.get(k)!r})" for k in SETTINGS if recorded.get(k) != wanted.get(k)]
    if seed_given and opts.seed != recorded.get("seed"):
        out.append(f"seed ({opts.seed}, was {recorded.get('seed')})")
    for k, entry in enumerate(manifest["images"]):
        if k < len(prompts) and entry.get("prompt") != prompts[k]:
            out.append(f"prompts (image {k}: {prompts[k]!r}, was {entry.get('prompt')!r})")
            break
    return out


def _resume_point(folder: Path, opts: GenerateOptions, prompts: list[str], seed_given: bool) -> tuple[int, dict | None]:
    """How many images are already there, and the manifest they were made with."""
    manifest = read_manifest(folder)
    if manifest is None:
        if any(folder.glob("[0-9][0-9][0-9].png")):
            raise EverzoomError(f"output folder {folder} holds images but no readable {MANIFEST}: cannot resume it")
        return 0, None
    differ = _differences(manifest, opts, prompts, seed_given)
    if differ:
        raise EverzoomError(f"--resume: {'; '.join(differ)} differ from the run in {folder}; "
                            "resume with the same prompts, seed and settings, or start a new folder")
    done = 0
    while done < len(manifest["images"]) and (folder / manifest["images"][done]["file"]).exists():
        done += 1
    return done, manifest


@dataclass
class Progress:
    """How far a generation got: the folder and the images it holds (for an interrupted run's message)."""

    folder: Path | None = None
    done: int = 0


def generate(prompts_file: str | Path, folder: str | Path, opts: GenerateOptions,
             progress: Callable[[str, int, int], None] | None = None, quiet: bool = False,
             state: Progress | None = None) -> Path:
    """Make the series in `folder`; returns the folder. `state` follows how far it got."""
    state = state or Progress()
    opts.validate()
    prompts = schedule(read_prompts(prompts_file), opts.images)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise EverzoomError(f"output {folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not opts.resume:
        raise EverzoomError(f"output folder {folder} is not empty: pass --resume to continue a run there")
    seed_given = opts.seed is not None
    done, manifest = _resume_point(folder, opts, prompts, seed_given) if opts.resume and folder.is_dir() else (0, None)
    torch, diffusers = _libraries()
    folder.mkdir(parents=True, exist_ok=True)
    state.folder, state.done = folder, done
    if manifest:
        opts.seed = manifest["settings"]["seed"]
    if opts.seed is None:
        opts.seed = int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
    device = pick_device(torch, opts.device)
    dtype = pick_dtype(torch, opts.dtype, device)
    manifest = manifest or {
        "zoom_factor": opts.zoom_factor, "step_factor": step_factor(opts.image_size, opts.zoom_factor),
        "size": opts.image_size, "settings": {**{k: getattr(opts, k) for k in SETTINGS}, "seed": opts.seed},
        "images": [], "runs": []}
    manifest["images"] = manifest["images"][:done]
    if done >= opts.images:
        log.info("all %d images are already in %s", opts.images, folder)
        return folder
    manifest.setdefault("runs", []).append({
        "first_image": done, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "device": device,
        "dtype": str(dtype).removeprefix("torch."), "everzoom": version("everzoom"),
        "diffusers": diffusers.__version__, "torch": torch.__version__})
    if done:
        log.info("resuming at image %d of %d", done, opts.images)
    t2i = None
    if done == 0 and not opts.start_image:
        t2i = load_pipeline("text2image", opts.model, device, dtype, opts, quiet)
    inpaint = load_pipeline("inpainting", opts.inpaint_model, device, dtype, opts, quiet)
    previous = read_image(folder / manifest["images"][done - 1]["file"]) if done else None
    common = dict(height=opts.image_size, width=opts.image_size, num_inference_steps=opts.inference_steps,
                  guidance_scale=opts.guidance, negative_prompt=opts.negative_prompt or None, output_type="np")
    for k in range(done, opts.images):
        seed = image_seed(opts.seed, k)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        if k == 0 and opts.start_image:
            image = _square(read_image(opts.start_image), opts.image_size)
        elif k == 0:
            image = _to_rgb8(t2i(prompts[0], generator=generator, **common).images[0])
        else:
            from PIL import Image

            canvas, mask, small = canvas_and_mask(previous, opts.zoom_factor, opts.overlap,
                                                  np.random.default_rng(seed))
            painted = inpaint(prompts[k], image=Image.fromarray(canvas), mask_image=Image.fromarray(mask),
                              generator=generator, **common).images[0]
            image = paste_back(_to_rgb8(painted), small, opts.overlap)
        name = f"{k:03d}.png"
        with no_interrupts():  # the image and its manifest entry land together
            write_image(folder / name, image)
            manifest["images"].append({"file": name, "prompt": prompts[k], "seed": seed,
                                       "source": "start image" if k == 0 and opts.start_image else
                                       ("text-to-image" if k == 0 else "inpainting")})
            _write_manifest(folder, manifest)
            state.done = k + 1
        previous = image
        if progress:
            progress("generate", k + 1, opts.images)
    return folder


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to size x size."""
    import cv2

    h, w = image.shape[:2]
    side = min(h, w)
    crop = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)


def generated_series(folder: str | Path, names: list[str]) -> float | None:
    """The exact zoom factor between consecutive images of a folder that `everzoom generate`
    made, if the images are exactly the ones its manifest lists, in order (each image then sits
    exactly centred in the next); None otherwise."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    files = [entry.get("file") for entry in manifest["images"]]
    if files != names:
        return None
    factor = manifest.get("step_factor")
    if factor is None and "size" in manifest and "zoom_factor" in manifest:  # written before step_factor
        factor = step_factor(int(manifest["size"]), float(manifest["zoom_factor"]))
    try:
        return float(factor) if float(factor) > 1 else None
    except (TypeError, ValueError):
        return None


def option_fields():
    """(field, its command-line metadata) for every generate option, in definition order."""
    return [(f, f.metadata["cli"]) for f in fields(GenerateOptions)]
