"""everzoom: turn a series of AI-outpainted images into a smooth infinite-zoom video.

    import everzoom
    everzoom.render("input/forest", "forest.mp4", zoom_factor=2, steps=60)
    for frame in everzoom.frames("input/forest", steps=10): ...
    images, order = everzoom.sort("downloads/")      # innermost first, strays left out
"""
__version__ = "0.2.0"

from .api import RenderResult, frames, inspect, plan, render, sort, web
from .errors import EverzoomError
from .images import load_images
from .options import RenderOptions
from .stack import Layer, Stack, View

__all__ = ["render", "frames", "plan", "sort", "inspect", "web", "RenderResult", "RenderOptions", "EverzoomError",
           "load_images", "Stack", "Layer", "View"]
