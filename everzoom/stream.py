"""Produce items in a worker thread, ahead of the consumer, through a bounded queue.

OpenCV releases the GIL, so rendering the next frames overlaps encoding the current one, and the
bounded queue keeps memory constant however long the video is.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = object()


def ahead(items: Iterable, depth: int = 4) -> Iterator:
    """Iterate `items` in a worker thread; exceptions are re-raised here, in order."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put((None, exc))

    worker = threading.Thread(target=work, name="everzoom-render", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item, exc = q.get(timeout=0.1)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
