"""Quality table with the team's harness (../shared/bench): fidelity, smoothness and seams per set.

    PY=/tmp/benchvenv/bin/python python bench/quality_bench.py [--sets clean seam12 seam20]
        [--options "--crop 1"] [--name crop1] [--fit-center] [--harness ../shared/bench]

For each set (made once by the harness's synth.py under --work), everzoom renders PNG frames at
12 frames per zoom step (as the harness's reference does), with default options plus
--options; the harness then scores them: metrics.py fidelity (PSNR against exact ground
truth, from the set's manifest, which everzoom never reads), metrics.py smoothness (jitter, pop)
and seams.py (the step across layer edges relative to the same step a few pixels away, read
from a second, --debug render at 768x768). PY is the harness's own Python (numpy, opencv, numba);
everzoom runs with this one. Prints one row per set.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "clean": ["-n", "8", "--zf", "2", "--size", "512", "512"],
    "perturbed": ["-n", "8", "--zf", "2", "--size", "512", "512", "--edge-redraw", "0.12", "--jitter", "3",
                  "--scale-error", "0.01", "--color-drift", "--format", "jpg", "--quality", "90"],
    "seam12": ["-n", "8", "--zf", "2", "--seam-redraw", "0.12", "--jitter", "3", "--scale-error", "0.01",
               "--color-drift", "--format", "jpg", "--quality", "90"],
    "seam20": ["-n", "8", "--zf", "2", "--seam-redraw", "0.2", "--color-drift", "2"],
    "warp25": ["-n", "6", "--zf", "2", "--local-warp", "2.5"],
    "warp25-twin": ["-n", "6", "--zf", "2"],
    "warp4": ["-n", "6", "--zf", "2", "--local-warp", "4", "--color-drift", "--format", "jpg", "--quality", "90"],
    "warp4-twin": ["-n", "6", "--zf", "2", "--color-drift", "--format", "jpg", "--quality", "90"],
    "heldout": ["-n", "8", "--zf", "2", "--size", "512", "512"],
    "overpaint20": ["-n", "8", "--zf", "2", "--overpaint", "0.2", "--color-drift", "1"],
}
SEEDS = {"heldout": 7}


def run(command: list[str], **kw) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, **kw)
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {shlex.join(command)}\n{proc.stderr[-2000:]}")
    return proc.stdout


def fidelity(frames: Path, folder: Path, harness: Path, py: str, samples: int = 24, fit_center: bool = True) -> dict:
    """The harness's fidelity summary of rendered PNG frames against the set's ground truth."""
    report = frames.parent / f"{frames.name}-fidelity.json"
    run([py, str(harness / "metrics.py"), "fidelity", str(frames), "--set", str(folder), "--samples", str(samples),
         *(["--fit-center"] if fit_center else []), "--json", str(report)])
    return json.loads(report.read_text())["summary"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=["clean", "seam12", "seam20"], choices=sorted(SETS))
    ap.add_argument("--options", default="", help="extra everzoom render options")
    ap.add_argument("--name", default="default")
    ap.add_argument("--seed", type=int, default=1, help="scene seed of the sets (heldout always uses 7)")
    ap.add_argument("--fit-center", action="store_true", help="fidelity fits each frame's centre too")
    ap.add_argument("--harness", type=Path, default=ROOT.parent / "shared" / "bench")
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-quality"))
    ap.add_argument("--samples", type=int, default=24)
    args = ap.parse_args()
    py = os.environ.get("PY", "python3")
    extra = shlex.split(args.options)
    print(f"everzoom render {' '.join(extra) or '(defaults)'} -zs 12, PNG frames; harness {args.harness}")
    print(f"{'set':<12} {'PSNR dB':>8} {'PSNR-Y':>7} {'jitter max':>10} {'pop max':>8} {'seam p90':>9} "
          f"{'median':>7} {'edges':>6} {'render s':>9}")
    for name in args.sets:
        seed = SEEDS.get(name, args.seed)
        folder = args.work / "sets" / f"{name}-s{seed}"
        if not (folder / "manifest.json").exists():
            run([py, str(args.harness / "synth.py"), str(folder), *SETS[name], "--seed", str(seed)])
        out = args.work / "runs" / args.name / f"{name}-s{seed}"
        run(["rm", "-rf", str(out)])
        t0 = time.perf_counter()
        render = [sys.executable, "-m", "everzoom", "render", str(folder), "-zs", "12", "-q", *extra]
        run([*render, "-o", str(out / "frames")])
        seconds = time.perf_counter() - t0
        run([*render, "-o", str(out / "plain"), "--size", "768x768"])
        run([*render, "-o", str(out / "debug"), "--size", "768x768", "--debug"])
        fid = fidelity(out / "frames", folder, args.harness, py, args.samples, args.fit_center)
        run([py, str(args.harness / "metrics.py"), "smoothness", str(out / "frames"), "--json",
             str(out / "smoothness.json")])
        seams = run([py, str(args.harness / "seams.py"), str(out / "plain"), str(out / "debug"), "--every", "3"])
        smooth = json.loads((out / "smoothness.json").read_text())["summary"]
        m = re.search(r"p90 ([\d.]+), median ([\d.]+), edges (\d+)", seams)
        p90, median, edges = (m.group(1), m.group(2), m.group(3)) if m else ("-", "-", "0")
        print(f"{name:<12} {fid['psnr_mean']:>8.2f} {fid['psnr_y_mean']:>7.2f} {smooth['jitter_max_px']:>10.3f} "
              f"{smooth['pop_max']:>8.3f} {p90:>9} {median:>7} {edges:>6} {seconds:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
