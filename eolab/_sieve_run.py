"""Running the strip sieve (:mod:`eolab._sieve`): eagerly in forked processes, or as a dask graph.

Both keep each strip's label array where it was made (a shared buffer, or
the dask worker that labelled the strip); only sizes, edge rows, candidate
events and value tables travel between the per-strip steps and the two
serial steps (stitch, decide). Private module: the public entry point is
:func:`eolab.flood.sieve`.
"""

from __future__ import annotations

import mmap
import multiprocessing
import operator
from typing import Any

import numpy as np

from eolab._sieve import (
    StripSummary,
    apply_strip,
    decide,
    label_strip,
    stitch_strips,
    strip_candidates,
    strip_edges,
    summarise_strip,
)

__all__ = ["sieve_strips", "sieve_dask"]


def _bounds(height: int, strip_rows: int) -> list[tuple[int, int]]:
    step = max(1, int(strip_rows))
    return [(y, min(y + step, height)) for y in range(0, height, step)]


class _Strips:
    """One eager run: the raster, its label and output buffers, the strips' bounds.

    With ``workers > 1`` the buffers live in shared anonymous memory and the
    per-strip steps run in forked processes (``scipy.ndimage.label`` holds
    the GIL, so threads would not help); each process works on a contiguous
    block of strips, and only sizes, edge rows and tables are pickled.
    """

    def __init__(self, values: np.ndarray, bounds: list[tuple[int, int]], shared: bool,
                 **options: Any) -> None:
        self.values, self.bounds, self.options = values, bounds, options
        self.labels = self._buffer(values.shape, np.int32, shared)
        self.out = self._buffer(values.shape, values.dtype, shared)

    @staticmethod
    def _buffer(shape: tuple[int, ...], dtype: Any, shared: bool) -> np.ndarray:
        if not shared:
            return np.empty(shape, dtype)
        nbytes = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
        return np.frombuffer(mmap.mmap(-1, nbytes), dtype, count=int(np.prod(shape))
                             ).reshape(shape)

    def label(self, i: int) -> StripSummary:
        a, b = self.bounds[i]
        values = self.values[a:b]
        self.labels[a:b] = label_strip(values, nodata=self.options["nodata"],
                                       connectivity=self.options["connectivity"])
        return summarise_strip(self.labels[a:b], values)

    def candidates(self, i: int, stitched: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        a, b = self.bounds[i]
        return strip_candidates(self.labels[a:b], stitched, row0=a, height=self.values.shape[0],
                                size=self.options["size"],
                                connectivity=self.options["connectivity"])

    def apply(self, i: int, table: np.ndarray) -> None:
        a, b = self.bounds[i]
        self.out[a:b] = apply_strip(self.values[a:b], self.labels[a:b], table)


_RUN: _Strips | None = None      # the run forked workers see


def _run_label(i: int) -> StripSummary:
    assert _RUN is not None
    return _RUN.label(i)


def _run_candidates(i: int, stitched: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    assert _RUN is not None
    return _RUN.candidates(i, stitched)


def _run_apply(i: int, table: np.ndarray) -> None:
    assert _RUN is not None
    _RUN.apply(i, table)


def sieve_strips(values: np.ndarray, *, size: int, connectivity: int = 4, nodata: Any = None,
                 strip_rows: int | None = None, workers: int = 1) -> np.ndarray:
    """Eager strip engine: :func:`rasterio.features.sieve`'s result, strip by strip.

    ``workers`` > 1 runs the per-strip steps in that many forked processes
    (where the platform can fork); the result does not depend on it.
    """
    global _RUN
    height, width = values.shape
    bounds = _bounds(height, strip_rows or height)
    workers = min(int(workers), len(bounds))
    if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
        workers = 1
    run = _Strips(values, bounds, workers > 1, size=size, connectivity=connectivity,
                  nodata=nodata)
    strips = range(len(bounds))
    pool = None
    if workers > 1:
        _RUN = run
        pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        chunk = -(-len(bounds) // workers)          # contiguous blocks of strips per process
        starmap = (lambda f, args: pool.starmap(f, args, chunksize=chunk)) if pool else \
            (lambda f, args: [f(*a) for a in args])
        summaries = starmap(_run_label if pool else run.label, [(i,) for i in strips])
        stitched = stitch_strips(summaries, connectivity=connectivity)
        cands = starmap(_run_candidates if pool else run.candidates,
                        [(i, stitched[i]) for i in strips])
        edges = [strip_edges(s) for s in summaries]
        tables = decide(stitched, cands, edges, row0s=[a for a, _ in bounds], height=height,
                        width=width, size=size, connectivity=connectivity)
        starmap(_run_apply if pool else run.apply, [(i, tables[i]) for i in strips])
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _RUN = None
    return np.array(run.out) if workers > 1 else run.out


def sieve_dask(data: Any, *, size: int, connectivity: int = 4, nodata: Any = None) -> Any:
    """Lazy strip engine on a 2-D dask array: one task per row strip and step.

    The graph: label and summarise each strip, one stitch task, per-strip
    candidate tasks, one decision task, per-strip apply tasks. Label arrays
    stay with the worker that made them; only sizes, edge rows and tables
    travel. The result has the input's chunks.
    """
    import dask
    import dask.array as da

    height, width = data.shape
    strips = data.rechunk({1: -1})
    row0s = np.concatenate([[0], np.cumsum(strips.chunks[0])[:-1]]).astype(int).tolist()
    blocks = strips.to_delayed().ravel().tolist()
    label = dask.delayed(label_strip, pure=True)
    labels = [label(b, nodata=nodata, connectivity=connectivity) for b in blocks]
    summaries = [dask.delayed(summarise_strip, pure=True)(lab, b)
                 for lab, b in zip(labels, blocks)]
    stitched = dask.delayed(stitch_strips, pure=True)(summaries, connectivity=connectivity)
    parts = [dask.delayed(operator.getitem, pure=True)(stitched, i)
             for i in range(len(blocks) + 1)]
    cands = [dask.delayed(strip_candidates, pure=True)(lab, part, row0=r0, height=height,
                                                        size=size, connectivity=connectivity)
             for lab, part, r0 in zip(labels, parts[:-1], row0s)]
    edges = [dask.delayed(strip_edges, pure=True)(s) for s in summaries]
    tables = dask.delayed(decide, pure=True)(parts, cands, edges, row0s=row0s, height=height,
                                             width=width, size=size, connectivity=connectivity)
    out = [da.from_delayed(dask.delayed(apply_strip, pure=True)(
               b, lab, dask.delayed(operator.getitem, pure=True)(tables, i)),
           shape=(h, width), dtype=data.dtype)
           for i, (b, lab, h) in enumerate(zip(blocks, labels, strips.chunks[0]))]
    return da.concatenate(out, axis=0).rechunk(data.chunks)
