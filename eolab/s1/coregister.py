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
at 1/1024 sample), tile by tile on threads with no full-size intermediate
(:mod:`eolab.s1._resample`; ``benchmarks/bench_s1_burst.py`` times it on a
full burst); the range pass runs on the
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

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from eolab.errors import RasterError
from eolab.s1._correlate import patch_offsets
from eolab.s1._esd import esd_shift
from eolab.s1._resample import resample
from eolab.s1.tops import TopsRamp, phasor

__all__ = ["OffsetFit", "esd_shift", "refine_offsets", "resample_burst"]

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
        Threads over tiles of 64 × 1024 samples (default ``min(4, os.cpu_count())``).

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
    out = resample(values, az, rg, phase=phase, taps=taps, threads=threads)
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

    def evaluate(self, shape: tuple[int, int] | None = None, *,
                 dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """(az, rg) fields on the ``shape`` grid (default the burst's), as ``dtype``.

        ``dtype=np.float32`` halves the memory of full-burst fields (the
        polynomial itself is evaluated in float64).
        """
        nl, ns = shape or self.shape
        u = np.arange(nl, dtype=np.float64)[:, None] / self.shape[0]
        v = np.arange(ns, dtype=np.float64)[None, :] / self.shape[1]
        terms = _terms(u, v, self.degree)
        az = sum(c * t for c, t in zip(self.az_coeffs, terms, strict=True))
        rg = sum(c * t for c, t in zip(self.rg_coeffs, terms, strict=True))
        return (np.broadcast_to(az, (nl, ns)).astype(dtype),
                np.broadcast_to(rg, (nl, ns)).astype(dtype))

    @property
    def rms(self) -> tuple[float, float]:
        """RMS residual of the used patches to the fit (lines, pixels)."""
        u, v = self.lines / self.shape[0], self.pixels / self.shape[1]
        terms = _terms(u, v, self.degree)
        res = [m - sum(c * t for c, t in zip(co, terms, strict=True))
               for m, co in ((self.az, self.az_coeffs), (self.rg, self.rg_coeffs))]
        return tuple(float(np.sqrt(np.mean(r[self.used] ** 2))) for r in res)  # type: ignore


def _terms(u: Any, v: Any, degree: int) -> list[Any]:
    # patch lists: one per patch; grids (lines, 1) × (1, samples): a broadcastable 1
    one = np.ones_like(u * v) if np.ndim(u) < 2 else np.ones((1,) * np.ndim(u))
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


def _window_phase(sec_phase: Any, w0: int, w1: int, v0: int, v1: int,
                  shape: tuple[int, int]) -> Any:
    """The secondary's phase for the window [w0, w1) × [v0, v1) of a burst of ``shape``."""
    if isinstance(sec_phase, TopsRamp):  # the same ramp, counted from the window's corner
        return replace(sec_phase, lines_per_burst=sec_phase.lines_per_burst - 2 * w0,
                       slant_range_time=(sec_phase.slant_range_time
                                         + v0 / sec_phase.range_sampling_rate),
                       reference_pixel=sec_phase.reference_pixel - v0)
    if callable(sec_phase):
        def ph(line: Any, pixel: Any) -> Any:
            return sec_phase(line + w0, pixel + v0)
        return ph
    if sec_phase is not None:  # an array on the burst grid: the window, edge-extended
        full = np.broadcast_to(np.asarray(sec_phase, np.float64), shape)
        return full[np.ix_(np.clip(np.arange(w0, w1), 0, shape[0] - 1),
                           np.clip(np.arange(v0, v1), 0, shape[1] - 1))]
    return None


def _resampled_patches(sec: np.ndarray, offsets: tuple[Any, Any], sec_phase: Any,
                       rows: np.ndarray, cols: np.ndarray, patch: int) -> np.ndarray:
    """The secondary resampled onto the reference patches starting at (rows, cols).

    Each patch is resampled from a window of the secondary around where it
    lands (the patch moved by its rounded offsets), a margin of 10 samples
    plus the offsets' variation around that shift wide, so the work does not
    grow with the offsets themselves.
    """
    nl, ns = sec.shape
    az = np.broadcast_to(np.asarray(offsets[0]), sec.shape)
    rg = np.broadcast_to(np.asarray(offsets[1]), sec.shape)
    out = np.empty((rows.size, patch, patch), np.complex64)
    for i, (r0, c0) in enumerate(zip(rows, cols, strict=True)):
        near = (slice(max(r0 - 10, 0), min(r0 + patch + 10, nl)),
                slice(max(c0 - 10, 0), min(c0 + patch + 10, ns)))
        a_near, r_near = az[near], rg[near]
        if not (np.isfinite(a_near).all() and np.isfinite(r_near).all()):
            raise RasterError("offset fields contain NaN or inf; fill them (e.g. by nearest "
                              "valid value) before resampling")
        sa = int(np.rint(a_near[a_near.shape[0] // 2, a_near.shape[1] // 2]))
        sr = int(np.rint(r_near[r_near.shape[0] // 2, r_near.shape[1] // 2]))
        reach = max(float(np.max(np.abs(a_near - sa))), float(np.max(np.abs(r_near - sr))))
        m = 10 + int(np.ceil(reach))
        size = patch + 2 * m
        # reference window [r0 - m, r0 + patch + m) × [c0 - m, …): its offsets, edge-padded
        ref_rows = np.clip(np.arange(r0 - m, r0 + patch + m), 0, nl - 1)
        ref_cols = np.clip(np.arange(c0 - m, c0 + patch + m), 0, ns - 1)
        a_win = az[np.ix_(ref_rows, ref_cols)] - sa
        r_win = rg[np.ix_(ref_rows, ref_cols)] - sr
        # secondary window moved by (sa, sr), zero outside the burst
        w0, v0 = r0 - m + sa, c0 - m + sr
        window = np.zeros((size, size), np.complex64)
        s0, s1 = max(w0, 0), min(w0 + size, nl)
        t0, t1 = max(v0, 0), min(v0 + size, ns)
        if s0 < s1 and t0 < t1:
            window[s0 - w0:s1 - w0, t0 - v0:t1 - v0] = sec[s0:s1, t0:t1]
        moved = resample_burst(window, a_win, r_win, threads=1,
                               phase=_window_phase(sec_phase, w0, w0 + size, v0, v0 + size,
                                                   sec.shape))
        out[i] = moved[m:m + patch, m:m + patch]
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
