"""The prompts file: one prompt per line in zoom-out order, and which image gets which prompt.

Blank lines and lines starting with '#' are ignored. A line `N: prompt` pins that prompt to
start at image N (counting from 0, the innermost). Prompts without a pin share the images
between their neighbours equally, in order: 12 images and 3 prompts give 4 images each.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import EverzoomError

PIN = re.compile(r"^\s*(\d+)\s*:\s*(.*)$")


def parse(text: str, source: str = "prompts") -> list[tuple[int | None, str]]:
    """(pinned start or None, prompt) for every prompt line."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        start, prompt = (int(match.group(1)), match.group(2).strip()) if match else (None, line)
        if not prompt:
            raise EverzoomError(f"{source}, line {number}: a pinned prompt needs text after the colon")
        entries.append((start, prompt))
    if not entries:
        raise EverzoomError(f"{source} holds no prompts (blank lines and # comments are ignored)")
    return entries


def read(path: str | Path) -> list[tuple[int | None, str]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EverzoomError(f"prompts file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EverzoomError(f"cannot read prompts file {path}: {exc}") from None
    return parse(text, str(path))


def schedule(entries: list[tuple[int | None, str]], images: int) -> list[str]:
    """The prompt of every image, innermost first."""
    starts: list[float | None] = [s for s, _ in entries]
    pinned = [s for s in starts if s is not None]
    if pinned and (pinned != sorted(pinned) or len(set(pinned)) != len(pinned)):
        raise EverzoomError("pinned prompts (N: prompt) must start at increasing image numbers")
    if pinned and pinned[-1] >= images:
        raise EverzoomError(f"a prompt is pinned to image {pinned[-1]}, but only {images} images are made (0..{images - 1})")
    if starts[0] is None:
        starts[0] = 0
    elif starts[0] > 0:
        first = "image 0" if starts[0] == 1 else f"images 0-{starts[0] - 1}"
        raise EverzoomError(f"the first prompt is pinned to image {starts[0]}, so {first} would have no prompt: "
                            "pin it to 0, or add a prompt before it")
    # unpinned prompts share the span up to the next pin (or the end) equally
    i = 0
    while i < len(starts):
        j = i + 1
        while j < len(starts) and starts[j] is None:
            j += 1
        end = starts[j] if j < len(starts) else images
        for k in range(i + 1, j):
            starts[k] = starts[i] + (end - starts[i]) * (k - i) / (j - i)
        i = j
    # each image takes the last prompt that has started by then (starts[0] is 0)
    return [entries[max(k for k, s in enumerate(starts) if s <= image + 1e-9)][1] for image in range(images)]
