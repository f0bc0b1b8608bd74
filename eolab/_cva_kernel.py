"""Fused numpy kernels of the CVA and of the S2-CD classes (private; used by :mod:`eolab.change`).

:func:`eolab.change.cva` and :func:`eolab.change.classify` used to chain a
dozen whole-raster xarray operations, each writing a full-size temporary.
Here each block of rows goes through all of them at once, with the same
float32 arithmetic in the same order, so results are bit for bit those of
the xarray expressions: numpy arrays are cut into strips traced in threads
(numpy releases the GIL), dask arrays run the kernel once per chunk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from eolab._change_rules import MASKED, NO_DATA, class_rules

__all__ = ["STRIP_PIXELS", "class_arrays", "cva_arrays", "cva_block", "for_strips"]

STRIP_PIXELS = 1 << 19      #: pixels of a strip: its temporaries stay in the CPU caches


def for_strips(fn: Callable[[slice], Any], height: int, width: int, *,
               threads: bool = True) -> list[Any]:
    """``fn(rows)`` for strips of rows covering ``height``, in one thread per CPU."""
    rows = max(1, STRIP_PIXELS // max(width, 1))
    spans = [slice(y0, min(y0 + rows, height)) for y0 in range(0, height, rows)]
    workers = min(os.cpu_count() or 1, len(spans)) if threads else 1
    if workers < 2:
        return [fn(s) for s in spans]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, spans))


def _scl_nodata(scl: np.ndarray, nodata: Sequence[int]) -> np.ndarray:
    found = np.isin(scl, nodata)
    return found | np.isnan(scl) if scl.dtype.kind == "f" else found


def cva_block(before: Sequence[np.ndarray], after: Sequence[np.ndarray],
              scl_before: np.ndarray | None, scl_after: np.ndarray | None,
              out: dict[str, Any], *, cloud: Sequence[int], nodata: Sequence[int]) -> bool:
    """CVA of one block into ``out`` (``magnitude``, ``direction``, ``masked``, ``deltas``).

    ``out["deltas"]`` is a list of float32 arrays, one per band. Returns
    whether any pixel is neither cloud, shadow nor no data by SCL (``True``
    without SCL).
    """
    deltas = out["deltas"]
    missing = None
    for k, (b, a) in enumerate(zip(before, after, strict=True)):
        d = deltas[k]
        np.subtract(a, b, out=d, dtype=np.float32)
        d *= np.float32(100.0)
        nan = np.isnan(d)
        missing = nan if missing is None else np.logical_or(missing, nan, out=missing)
    assert missing is not None
    clear = True
    masked = out["masked"]
    if scl_before is not None and scl_after is not None:
        cloud_any = np.isin(scl_before, cloud) | np.isin(scl_after, cloud)
        nodata_any = _scl_nodata(scl_before, nodata) | _scl_nodata(scl_after, nodata)
        clear = bool((~(nodata_any | cloud_any)).any())
        missing |= nodata_any
        np.logical_and(cloud_any, ~missing, out=masked)
    else:
        masked[...] = False
    invalid = missing | masked
    total = deltas[0].copy()
    squares = deltas[0] * deltas[0]
    for d in deltas[1:]:
        total += d
        squares += d * d
    magnitude = out["magnitude"]
    np.sqrt(squares, out=magnitude)
    magnitude[invalid] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.float32(np.sqrt(len(deltas))) * magnitude
        np.divide(total, scale, out=total)
        np.clip(total, -1.0, 1.0, out=total)
        direction = out["direction"]
        changed = magnitude > 0                   # arccos (slow) only where it is kept
        direction.fill(np.nan)
        np.arccos(total, out=direction, where=changed)
        np.degrees(direction, out=direction, where=changed)
    for d in deltas:
        d[invalid] = np.nan
    return clear


def cva_arrays(*arrays: np.ndarray, nbands: int, cloud: Sequence[int], nodata: Sequence[int],
               threads: bool = True, flags: list[bool] | None = None) -> tuple[np.ndarray, ...]:
    """:func:`cva_block` over whole arrays, strip by strip: ``arrays`` are the bands before,
    the bands after, then optionally SCL before and after.

    Returns ``(magnitude, direction, masked, *deltas)``; appends to ``flags``
    whether any pixel is clear by SCL.
    """
    before, after = arrays[:nbands], arrays[nbands:2 * nbands]
    scl = arrays[2 * nbands:] if len(arrays) > 2 * nbands else (None, None)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    out: dict[str, Any] = {
        "magnitude": np.empty(shape, np.float32), "direction": np.empty(shape, np.float32),
        "masked": np.empty(shape, bool), "deltas": [np.empty(shape, np.float32)
                                                    for _ in range(nbands)]}
    if not out["magnitude"].size:
        clear = [False]
    else:
        def strip(rows: slice) -> bool:
            part = {k: ([d[rows] for d in v] if k == "deltas" else v[rows])
                    for k, v in out.items()}
            return cva_block([b[rows] for b in before], [a[rows] for a in after],
                             *(None if s is None else s[rows] for s in scl), part,
                             cloud=cloud, nodata=nodata)

        clear = for_strips(strip, shape[0], shape[1] if len(shape) > 1 else 1,
                           threads=threads)
    if flags is not None:
        flags.append(any(clear))
    return out["magnitude"], out["direction"], out["masked"], *out["deltas"]


def class_arrays(magnitude: np.ndarray, direction: np.ndarray, masked: np.ndarray,
                 *comps: np.ndarray, names: Sequence[str], threshold: float,
                 threads: bool = True) -> np.ndarray:
    """S2-CD classes (uint8) of whole arrays, strip by strip (see :func:`eolab.change.classify`).

    ``comps`` are the signed components of the bands ``names`` (canonical).
    """
    out = np.empty(magnitude.shape, np.uint8)

    def strip(rows: slice) -> None:
        mag = magnitude[rows]
        part = out[rows]
        part[...] = 0
        # The rules are elementwise: apply them to the changed pixels only, as a 1-D array.
        changed = mag >= threshold
        if changed.any():
            classes, _ = class_rules(direction[rows][changed],
                                     {n: c[rows][changed] for n, c in zip(names, comps,
                                                                          strict=True)})
            part[changed] = classes                    # classes 1-5
        missing = np.isnan(mag)
        part[missing] = np.where(masked[rows][missing], MASKED, NO_DATA)

    if magnitude.ndim == 0:
        strip(Ellipsis)  # type: ignore[arg-type]
    elif magnitude.size:
        for_strips(strip, magnitude.shape[0],
                   magnitude.shape[1] if magnitude.ndim > 1 else 1, threads=threads)
    return out
