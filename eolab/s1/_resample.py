"""Tiled windowed-sinc resampling kernel behind :func:`eolab.s1.coregister.resample_burst`.

The output is cut into tiles of ``_TILE`` (lines, samples). For each tile the
secondary rows that its azimuth pass needs (the tile's rows shifted by the
azimuth offsets, ± the kernel half-width) are deramped and resampled in range,
then resampled in azimuth and reramped, so no full-size intermediate exists
and the working set of a tile stays in cache. Per tap, the weights are
gathered from the kernel table at each sample's own fraction (1/``TABLE``
sample) and applied to shifted *slices* of the real and imaginary planes
(float32, stacked, so one multiply and one add per tap), in the tap order of
a plain per-sample sum. Tiles run on threads (numpy releases the GIL).

A :class:`~eolab.s1.tops.TopsRamp` phase is exactly quadratic in the line,
φ(l, p) = α_p·u² + β_p·u + γ_p with u = l − N/2; its coefficients are taken
once per column from three lines of the ramp. The deramp phasor on the
integer grid then follows a two-term complex128 recurrence down each tile
(e^{jφ(l+1)} = e^{jφ(l)}·e^{jΔ_l}, e^{jΔ_{l+1}} = e^{jΔ_l}·e^{j2α}), and the
reramp phase at the resampled (line, pixel) is the quadratic with the
coefficients interpolated linearly in range (as ``TopsRamp.on_columns``
interpolates the range terms), in float64 turns before the float32 cos/sin.
Other phases (callables, arrays) are evaluated per tile.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np

from eolab.errors import RasterError
from eolab.s1.tops import TopsRamp, phasor

TABLE = 1024  # kernel table resolution (fractions of a sample)
_TABLE_BITS = 10  # TABLE = 2**_TABLE_BITS
BETA = 0.5 * np.pi  # Kaiser window of the sinc (8 taps: 0.9995 az, 0.998 rg at 0.67/0.88 band)
_TILE = (64, 1024)  # output lines × samples per tile
_MAX_SPREAD = 16  # integer offset range tolerated within one tile
_TWO_PI = 2.0 * np.pi


@lru_cache(maxsize=8)
def kernel(taps: int, beta: float = BETA) -> np.ndarray:
    """(taps, TABLE + 1) weights for fractional shifts 0…1, each column summing to 1."""
    frac = np.arange(TABLE + 1) / TABLE
    k = np.arange(taps)[:, None] - (taps // 2 - 1)  # taps at floor(x) − taps/2 + 1 …
    d = k - frac[None, :]
    w = np.sinc(d) * np.i0(beta * np.sqrt(np.clip(1 - (d / (taps / 2)) ** 2, 0, 1))) / np.i0(beta)
    return np.asarray(w / w.sum(axis=0, keepdims=True), dtype=np.float32)


@lru_cache(maxsize=32)
def _padded_kernel(taps: int, spread: int) -> np.ndarray:
    """The kernel table with ``spread`` zero rows before and after, flattened."""
    table = np.zeros((taps + 2 * spread, TABLE + 1), np.float32)
    table[spread:spread + taps] = kernel(taps)
    return table.ravel()


def split_offset(offset: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, int, int]:
    """Integer part, table column of the fraction, and the integer range of an offset tile.

    The offset is rounded to the table grid first (x·TABLE is exact in binary
    floating point), so a fraction that rounds up to a whole sample becomes
    column 0 of the next integer shift instead of column TABLE of this one.
    When the whole tile has one integer part (smooth offsets: most tiles),
    the integer part is not returned (None).
    """
    off = offset if offset.dtype.kind == "f" else offset.astype(np.float64)
    smin = int(np.rint(float(off.min()) * TABLE)) >> _TABLE_BITS
    smax = int(np.rint(float(off.max()) * TABLE)) >> _TABLE_BITS
    if smax - smin > _MAX_SPREAD:
        raise RasterError(f"offsets vary by {smax - smin} samples within one {_TILE[0]} × "
                          f"{_TILE[1]} tile; resample_burst expects smooth offset fields")
    scaled = np.multiply(off, TABLE)
    np.rint(scaled, out=scaled)
    if smin == smax:
        scaled -= smin * TABLE  # exact: small integers
        return None, scaled.astype(np.intp), smin, smax
    index = scaled.astype(np.intp)
    shift = index >> _TABLE_BITS
    index &= TABLE - 1
    return shift, index, smin, smax


class _Work:
    """Reusable float32 buffers of one worker thread."""

    def __init__(self) -> None:
        self.bufs: dict[str, np.ndarray] = {}

    def get(self, key: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        size = math.prod(shape)
        buf = self.bufs.get(key)
        if buf is None or buf.size < size or buf.dtype != np.dtype(dtype):
            buf = self.bufs[key] = np.empty(max(size, 1), dtype)
        return buf[:size].reshape(shape)


def taps_pass(src: np.ndarray, origin: int,
              split: tuple[np.ndarray | None, np.ndarray, int, int],
              taps: int, axis: int, out: np.ndarray, work: _Work) -> None:
    """out[:, i] = Σ_k src[:, i + origin + shift_i − taps/2 + 1 + k]·w_k(frac_i) on ``axis``.

    ``src`` and ``out`` are (2, rows, cols) stacks of real and imaginary
    planes; ``axis`` is 1 (lines) or 2 (samples); ``split`` comes from
    :func:`split_offset` on the tile's offsets.
    """
    shift, frac, smin, smax = split
    n = out.shape[axis]
    half = taps // 2 - 1
    weight = work.get("w", frac.shape)
    tmp = work.get("tmp", out.shape)
    spread = smax - smin
    if spread == 0:
        table = kernel(taps)
        rows = [(table[k], frac) for k in range(taps)]
    else:
        assert shift is not None
        flat = _padded_kernel(taps, spread)
        index = (spread - (shift - smin)) * (TABLE + 1) + frac
        rows = [(flat[j * (TABLE + 1):], index) for j in range(taps + spread)]
    for j, (table_row, idx) in enumerate(rows):
        start = origin + smin - half + j
        window = src[:, start:start + n] if axis == 1 else src[:, :, start:start + n]
        np.take(table_row, idx, out=weight, mode="clip")
        if j == 0:
            np.multiply(window, weight, out=out)
        else:
            np.multiply(window, weight, out=tmp)
            out += tmp


def mask_invalid(src: np.ndarray, origin: int, offset: np.ndarray, axis: int,
                 out: np.ndarray) -> None:
    """Zero the outputs whose nearest source sample is zero (invalid or padding)."""
    if np.count_nonzero(src[0]) == src[0].size:  # no zero sample (the usual case)
        return
    zero = (src[0] == 0) & (src[1] == 0)
    if not zero.any():
        return
    off = offset if offset.dtype.kind == "f" else offset.astype(np.float64)
    near = np.rint(off).astype(np.intp)
    n = out.shape[axis]
    lo, hi = int(near.min()), int(near.max())
    for s in range(lo, hi + 1):
        start = origin + s
        bad = zero[start:start + n] if axis == 1 else zero[:, start:start + n]
        if lo != hi:
            bad = bad & (near == s)
        out[:, bad] = 0.0


# ---------------------------------------------------------------- phase


class _RampCoefficients:
    """φ(l, p) = 2π·((a_p·u + b_p)·u + c_p), u = l − m, per column p of a TopsRamp."""

    def __init__(self, ramp: TopsRamp, samples: int) -> None:
        n = float(ramp.lines_per_burst)
        self.m = m = n / 2.0
        h = max(n / 2.0, 1.0)
        cols = np.arange(samples + 1, dtype=np.float64)[None, :]
        lo, mid, hi = (ramp(np.array([[v]]), cols)[0] / _TWO_PI for v in (m - h, m, m + h))
        self.a = (hi - 2.0 * mid + lo) / (2.0 * h * h)
        self.b = (hi - lo) / (2.0 * h)
        self.c = mid
        self.da, self.db, self.dc = (np.diff(q).astype(np.float32)
                                     for q in (self.a, self.b, self.c))

    def deramp(self, lines: range, c0: int, c1: int) -> np.ndarray:
        """e^{+jφ} on integer lines × columns c0:c1, complex64, by recurrence down the lines."""
        a, b, c = self.a[c0:c1], self.b[c0:c1], self.c[c0:c1]
        u0 = lines.start - self.m
        out = np.empty((len(lines), c1 - c0), np.complex64)

        def turn(t: np.ndarray) -> np.ndarray:
            r = _TWO_PI * (t - np.rint(t))
            return np.cos(r) + 1j * np.sin(r)

        if c1 - c0 < 256:  # narrow windows: the python loop would cost more than cos/sin
            u = np.arange(len(lines), dtype=np.float64)[:, None] + u0
            out[:] = turn((a * u + b) * u + c)
            return out
        p = turn((a * u0 + b) * u0 + c)
        q = turn(a * (2.0 * u0 + 1.0) + b)
        g = turn(2.0 * a)
        for i in range(len(lines)):
            out[i] = p
            if i + 1 < len(lines):
                p *= q
                q *= g
        return out

    def reramp_angle(self, lines: np.ndarray, c0: int, az: np.ndarray, rg: np.ndarray,
                     work: _Work) -> np.ndarray:
        """φ(l + az, p + rg) reduced to ±π, float32, for a tile at column c0.

        The line terms are summed in float64 turns; the range part
        rg·(da·u² + db·u + dc), below 0.01 turn per sample of ``rg``, in float32.
        """
        shape = az.shape
        cols = slice(c0, c0 + shape[1])
        u = work.get("u", shape, np.float64)
        t = work.get("t", shape, np.float64)
        np.add(az, (lines - self.m)[:, None], out=u)
        np.multiply(u, self.a[cols], out=t)
        t += self.b[cols]
        t *= u
        t += self.c[cols]
        u32 = work.get("u32", shape)
        small = work.get("small", shape)
        np.copyto(u32, u, casting="same_kind")
        np.multiply(u32, self.da[cols], out=small)
        small += self.db[cols]
        small *= u32
        small += self.dc[cols]
        small *= rg
        t += small
        np.rint(t, out=u)
        t -= u
        angle = work.get("angle", shape)
        np.multiply(t, _TWO_PI, out=angle, casting="same_kind")
        return angle


def _phase_at(phase: Any, line: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    if callable(phase):
        return np.asarray(phase(line, pixel), np.float64)
    from scipy.ndimage import map_coordinates

    coords = np.broadcast_arrays(line, pixel)
    return np.asarray(map_coordinates(np.asarray(phase, np.float64), coords, order=1,
                                      mode="nearest"))


class _Phase:
    """Deramp and reramp factors of one burst for any supported ``phase``."""

    def __init__(self, phase: Any, shape: tuple[int, int]) -> None:
        self.phase = phase
        self.shape = shape
        self.coeffs = (_RampCoefficients(phase, shape[1]) if isinstance(phase, TopsRamp)
                       else None)

    def deramp(self, lines: range, c0: int, c1: int) -> np.ndarray:
        if self.coeffs is not None:
            return self.coeffs.deramp(lines, c0, c1)
        if callable(self.phase):
            grid = self.phase(np.arange(lines.start, lines.stop, dtype=np.float64)[:, None],
                              np.arange(c0, c1, dtype=np.float64)[None, :])
        else:
            grid = np.broadcast_to(np.asarray(self.phase, np.float64),
                                   self.shape)[lines.start:lines.stop, c0:c1]
        return phasor(grid)

    def reramp(self, planes: np.ndarray, lines: np.ndarray, c0: int, az: np.ndarray,
               rg: np.ndarray, out: np.ndarray, work: _Work) -> None:
        """out = (planes[0] + j·planes[1])·e^{−jφ(l + az, p + rg)} (complex64 tile)."""
        if self.coeffs is not None:
            angle = self.coeffs.reramp_angle(lines, c0, az, rg, work)
            cos = np.cos(angle, out=work.get("cos", angle.shape))
            sin = np.sin(angle, out=work.get("sin", angle.shape))
            re, im = planes
            tmp = work.get("tmp2", angle.shape)
            np.multiply(re, cos, out=out.real)
            np.multiply(im, sin, out=tmp)
            out.real += tmp
            np.multiply(im, cos, out=out.imag)
            np.multiply(re, sin, out=tmp)
            out.imag -= tmp
            return
        y = lines[:, None] + az.astype(np.float64)
        pixels = np.arange(c0, c0 + az.shape[1], dtype=np.float64)[None, :]
        ph = _phase_at(self.phase, y, pixels + rg.astype(np.float64))
        out.real = planes[0]
        out.imag = planes[1]
        out *= phasor(ph, -1.0)


# ---------------------------------------------------------------- driver


def _tile(values: np.ndarray, az: np.ndarray, rg: np.ndarray, phase: _Phase | None, taps: int,
          out: np.ndarray, r0: int, r1: int, c0: int, c1: int, work: _Work) -> None:
    """Resample output lines r0:r1 × samples c0:c1 into ``out``."""
    nl, ns = values.shape
    half = taps // 2 - 1
    az_t = az[r0:r1, c0:c1]
    split_a = split_offset(az_t)
    # secondary lines needed by the azimuth pass, and the part inside the burst
    i_lo = r0 + split_a[2] - half
    i_hi = r1 + split_a[3] + taps - half
    ranged = work.get("ranged", (2, i_hi - i_lo, c1 - c0))
    l0, l1 = max(i_lo, 0), min(i_hi, nl)
    if l0 >= l1:
        out[r0:r1, c0:c1] = 0
        return
    ranged[:, :l0 - i_lo] = 0.0
    ranged[:, l1 - i_lo:] = 0.0
    rg_t = rg[l0:l1, c0:c1]
    split_r = split_offset(rg_t)
    j_lo = c0 + split_r[2] - half
    j_hi = c1 + split_r[3] + taps - half
    k0, k1 = max(j_lo, 0), min(j_hi, ns)
    src = work.get("src", (2, l1 - l0, j_hi - j_lo))
    edge = k0 > j_lo or k1 < j_hi
    if edge:
        src[:, :, :k0 - j_lo] = 0.0
        src[:, :, k1 - j_lo:] = 0.0
    if k0 < k1:
        block = values[l0:l1, k0:k1]
        if phase is not None:
            block = block * phase.deramp(range(l0, l1), k0, k1)
        src[0, :, k0 - j_lo:k1 - j_lo] = block.real
        src[1, :, k0 - j_lo:k1 - j_lo] = block.imag
    else:
        src[:] = 0.0
    body = ranged[:, l0 - i_lo:l1 - i_lo]
    taps_pass(src, c0 - j_lo, split_r, taps, 2, body, work)
    mask_invalid(src, c0 - j_lo, rg_t, 2, body)
    planes = work.get("az_out", (2, r1 - r0, c1 - c0))
    taps_pass(ranged, r0 - i_lo, split_a, taps, 1, planes, work)
    mask_invalid(ranged, r0 - i_lo, az_t, 1, planes)
    target = out[r0:r1, c0:c1]
    if phase is None:
        target.real = planes[0]
        target.imag = planes[1]
    else:
        lines = np.arange(r0, r1, dtype=np.float64)
        phase.reramp(planes, lines, c0, az_t, rg[r0:r1, c0:c1], target, work)


def resample(values: np.ndarray, az: np.ndarray, rg: np.ndarray, *,
             phase: Callable[..., Any] | np.ndarray | None, taps: int,
             threads: int | None = None) -> np.ndarray:
    """out[l, p] = sec(l + az[l, p], p + rg[l, p]) with deramp/reramp (see the module doc).

    ``az`` and ``rg`` are finite fields (or broadcast views) of ``values``'
    shape; checks are the caller's.
    """
    nl, ns = values.shape
    out = np.empty((nl, ns), np.complex64)
    ph = _Phase(phase, (nl, ns)) if phase is not None else None
    tl, tc = _TILE
    # tile edges; a short last tile is merged into the one before it
    row_edges = list(range(0, nl, tl)) + [nl]
    if len(row_edges) > 2 and nl - row_edges[-2] < tl // 2:
        del row_edges[-2]
    col_edges = list(range(0, ns, tc)) + [ns]
    if len(col_edges) > 2 and ns - col_edges[-2] < tc // 2:
        del col_edges[-2]
    jobs = [(r0, r1, c0, c1) for r0, r1 in zip(row_edges[:-1], row_edges[1:], strict=True)
            for c0, c1 in zip(col_edges[:-1], col_edges[1:], strict=True)]
    nworkers = max(1, min(threads if threads is not None else min(4, os.cpu_count() or 1),
                          len(jobs)))

    def work(first: int) -> None:
        ws = _Work()
        for r0, r1, c0, c1 in jobs[first::nworkers]:
            _tile(values, az, rg, ph, taps, out, r0, r1, c0, c1, ws)

    if nworkers == 1:
        work(0)
    else:
        with ThreadPoolExecutor(max_workers=nworkers) as pool:
            list(pool.map(work, range(nworkers)))
    return out
