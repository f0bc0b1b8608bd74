"""Resampling of a secondary burst onto the reference grid, and offset refinement.

Offsets follow one convention throughout: the reference sample (l, p) is
found in the secondary at (l + az_offset[l, p], p + rg_offset[l, p]), so the
resampled burst is ``out[l, p] = sec(l + az_offset, p + rg_offset)``. The
geometric offsets come from the orbits (:mod:`eolab.s1.geometry`, evaluated
on a coarse grid and interpolated); :func:`refine_offsets` measures what is
left by cross-correlating amplitudes and fits a low-order polynomial, to be
added to the geometric field before resampling again.

Resampling is separable: a range pass then an azimuth pass of a
Kaiser-windowed sinc (``taps`` samples, 8 by default, weights from a table
at 1/1024 sample), vectorised over rows; the range pass runs on the
secondary's rows with the range offsets of the same row index, which
assumes smooth fields (∂rg/∂line × az_offset ≪ 1 sample). TOPS bursts are deramped on the
secondary grid first and reramped after with the phase evaluated at the
resampled coordinates (:mod:`eolab.s1.tops`); without that, the aliased
azimuth spectrum is destroyed by any interpolator. Output samples whose
nearest secondary sample is outside the burst or invalid (zero) are 0.
:func:`esd_shift` gives the azimuth correction from a burst overlap
(enhanced spectral diversity), needed for phase continuity across seams.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from eolab.errors import RasterError
from eolab.s1._correlate import patch_offsets
from eolab.s1._esd import esd_shift
from eolab.s1.tops import TopsRamp, phasor

__all__ = ["OffsetFit", "esd_shift", "refine_offsets", "resample_burst"]

_TABLE = 1024  # kernel table resolution (fractions of a sample)
_ROWS = 32     # rows per vectorised chunk
_BETA = 0.5 * np.pi  # Kaiser window of the sinc (8 taps: 0.9995 az, 0.998 rg at 0.67/0.88 band)


@lru_cache(maxsize=8)
def _kernel(taps: int, beta: float) -> np.ndarray:
    """(taps, _TABLE + 1) weights for fractional shifts 0…1, each column summing to 1."""
    frac = np.arange(_TABLE + 1) / _TABLE
    k = np.arange(taps)[:, None] - (taps // 2 - 1)  # taps at floor(x) − taps/2 + 1 …
    d = k - frac[None, :]
    w = np.sinc(d) * np.i0(beta * np.sqrt(np.clip(1 - (d / (taps / 2)) ** 2, 0, 1))) / np.i0(beta)
    return np.asarray(w / w.sum(axis=0, keepdims=True), dtype=np.float32)


@lru_cache(maxsize=8)
def _padded_kernel(taps: int, spread: int) -> np.ndarray:
    """The kernel table with ``spread`` zero rows before and after."""
    table = np.zeros((taps + 2 * spread, _TABLE + 1), np.float32)
    table[spread:spread + taps] = _kernel(taps, _BETA)
    return table


def _window(padded: np.ndarray, axis: int, first: int, count: int) -> np.ndarray:
    return padded[:, first:first + count] if axis == 1 else padded[first:first + count]


def _interp_axis(padded: np.ndarray, first: int, coord: np.ndarray, axis: int,
                 taps: int) -> np.ndarray:
    """Windowed-sinc samples at ``coord`` along ``axis`` of a zero-padded array.

    Output sample j (along ``axis``; j counts from 0 in this chunk) sits at grid
    index j of the padded array shifted by ``first``: coord = j + shift with
    shift = coord − j small and smooth. Instead of gathering, the kernel is
    applied with shifted *slices* over the chunk's range of integer shifts
    (one or two values for smooth offsets), each tap's weight taken from the
    table at the sample's own fraction (and zero for taps outside its shift).
    Samples whose nearest source sample is zero (invalid or padding) are 0.
    """
    count = coord.shape[axis]
    grid = np.arange(count)[:, None] if axis == 0 else np.arange(count)[None, :]
    base = np.floor(coord)
    frac = np.rint((coord - base) * _TABLE).astype(np.intp)
    shift = base.astype(np.intp) - grid
    smin, smax = int(shift.min()), int(shift.max())
    spread = smax - smin
    if spread > 16:
        raise RasterError(f"offsets vary by {spread} samples within {_ROWS} lines; resample_burst "
                          "expects smooth offset fields")
    half = taps // 2 - 1
    out = np.zeros(coord.shape, np.complex64)
    tmp = np.empty(coord.shape, np.complex64)
    weight = np.empty(coord.shape, np.float32)
    if spread == 0:
        table = _kernel(taps, _BETA)
        for k in range(taps):
            np.take(table[k], frac, out=weight)
            np.multiply(_window(padded, axis, first + smin - half + k, count), weight, out=tmp)
            out += tmp
    else:
        table = _padded_kernel(taps, spread)
        row = spread - (shift - smin)  # table row of position j is row + j
        for j in range(taps + spread):
            np.multiply(_window(padded, axis, first + smin - half + j, count),
                        table[row + j, frac], out=tmp)
            out += tmp
    near = np.rint(coord).astype(np.intp) - grid
    for s in range(int(near.min()), int(near.max()) + 1):
        bad = _window(padded, axis, first + s, count) == 0
        out[bad & (near == s) if near.min() != near.max() else bad] = 0
    return out


def _phase_at(phase: Any, line: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    if callable(phase):
        return np.asarray(phase(line, pixel), np.float64)
    from scipy.ndimage import map_coordinates

    coords = np.broadcast_arrays(line, pixel)
    return np.asarray(map_coordinates(np.asarray(phase, np.float64), coords, order=1,
                                      mode="nearest"))


def resample_burst(burst: Any, az_offset: Any, rg_offset: Any, *,
                   phase: Callable[..., Any] | np.ndarray | None = None,
                   taps: int = 8, threads: int | None = None) -> Any:
    """Resample a secondary burst onto the reference grid.

    Parameters
    ----------
    burst : array-like or xarray.DataArray, complex (lines, samples)
        The secondary burst.
    az_offset, rg_offset : array-like
        Offsets (secondary − reference, in lines and pixels) broadcastable to
        the output grid; the output has the shape of their broadcast with
        the burst's shape. Smooth fields.
    phase : callable or array, optional
        The secondary's TOPS phase: a :class:`eolab.s1.tops.TopsRamp` (or any
        ``f(line, pixel)``), or φ on the secondary grid (then interpolated
        bilinearly at the resampled coordinates). None: no deramping (for
        stripmap-like or already deramped data).
    taps : int
        Length of the windowed-sinc kernel (even, ≥ 4).
    threads : int, optional
        Threads over row chunks (default ``min(4, os.cpu_count())``).

    Returns
    -------
    The resampled burst, complex64; a DataArray keeps its coords and attrs.
    """
    values = burst.values if isinstance(burst, xr.DataArray) else np.asarray(burst)
    if values.ndim != 2 or not np.iscomplexobj(values):
        raise RasterError(f"burst must be 2-D complex; got {values.dtype} {values.shape}")
    if taps < 4 or taps % 2:
        raise RasterError(f"taps must be even and >= 4; got {taps}")
    try:
        shape = np.broadcast_shapes(values.shape, np.shape(az_offset), np.shape(rg_offset))
    except ValueError:
        raise RasterError(f"offsets of shapes {np.shape(az_offset)}, {np.shape(rg_offset)} do "
                          f"not broadcast to the burst {values.shape}") from None
    if shape != values.shape:
        raise RasterError(f"offsets broadcast to {shape}, larger than the burst {values.shape}")
    az = np.broadcast_to(np.asarray(az_offset), shape)  # float32 fields stay float32
    rg = np.broadcast_to(np.asarray(rg_offset), shape)
    if not (np.isfinite(az).all() and np.isfinite(rg).all()):
        raise RasterError("offset fields contain NaN or inf; fill them (e.g. by nearest "
                          "valid value) before resampling")
    nl, ns = shape
    pad_rg = taps + int(np.ceil(max(abs(float(np.min(rg))), abs(float(np.max(rg))))))
    pad_az = taps + int(np.ceil(max(abs(float(np.min(az))), abs(float(np.max(az))))))
    lines = np.arange(nl, dtype=np.float64)[:, None]
    pixels = np.arange(ns, dtype=np.float64)[None, :]
    ranged = np.zeros((nl + 2 * pad_az, ns), np.complex64)  # range pass, rows padded with 0
    out = np.empty(shape, np.complex64)
    chunks = [slice(r, min(r + _ROWS, nl)) for r in range(0, nl, _ROWS)]

    def range_pass(rows: slice) -> None:
        src = np.zeros((rows.stop - rows.start, ns + 2 * pad_rg), np.complex64)
        src[:, pad_rg:pad_rg + ns] = values[rows]
        if phase is not None:  # deramp on the secondary grid
            grid = (phase(lines[rows], pixels) if callable(phase)
                    else np.broadcast_to(np.asarray(phase, np.float64), shape)[rows])
            src[:, pad_rg:pad_rg + ns] *= phasor(grid)
        ranged[pad_az + rows.start:pad_az + rows.stop] = _interp_axis(
            src, pad_rg, pixels + rg[rows].astype(np.float64), 1, taps)

    def azimuth_pass(rows: slice) -> None:
        y = lines[rows] + az[rows].astype(np.float64)
        out[rows] = _interp_axis(ranged, pad_az + rows.start, y - rows.start, 0, taps)
        if phase is not None:  # reramp at the resampled coordinates
            r = rg[rows].astype(np.float64)
            ph = (phase.on_columns(y, r) if isinstance(phase, TopsRamp)
                  else _phase_at(phase, y, pixels + r))
            out[rows] *= phasor(ph, -1.0)

    nthreads = threads if threads is not None else min(4, os.cpu_count() or 1)
    if nthreads > 1:
        with ThreadPoolExecutor(max_workers=nthreads) as pool:
            list(pool.map(range_pass, chunks))
            list(pool.map(azimuth_pass, chunks))
    else:
        for rows in chunks:
            range_pass(rows)
        for rows in chunks:
            azimuth_pass(rows)
    if isinstance(burst, xr.DataArray):
        return burst.copy(data=out)
    return out


@dataclass(frozen=True)
class OffsetFit:
    """Offsets measured in patches and their polynomial fit.

    ``evaluate(shape)`` gives (az, rg) offset fields on a grid; the
    polynomial is in normalised coordinates u = line/lines, v = pixel/samples
    with terms 1, u, v (degree 1), u², uv, v² (degree 2).
    """

    lines: np.ndarray
    pixels: np.ndarray
    az: np.ndarray
    rg: np.ndarray
    quality: np.ndarray
    used: np.ndarray
    az_coeffs: np.ndarray
    rg_coeffs: np.ndarray
    degree: int
    shape: tuple[int, int]

    def evaluate(self, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        nl, ns = shape or self.shape
        u = np.arange(nl, dtype=np.float64)[:, None] / self.shape[0]
        v = np.arange(ns, dtype=np.float64)[None, :] / self.shape[1]
        terms = _terms(u, v, self.degree)
        az = sum(c * t for c, t in zip(self.az_coeffs, terms, strict=True))
        rg = sum(c * t for c, t in zip(self.rg_coeffs, terms, strict=True))
        return (np.broadcast_to(az, (nl, ns)).astype(np.float64),
                np.broadcast_to(rg, (nl, ns)).astype(np.float64))

    @property
    def rms(self) -> tuple[float, float]:
        """RMS residual of the used patches to the fit (lines, pixels)."""
        u, v = self.lines / self.shape[0], self.pixels / self.shape[1]
        terms = _terms(u, v, self.degree)
        res = [m - sum(c * t for c, t in zip(co, terms, strict=True))
               for m, co in ((self.az, self.az_coeffs), (self.rg, self.rg_coeffs))]
        return tuple(float(np.sqrt(np.mean(r[self.used] ** 2))) for r in res)  # type: ignore


def _terms(u: Any, v: Any, degree: int) -> list[Any]:
    one = np.ones_like(u * v)
    return [one, u, v, u * u, u * v, v * v][: {0: 1, 1: 3, 2: 6}[degree]]


def _robust_fit(a: np.ndarray, terms: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = ok.copy()
    coeffs = np.zeros(terms.shape[1])
    for _ in range(5):
        coeffs, *_ = np.linalg.lstsq(terms[used], a[used], rcond=None)
        res = a - terms @ coeffs
        mad = 1.4826 * np.median(np.abs(res[used])) + 1e-3
        new = ok & (np.abs(res) < 3 * mad)
        if new.sum() < terms.shape[1] or np.array_equal(new, used):
            break
        used = new
    return coeffs, used


def _resampled_patches(sec: np.ndarray, offsets: tuple[Any, Any], sec_phase: Any,
                       rows: np.ndarray, cols: np.ndarray, patch: int) -> np.ndarray:
    """The secondary resampled onto the reference patches starting at (rows, cols)."""
    nl, ns = sec.shape
    az = np.broadcast_to(np.asarray(offsets[0]), sec.shape)
    rg = np.broadcast_to(np.asarray(offsets[1]), sec.shape)
    margin = 10 + int(np.ceil(max(np.abs(az).max(), np.abs(rg).max())))
    out = np.empty((rows.size, patch, patch), np.complex64)
    for i, (r0, c0) in enumerate(zip(rows, cols, strict=True)):
        w0, w1 = max(r0 - margin, 0), min(r0 + patch + margin, nl)
        v0, v1 = max(c0 - margin, 0), min(c0 + patch + margin, ns)
        ph: Any = None
        if callable(sec_phase):
            def ph(line: Any, pixel: Any, w0: int = w0, v0: int = v0) -> Any:
                return sec_phase(line + w0, pixel + v0)
        elif sec_phase is not None:
            ph = np.asarray(sec_phase)[w0:w1, v0:v1]
        window = resample_burst(sec[w0:w1, v0:v1], az[w0:w1, v0:v1], rg[w0:w1, v0:v1],
                                phase=ph, threads=1)
        out[i] = window[r0 - w0:r0 - w0 + patch, c0 - v0:c0 - v0 + patch]
    return out


def refine_offsets(ref: Any, sec: Any, *, patch: int = 64, grid: tuple[int, int] = (6, 12),
                   degree: int = 1, upsample: int = 16, min_quality: float = 0.3,
                   phase: Any = None, offsets: tuple[Any, Any] | None = None,
                   sec_phase: Any = None) -> OffsetFit:
    """Residual offsets of a (geometrically resampled) secondary by amplitude correlation.

    ``sec`` is either already resampled onto the reference grid, or — with
    ``offsets=(az_offset, rg_offset)``, the geometric fields — the original
    secondary burst: then only the patches are resampled (with
    :func:`resample_burst` and the secondary's ramp ``sec_phase``), which
    saves a full-burst resampling before the final one.

    In ``grid`` patches of ``patch`` × ``patch`` samples, both images are
    deramped (when ``phase``, the ramp on the reference grid, is given),
    oversampled ×2 by FFT (so that detection does not alias), detected, and
    cross-correlated; the peak is located on a 1/(2·upsample)-sample grid with an
    upsampled matrix DFT (Guizar-Sicairos et al. 2008) and a parabola through it. Patches whose
    normalised peak is below ``min_quality`` or that hold invalid (zero)
    samples are dropped, and a degree-0/1/2 polynomial is fitted per axis
    with 3-MAD outlier rejection. Offsets use :func:`resample_burst`'s
    convention: sec(l + az, p + rg) ≈ ref(l, p).
    """
    a = ref.values if isinstance(ref, xr.DataArray) else np.asarray(ref)
    b = sec.values if isinstance(sec, xr.DataArray) else np.asarray(sec)
    if a.shape != b.shape or a.ndim != 2:
        raise RasterError(f"ref and sec must be 2-D of one shape; got {a.shape} and {b.shape}")
    if degree not in (0, 1, 2):
        raise RasterError(f"degree must be 0, 1 or 2; got {degree}")
    nl, ns = a.shape
    if nl < patch or ns < patch:
        raise RasterError(f"burst {a.shape} smaller than one {patch}-sample patch")
    half = patch // 2
    cl = np.linspace(half, nl - half, grid[0]).astype(int)
    cp = np.linspace(half, ns - half, grid[1]).astype(int)
    lines, pixels = (g.ravel() for g in np.meshgrid(cl, cp, indexing="ij"))
    offs = np.arange(-half, patch - half)
    rows = lines[:, None, None] + offs[None, :, None]  # (n, patch, 1)
    cols = pixels[:, None, None] + offs[None, None, :]  # (n, 1, patch)
    pa = a[rows, cols]
    if offsets is None:
        pb = b[rows, cols]
    else:
        pb = _resampled_patches(b, offsets, sec_phase, lines - half, pixels - half, patch)
    if phase is not None:  # deramp the patches only
        ph = (phase(rows.astype(float), cols.astype(float)) if callable(phase)
              else np.asarray(phase)[rows, cols])
        rot = phasor(ph)
        pa, pb = pa * rot, pb * rot
    az, rg, quality = patch_offsets(pa, pb, upsample=upsample)
    valid = ((pa != 0) & (pb != 0)).all(axis=(1, 2)) & (quality >= min_quality)
    if valid.sum() < {0: 1, 1: 3, 2: 6}[degree]:
        raise RasterError(f"only {int(valid.sum())} of {valid.size} patches correlate (peak ≥ "
                          f"{min_quality}); lower min_quality or check the geometric offsets")
    terms = np.stack(_terms(lines / nl, pixels / ns, degree), axis=1)
    az_c, used_a = _robust_fit(az, terms, valid)
    rg_c, used_r = _robust_fit(rg, terms, valid)
    return OffsetFit(lines=lines, pixels=pixels, az=az, rg=rg, quality=quality,
                     used=used_a & used_r, az_coeffs=az_c, rg_coeffs=rg_c, degree=degree,
                     shape=(nl, ns))
