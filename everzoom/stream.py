"""Ordered parallel map with a bounded look-ahead.

OpenCV releases the GIL, so worker threads render the next frames while the caller encodes the
current one; the bounded window keeps memory constant however long the video is.
"""
from __future__ import annotations

import concurrent.futures as cf
from collections import deque
from collections.abc import Callable, Iterable, Iterator


def ordered_map(func: Callable, items: Iterable, workers: int = 2, depth: int = 6) -> Iterator:
    """func(item) for each item, computed up to `depth` ahead in `workers` threads, yielded in order."""
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="everzoom-render")
    pending: deque[cf.Future] = deque()
    it = iter(items)
    try:
        for item in it:
            pending.append(pool.submit(func, item))
            if len(pending) >= depth:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future: cf.Future):
    while True:  # a timed wait keeps Ctrl-C responsive in the main thread
        try:
            return future.result(timeout=0.2)
        except cf.TimeoutError:
            continue
