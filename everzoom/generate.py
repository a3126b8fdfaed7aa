"""Generate the outpainted series with diffusers: text-to-image for image 0, then for each next
image shrink-paste-inpaint with that image's prompt (see outpaint.py for the geometry).

torch and diffusers are imported only here, when generation is asked for, so rendering stays
light. Images are written as 000.png, 001.png ... as each completes (temp file + rename), with
`everzoom.json` (prompts, seeds, models, settings, versions) rewritten after every image; an
interrupted run resumes at the first missing image.
"""
from __future__ import annotations

import json
import logging
from importlib.metadata import version
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import EverzoomError
from .images import read_image, write_image
from .outpaint import canvas_and_mask, paste_back
from .prompts import read as read_prompts
from .prompts import schedule

log = logging.getLogger("everzoom")

MANIFEST = "everzoom.json"
DEFAULT_MODEL = "stabilityai/stable-diffusion-2-1-base"
DEFAULT_INPAINT_MODEL = "stabilityai/stable-diffusion-2-inpainting"
SETTINGS = ("model", "inpaint_model", "zoom_factor", "size", "steps", "guidance", "negative_prompt",
            "overlap", "mask_blur", "seed")


@dataclass
class GenerateOptions:
    images: int = 12
    zoom_factor: float = 2.0
    size: int = 512
    steps: int = 30
    guidance: float = 7.5
    negative_prompt: str = ""
    seed: int | None = None
    model: str = DEFAULT_MODEL
    inpaint_model: str = DEFAULT_INPAINT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    overlap: int = 16
    mask_blur: int = 8
    resume: bool = False
    start_image: str | None = None
    attention_slicing: bool = False
    cpu_offload: bool = False

    def validate(self) -> None:
        if self.images < 2:
            raise EverzoomError(f"--images must be at least 2, not {self.images}")
        if not (self.zoom_factor > 1 and np.isfinite(self.zoom_factor)):
            raise EverzoomError(f"--zoom-factor must be a number greater than 1, not {self.zoom_factor}")
        if self.size < 64 or self.size % 8:
            raise EverzoomError(f"--size must be a multiple of 8 (at least 64), not {self.size}")
        if round(self.size / self.zoom_factor) < 8:
            raise EverzoomError(f"--zoom-factor {self.zoom_factor} leaves less than 8 pixels of a {self.size} image")
        if self.steps < 1:
            raise EverzoomError(f"--steps must be at least 1, not {self.steps}")
        if self.overlap < 0 or self.mask_blur < 0:
            raise EverzoomError("--overlap and --mask-blur must not be negative")
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
    names = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if wanted == "auto":
        return torch.float16 if device == "cuda" else torch.float32
    if wanted not in names:
        raise EverzoomError(f"--dtype must be auto, fp16, bf16 or fp32, not {wanted}")
    return names[wanted]


def load_pipeline(kind: str, model: str, device: str, dtype, opts: GenerateOptions, quiet: bool):
    """A diffusers pipeline (AutoPipeline, by id or local folder), on `device`, with memory savers."""
    torch, diffusers = _libraries()
    cls = diffusers.AutoPipelineForText2Image if kind == "text2image" else diffusers.AutoPipelineForInpainting
    try:
        pipe = cls.from_pretrained(model, torch_dtype=dtype, safety_checker=None, requires_safety_checker=False)
    except (OSError, ValueError, EnvironmentError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EverzoomError(f"cannot load {kind} model {model}: {first}") from None
    if opts.cpu_offload and device == "cuda":
        pipe.enable_model_cpu_offload()
    else:
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


def _resume_point(folder: Path, opts: GenerateOptions, prompts: list[str]) -> tuple[int, dict | None]:
    """How many images are already there, and the manifest they were made with."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        if any(folder.glob("[0-9][0-9][0-9].png")):
            raise EverzoomError(f"output folder {folder} holds images but no {MANIFEST}: cannot resume it")
        return 0, None
    manifest = json.loads(manifest_path.read_text())
    changed = [k for k in SETTINGS if k != "seed" and manifest["settings"].get(k) != asdict(opts).get(k)]
    if changed:
        raise EverzoomError(f"--resume: {', '.join(changed)} differ from the run in {folder}; use the same settings")
    done = 0
    while done < len(manifest["images"]) and (folder / manifest["images"][done]["file"]).exists():
        done += 1
    return done, manifest


def generate(prompts_file: str | Path, folder: str | Path, opts: GenerateOptions,
             progress: Callable[[str, int, int], None] | None = None, quiet: bool = False) -> Path:
    """Make the series in `folder`; returns the folder."""
    opts.validate()
    prompts = schedule(read_prompts(prompts_file), opts.images)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise EverzoomError(f"output {folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not opts.resume:
        raise EverzoomError(f"output folder {folder} is not empty: pass --resume to continue a run there")
    folder.mkdir(parents=True, exist_ok=True)
    done, manifest = _resume_point(folder, opts, prompts) if opts.resume else (0, None)
    torch, diffusers = _libraries()
    if manifest:
        opts.seed = manifest["settings"]["seed"]
    if opts.seed is None:
        opts.seed = int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
    device = pick_device(torch, opts.device)
    dtype = pick_dtype(torch, opts.dtype, device)
    settings = {k: getattr(opts, k) for k in SETTINGS}
    manifest = manifest or {
        "everzoom": version("everzoom"), "diffusers": diffusers.__version__, "torch": torch.__version__,
        "device": device, "dtype": str(dtype).removeprefix("torch."), "settings": settings,
        "zoom_factor": opts.zoom_factor, "size": opts.size, "images": []}
    manifest["images"] = manifest["images"][:done]
    if done >= opts.images:
        log.info("all %d images are already in %s", opts.images, folder)
        return folder
    if done:
        log.info("resuming at image %d of %d", done, opts.images)
    t2i = None
    if done == 0 and not opts.start_image:
        t2i = load_pipeline("text2image", opts.model, device, dtype, opts, quiet)
    inpaint = load_pipeline("inpainting", opts.inpaint_model, device, dtype, opts, quiet)
    previous = read_image(folder / manifest["images"][done - 1]["file"]) if done else None
    common = dict(height=opts.size, width=opts.size, num_inference_steps=opts.steps, guidance_scale=opts.guidance,
                  negative_prompt=opts.negative_prompt or None, output_type="np")
    for k in range(done, opts.images):
        seed = image_seed(opts.seed, k)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        if k == 0 and opts.start_image:
            image = _square(read_image(opts.start_image), opts.size)
        elif k == 0:
            image = _to_rgb8(t2i(prompts[0], generator=generator, **common).images[0])
        else:
            from PIL import Image

            canvas, mask, small = canvas_and_mask(previous, opts.zoom_factor, opts.overlap, opts.mask_blur,
                                                  np.random.default_rng(seed))
            painted = inpaint(prompts[k], image=Image.fromarray(canvas), mask_image=Image.fromarray(mask),
                              generator=generator, **common).images[0]
            image = paste_back(_to_rgb8(painted), small, opts.overlap)
        name = f"{k:03d}.png"
        write_image(folder / name, image)
        manifest["images"].append({"file": name, "prompt": prompts[k], "seed": seed,
                                   "source": "start image" if k == 0 and opts.start_image else
                                   ("text-to-image" if k == 0 else "inpainting")})
        _write_manifest(folder, manifest)
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


def manifest_zoom_factor(folder: str | Path) -> float | None:
    """The zoom factor a generated folder records, if it has a manifest."""
    path = Path(folder) / MANIFEST
    try:
        return float(json.loads(path.read_text())["zoom_factor"])
    except (OSError, ValueError, KeyError, TypeError):
        return None

