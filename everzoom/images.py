"""Find and read input images: natural sort order, RGB uint8, clear errors naming the file."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np

from .errors import EverzoomError

log = logging.getLogger("everzoom")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def natural_key(name: str) -> list:
    """Sort key so that `frame_2` comes before `frame_10`."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def find_images(folder: str | Path) -> list[Path]:
    """Image files of a folder in natural order; other files are skipped with a note."""
    folder = Path(folder)
    if not folder.exists():
        raise EverzoomError(f"input folder {folder} does not exist")
    if not folder.is_dir():
        raise EverzoomError(f"input {folder} is not a folder")
    images, skipped = [], []
    for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if not path.is_file() or path.name.startswith("."):
            continue
        (images if path.suffix.lower() in IMAGE_SUFFIXES else skipped).append(path)
    if skipped and not all(p.name == "everzoom.json" for p in skipped):
        names = ", ".join(p.name for p in skipped if p.name != "everzoom.json")
        log.info("skipping files that are not images: %s", names)
    if not images:
        raise EverzoomError(f"input folder {folder} holds no images (png, jpg, webp)")
    return images


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, BGR, BGRA, 16-bit, float) as contiguous RGB uint8."""
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise EverzoomError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        # Transparent pixels become black, as any video player would show them.
        alpha = image[:, :, 3:4].astype(np.uint16)
        image = (image[:, :, :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def read_image(path: str | Path) -> np.ndarray:
    """One image file as RGB uint8; a corrupt or unreadable file raises naming it."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise EverzoomError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise EverzoomError(f"cannot decode image {path}: not a valid image file")
    return to_rgb8(image)


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB image atomically (temp file + rename), format from the suffix."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise EverzoomError(f"cannot encode image {path}")
    tmp = path.with_name(f".{path.name}.part")
    try:
        buf.tofile(tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EverzoomError(f"cannot write {path}: {exc.strerror or exc}") from None


def load_images(source, min_count: int = 2) -> tuple[list[np.ndarray], list[str]]:
    """Images from a folder, a list of paths or a list of arrays, with a name for each."""
    if isinstance(source, (str, Path)):
        paths = find_images(source)
        images = [read_image(p) for p in paths]
        names = [p.name for p in paths]
    else:
        items = list(source)
        images, names = [], []
        for i, item in enumerate(items):
            if isinstance(item, np.ndarray):
                images.append(_array_rgb(item))
                names.append(f"image {i}")
            else:
                images.append(read_image(item))
                names.append(Path(item).name)
    if len(images) < min_count:
        where = f"input folder {source}" if isinstance(source, (str, Path)) else "the input"
        raise EverzoomError(f"{where} holds {len(images)} image(s); at least {min_count} are needed")
    return images, names


def _array_rgb(array: np.ndarray) -> np.ndarray:
    """An array given through the API is RGB(A) or grey, not OpenCV's BGR order."""
    if array.ndim == 3:
        order = [2, 1, 0, 3] if array.shape[2] == 4 else [2, 1, 0]
        array = array[:, :, order]
    return to_rgb8(np.ascontiguousarray(array))
