"""Run a callable in a fresh process and report wall time and peak RSS."""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any


def _child(fn: Callable[[], Any], queue: Any) -> None:
    start = time.perf_counter()
    extra = fn() or {}
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"wall_s": round(wall, 2), "peak_rss_mb": round(peak_mb, 1), **extra})


def measure(name: str, fn: Callable[[], Any]) -> dict[str, Any]:
    """Run ``fn`` in a spawned process; print and return ``{name, wall_s, peak_rss_mb, ...}``."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"{name} failed with exit code {proc.exitcode}")
    result = {"benchmark": name, **queue.get()}
    print(json.dumps(result))
    return result
