"""No frame pixel outside the range of the images it mixes, on any set (the tests check it on
their own scene; this checks the shared real series and the harness's sets too).

    python bench/range_check.py [FOLDER ...] [--size 512] [--steps 24] [--every 4]

Per frame (every --every), per pixel: the frame against the least and largest of the samples
the renderer drew of each layer there, within the layer's own footprint, with 2 levels of
slack for resampling overshoot (tests/frame_range.py). Prints, per set, the share of pixels
outside and the largest excess.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common import ROOT
from frame_range import outside

import everzoom


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*", type=Path, default=[ROOT.parent / "shared" / "realsets" / "zvc-midjourney"])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--every", type=int, default=4)
    args = ap.parse_args()
    for folder in args.folders:
        p = everzoom.plan(folder, steps=args.steps, size=(args.size, args.size))
        results = [outside(p.renderer, p.path.view(i)) for i in range(0, p.path.frames, args.every)]
        share = max(r[0] for r in results)
        print(f"{folder.name}: {len(results)} frames, pixels outside the layers' range: at most {share:.4%} of a "
              f"frame, largest excess {max(r[1] for r in results)} levels")


if __name__ == "__main__":
    main()
