"""Seams and smoothness on a real series (default: the shared Midjourney series), with the team's
harness: `seams.py` on a plain and a --debug render, `metrics.py smoothness` on the plain one.

    PY=/tmp/benchvenv/bin/python python bench/real_seams.py [FOLDER] [--size 1024] [--steps 24]
        [--options "..."] [--keep DIR]

Reports the harness's seam p90 / median / max (the step across each inner layer's outer edge,
read from the debug render's green rectangles, over the same step a few pixels away), its
jitter (median, max, output px) and pop (max residual over the clip's median), and the local
pop: each pair's residual over the running median of its 9 neighbours, the largest over the
clip (a real series' residual drifts with its content; a jump shows against its neighbours).
With --keep the frames stay in DIR to look at.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "bench"
REAL = ROOT.parent / "shared" / "realsets" / "zvc-midjourney"


def run(command: list[str]) -> str:
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {shlex.join(command)}\n{proc.stderr[-2000:]}")
    return proc.stdout


def local_pop(rows: list[dict], window: int = 9) -> float:
    residual = np.array([r["residual"] for r in rows if r["ok"]])
    pad = np.pad(residual, window // 2, mode="edge")
    trend = np.array([np.median(pad[i:i + window]) for i in range(len(residual))])
    return float((residual / trend).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path, default=REAL)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--options", default="")
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    py = os.environ.get("PY", "python3")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        render = [sys.executable, "-m", "everzoom", "render", str(args.folder), "-zs", str(args.steps), "-q",
                  "--size", f"{args.size}x{args.size}", "--overwrite", *shlex.split(args.options)]
        run([*render, "-o", str(out / "plain")])
        run([*render, "-o", str(out / "debug"), "--debug"])
        seams = run([py, str(HARNESS / "seams.py"), str(out / "plain"), str(out / "debug")])
        run([py, str(HARNESS / "metrics.py"), "smoothness", str(out / "plain"), "--json", str(out / "smooth.json")])
        smooth = json.loads((out / "smooth.json").read_text())
    m = re.search(r"seam max ([\d.]+), p90 ([\d.]+), median ([\d.]+), edges (\d+)", seams)
    s = smooth["summary"]
    print(f"{args.folder.name} {args.size}^2 -zs {args.steps} {args.options or '(defaults)'}: "
          f"seam p90 {m.group(2)}, median {m.group(3)}, max {m.group(1)} ({m.group(4)} edges); "
          f"jitter median {s['jitter_median_px']:.4f} max {s['jitter_max_px']:.4f} px; pop max {s['pop_max']:.3f}; "
          f"local pop {local_pop(smooth['pairs']):.3f}")


if __name__ == "__main__":
    main()
