#!/usr/bin/env python3
"""The original script's command line, e.g.

    python infinite_zoom.py -zf 2 -zs 100 -zc 0.8 -i input/myset -o video.mp4

is kept working; everzoom does the rendering. See `everzoom --help` for the full tool.
"""
from everzoom.cli import legacy_main

if __name__ == "__main__":
    legacy_main()
