"""Sorting the shared harness's sets that imitate real tools: is the order exact, are the
chains listed, the strays and the variant named, and what does `everzoom sort` exit with?

    PY=/tmp/benchvenv/bin/python python bench/sort_accuracy.py [--work /tmp/everzoom-sortacc]

Sets (made once with ../shared/bench/synth.py, run with the harness's own Python, $PY):
- offcentre: 12 images, 640x360, zoom 2.56, inner images at (0.5, 0.72) of the outer one (ComfyUI's
  uneven outpaint padding), overpainted borders (--overpaint 0.15), shuffled names;
- folder: offcentre + a second chain (5 images, zoom 2, seed 11) + two strays (other seeds);
- variant: 24 images (512x512, zoom 4/3, seed 5) + two strays + a second variant of step 12 (the
  same seed with its surroundings re-detailed: --seam-redraw 0.2, image 12 of that set).
Each is sorted by the `everzoom sort --json` command line; the order is checked with the harness's
`metrics.py order` against the set's manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "shared" / "bench"


def synth(py: str, out: Path, *args: str) -> dict:
    """A harness set (made once) and its manifest."""
    if not (out / "manifest.json").exists():
        subprocess.run([py, str(HARNESS / "synth.py"), str(out), *args], check=True, capture_output=True)
    return json.loads((out / "manifest.json").read_text())


def gather(folder: Path, parts: list[tuple[Path, list[str]]], prefix: dict[Path, str] | None = None) -> Path:
    """A folder holding the named images of several sets (random hex names, kept; a set given a
    prefix has it put before its names: a set made with the same seed has the same names)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for source, names in parts:
        for name in names:
            shutil.copy(source / name, folder / ((prefix or {}).get(source, "") + name))
    return folder


def sort(folder: Path, *extra: str) -> tuple[int, dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "everzoom", "sort", str(folder), "--json", "-q", *extra],
                          capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, time.perf_counter() - t0


def order_ok(py: str, manifest_set: Path, order: list[str]) -> str:
    listing = manifest_set / "sorted.txt"
    listing.write_text("\n".join(order) + "\n")
    proc = subprocess.run([py, str(HARNESS / "metrics.py"), "order", "--set", str(manifest_set), "--list", str(listing)],
                          capture_output=True, text=True)
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else proc.stderr.strip()


def report(name: str, code: int, data: dict, seconds: float) -> None:
    chains = [len(c["order"]) for c in data.get("chains", [])]
    print(f"{name}: exit {code}, {seconds:.1f} s, chains {chains}, left out {sorted(data.get('left_out', {}))}")
    for why in data.get("left_out", {}).values():
        print(f"    {why}")
    for problem in data.get("problems", []):
        print(f"    not proven: {problem}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/everzoom-sortacc"))
    args = ap.parse_args()
    py = os.environ.get("PY", "python3")
    w = args.work
    off = synth(py, w / "offcentre", "-n", "12", "--zf", "2.56", "--size", "640", "360", "--anchor", "0.5", "0.72",
                "--overpaint", "0.15", "--naming", "shuffled", "--seed", "3")
    second = synth(py, w / "second", "-n", "5", "--zf", "2", "--size", "640", "360", "--seed", "11",
                   "--naming", "shuffled")
    strays = [synth(py, w / f"stray{s}", "-n", "2", "--zf", "3", "--size", "640", "360", "--seed", str(s),
                    "--naming", "shuffled") for s in (21, 22)]
    code, data, seconds = sort(w / "offcentre")
    report("offcentre", code, data, seconds)
    print("    order:", order_ok(py, w / "offcentre", data["chains"][0]["order"]))
    folder = gather(w / "folder", [(w / "offcentre", off["order"]), (w / "second", second["order"]),
                                   (w / "stray21", strays[0]["order"][:1]), (w / "stray22", strays[1]["order"][:1])])
    code, data, seconds = sort(folder)
    report("folder (2 chains + 2 strays)", code, data, seconds)
    for chain, truth in zip(data["chains"], (w / "offcentre", w / "second")):
        print(f"    chain of {len(chain['order'])}:", order_ok(py, truth, chain["order"]))
    code, data, seconds = sort(folder, "--series", "2")
    print(f"folder --series 2: exit {code}")
    main_set = synth(py, w / "long", "-n", "24", "--zf", "1.3333", "--size", "512", "512", "--seed", "5",
                     "--naming", "shuffled")
    redone = synth(py, w / "long-redetailed", "-n", "24", "--zf", "1.3333", "--size", "512", "512", "--seed", "5",
                   "--seam-redraw", "0.2", "--naming", "shuffled")
    folder = gather(w / "variant", [(w / "long", main_set["order"]), (w / "long-redetailed", redone["order"][12:13]),
                                    (w / "stray21", strays[0]["order"][1:]), (w / "stray22", strays[1]["order"][1:])],
                    {w / "long-redetailed": "variant-"})
    code, data, seconds = sort(folder)
    report(f"variant (24 + 2 strays + variant-{redone['order'][12]} of step 12)", code, data, seconds)
    print("    order:", order_ok(py, w / "long", data["chains"][0]["order"]))


if __name__ == "__main__":
    main()
