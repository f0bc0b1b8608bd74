"""Interferometric coherence of two coregistered complex images, and its bias.

The sample coherence over a box of ``window = (azimuth, range)`` samples is

    γ̂ = |Σ s1·s2*·e^{−jφ_ref}| / √(Σ|s1|² · Σ|s2|²)

(S1_NOTES §5). The default window is 3 azimuth × 10 range samples, which is
SNAP's ``CoherenceOp`` default (``cohWinRg = 10``, square pixels → 3 lines).
Flat-earth (reference) phase removal is **off by default**, as in SNAP
(``subtractFlatEarthPhase = false``): over 10 range samples the flat-earth
fringe of a typical Sentinel-1 pair (B⊥ ≤ 100 m) costs a few per cent of
coherence (≈ 3.5 % at 100 m). Pass ``flat_phase`` — e.g. from
:func:`flat_earth_phase` and the geometric range offsets — to remove it.

Box sums are vectorised: the four sums (Re and Im of s1·s2*, |s1|², |s2|²)
are stacked in one float32 array and summed by binary doubling of shifted
slices (⌈log2 n⌉ + popcount(n) − 1 additions per axis, each of at most n
terms, so float32 is accurate: no long cumulative sums). Boxes are centred
for odd sizes; for an even size n the box spans offsets −n/2 … n/2 − 1
(half a sample off-centre, the same as ``scipy.ndimage.uniform_filter``).
Samples equal to zero (Sentinel-1's invalid area) or non-finite in either
image are masked out of every sum; the image is padded with such invalid
samples, so a box at an edge is truncated (fewer looks, more bias), and the
result is NaN where the centre sample is invalid. Rows are processed in
chunks, on ``threads`` threads (numpy releases the GIL) or, for dask-backed
inputs, block by block with ``dask.array.map_overlap``.

The estimator is biased upwards for few looks; :func:`expected_coherence` is
the mean of γ̂ for L independent looks (Touzi et al. 1999) and
:func:`debias_coherence` inverts it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from eolab.errors import RasterError

__all__ = ["coherence", "debias_coherence", "expected_coherence", "flat_earth_phase"]

_CHUNK_ROWS = 16  # rows per work unit: the stacked float32 buffers stay ~ a few MB


def flat_earth_phase(range_offset: Any, *, range_pixel_spacing: float,
                     wavelength: float) -> Any:
    """Reference phase φ_ref = 4π·Δr/λ of a range offset field (pixels).

    ``range_offset`` is the secondary-minus-reference slant-range offset in
    pixels (R_sec − R_ref = offset × spacing), as used by isce2; the result
    (radians, same shape) is the ``flat_phase`` of :func:`coherence`.
    """
    return 4.0 * np.pi * np.asarray(range_offset, dtype=np.float64) * (
        float(range_pixel_spacing) / float(wavelength))


def _buf(ws: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    """A reusable float32 work buffer (fresh allocations page-fault on every chunk)."""
    size = int(np.prod(shape))
    if key not in ws or ws[key].size < size:
        ws[key] = np.empty(size, np.float32)
    return ws[key][:size].reshape(shape)


def _box_sum(x: np.ndarray, n: int, axis: int, ws: dict[str, np.ndarray]) -> np.ndarray:
    """out[j] = x[j] + … + x[j+n−1] along ``axis`` (length shrinks by n − 1)."""
    def sl(a: np.ndarray, start: int, stop: int) -> np.ndarray:
        index = [slice(None)] * a.ndim
        index[axis] = slice(start, stop)
        return a[tuple(index)]

    def shape(length: int) -> tuple[int, ...]:
        return x.shape[:axis] + (length,) + x.shape[axis + 1:]

    out_len = x.shape[axis] - n + 1
    pieces = []
    t, w, pos = x, 1, 0
    while True:
        if n & w:
            pieces.append(sl(t, pos, pos + out_len))
            pos += w
        if 2 * w > n:
            break
        length = t.shape[axis]
        # sums of 2w samples
        t = np.add(sl(t, 0, length - w), sl(t, w, length),
                   out=_buf(ws, f"t{axis}.{w}", shape(length - w)))
        w *= 2
    if len(pieces) == 1:
        return pieces[0]
    result = np.add(pieces[0], pieces[1], out=_buf(ws, f"r{axis}", shape(out_len)))
    for piece in pieces[2:]:
        result += piece
    return np.asarray(result)


def _block(s1: np.ndarray, s2: np.ndarray, rot: np.ndarray | None, window: tuple[int, int],
           out: np.ndarray, r0: int, r1: int, ws: dict[str, np.ndarray]) -> None:
    """Coherence of rows r0:r1 of the full arrays into out[r0:r1]."""
    wa, wr = window
    ha, hr = wa // 2, wr // 2
    nrows, ncols = s1.shape
    lo, hi = max(r0 - ha, 0), min(r1 + (wa - 1 - ha), nrows)
    k0, k1 = lo - (r0 - ha), hi - (r0 - ha)  # stacked rows holding image rows lo:hi
    m = r1 - r0
    x = _buf(ws, "x", (m + wa - 1, ncols + wr - 1, 4))
    x[:k0] = 0.0
    x[k1:] = 0.0
    x[k0:k1, :hr] = 0.0
    x[k0:k1, hr + ncols:] = 0.0
    body = x[k0:k1, hr:hr + ncols]
    prod = body[..., :2].view(np.complex64)[..., 0]
    a, b = s1[lo:hi], s2[lo:hi]
    np.multiply(a, np.conjugate(b), out=prod, casting="unsafe")
    if rot is not None:  # rot holds the phase φ: multiply by e^{−jφ}, block by block
        ph = rot[lo:hi] if rot.shape[0] > 1 else rot
        turn = _buf(ws, "turn", (hi - lo, ncols, 2))
        np.cos(ph, out=turn[..., 0], casting="unsafe")
        np.sin(ph, out=turn[..., 1], casting="unsafe")
        np.negative(turn[..., 1], out=turn[..., 1])
        prod *= turn.view(np.complex64)[..., 0]
    for k, arr in ((2, a), (3, b)):
        re_im = arr.view(np.float32 if arr.dtype == np.complex64 else np.float64)
        sq = np.multiply(re_im, re_im, out=_buf(ws, "sq", re_im.shape), casting="unsafe")
        np.add(sq[:, 0::2], sq[:, 1::2], out=body[..., k])
    invalid = ~(body[..., 2] * body[..., 3] > 0)  # zero or NaN in either image
    if invalid.any():
        body[invalid] = 0.0
    sums = _box_sum(_box_sum(x, wa, axis=0, ws=ws), wr, axis=1, ws=ws)
    num = _buf(ws, "num", (m, ncols))
    den = _buf(ws, "den", (m, ncols))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.multiply(sums[..., 0], sums[..., 0], out=num)
        np.multiply(sums[..., 1], sums[..., 1], out=den)
        num += den
        np.multiply(sums[..., 2], sums[..., 3], out=den)
        num /= den
        np.sqrt(num, out=num)
    np.minimum(num, 1.0, out=num)  # rounding can reach 1 + 1e-7; NaN stays NaN
    num[invalid[r0 - lo:r0 - lo + m]] = np.nan
    out[r0:r1] = num


def _coherence_numpy(s1: np.ndarray, s2: np.ndarray, phase: np.ndarray | None,
                     window: tuple[int, int], threads: int) -> np.ndarray:
    if s1.dtype not in (np.complex64, np.complex128):
        s1 = s1.astype(np.complex64)
    if s2.dtype not in (np.complex64, np.complex128):
        s2 = s2.astype(np.complex64)
    s1, s2 = np.ascontiguousarray(s1), np.ascontiguousarray(s2)
    rot = None  # the phase itself; each block turns it into e^{−jφ} (no full complex copy)
    if phase is not None:
        ph = np.asarray(phase)
        if ph.dtype.kind != "f":
            ph = ph.astype(np.float64)
        ph = ph.reshape((1,) * (2 - ph.ndim) + ph.shape)
        rot = np.broadcast_to(ph, (1 if ph.shape[0] == 1 else s1.shape[0], s1.shape[1]))
    out = np.empty(s1.shape, np.float32)
    nrows = s1.shape[0]
    jobs = [(r, min(r + _CHUNK_ROWS, nrows)) for r in range(0, nrows, _CHUNK_ROWS)]
    nworkers = max(1, min(threads, len(jobs)))

    def work(first: int) -> None:
        ws: dict[str, np.ndarray] = {}
        for r0, r1 in jobs[first::nworkers]:
            _block(s1, s2, rot, window, out, r0, r1, ws)

    if nworkers == 1:
        work(0)
    else:
        with ThreadPoolExecutor(max_workers=nworkers) as pool:
            list(pool.map(work, range(nworkers)))
    return out


def _as_2d(arr: Any, dims: tuple[Any, ...] | None, name: str) -> tuple[Any, xr.DataArray | None]:
    if isinstance(arr, xr.DataArray):
        if dims is not None:
            missing = [d for d in dims if d not in arr.dims]
            if missing or arr.ndim != 2:
                raise RasterError(f"{name} has dims {arr.dims}; expected the 2-D dims {dims} "
                                  "(pass dims=(azimuth_dim, range_dim))")
            arr = arr.transpose(*dims)
        if arr.ndim != 2:
            raise RasterError(f"{name} must be 2-D (azimuth, range); got dims {arr.dims}")
        return arr.data, arr
    data = np.asarray(arr)
    if data.ndim != 2:
        raise RasterError(f"{name} must be a 2-D (azimuth, range) array; got shape {data.shape}")
    return data, None


def coherence(s1: Any, s2: Any, *, window: tuple[int, int] = (3, 10),
              flat_phase: Any = None, dims: tuple[str, str] | None = None,
              threads: int | None = None) -> xr.DataArray:
    """Sample coherence of two coregistered complex images over a box window.

    Parameters
    ----------
    s1, s2 : array-like or xarray.DataArray, complex
        Reference and coregistered secondary, (azimuth, range), same shape.
        Zero and non-finite samples are invalid. dask-backed DataArrays are
        processed lazily with ``dask.array.map_overlap``.
    window : (int, int), keyword-only
        Box size (azimuth, range); default SNAP's (3, 10).
    flat_phase : array-like, optional
        Reference phase φ_ref in radians, broadcastable to (azimuth, range)
        (a 1-D array is taken along range); s1·s2* is multiplied by
        e^{−jφ_ref}. Default None: no removal (see the module docstring).
    dims : (str, str), optional
        Names of the (azimuth, range) dims of DataArray inputs; default the
        inputs' own two dims in order.
    threads : int, optional
        Threads for numpy inputs (default ``min(4, os.cpu_count())``).

    Returns
    -------
    xarray.DataArray
        float32 "coherence" in [0, 1] (NaN where the centre sample is invalid
        or the box holds no valid sample), with s1's coords.
    """
    if len(tuple(window)) != 2 or min(int(v) for v in window) < 1:
        raise RasterError(f"window must be two positive sizes (azimuth, range); got {window!r}")
    wa, wr = (int(v) for v in window)
    a, a_da = _as_2d(s1, dims, "s1")
    own_dims = dims or (tuple(a_da.dims) if a_da is not None else None)
    b, _ = _as_2d(s2, own_dims if isinstance(s2, xr.DataArray) else None, "s2")
    if a.shape != b.shape:
        raise RasterError(f"s1 and s2 differ in shape: {a.shape} vs {b.shape}; "
                          "resample the secondary onto the reference grid first")
    for arr, nm in ((a, "s1"), (b, "s2")):
        if not np.issubdtype(arr.dtype, np.complexfloating):
            raise RasterError(f"{nm} must be complex (SLC samples); got dtype {arr.dtype}")
    phase = None
    if flat_phase is not None:
        phase = flat_phase.data if isinstance(flat_phase, xr.DataArray) else flat_phase
        try:
            np.broadcast_shapes(np.shape(phase), a.shape)
        except ValueError:
            raise RasterError(f"flat_phase of shape {np.shape(phase)} does not broadcast to "
                              f"{a.shape}") from None
    nthreads = threads if threads is not None else min(4, os.cpu_count() or 1)
    win = (wa, wr)
    if _is_dask(a) or _is_dask(b):
        data = _coherence_dask(a, b, phase, win)
    else:
        ph_np = None if phase is None else np.asarray(phase)
        data = _coherence_numpy(np.asarray(a), np.asarray(b), ph_np, win, nthreads)
    if a_da is not None:
        out = xr.DataArray(data, coords=a_da.coords, dims=a_da.dims)
    else:
        out = xr.DataArray(data, dims=dims or ("azimuth", "range"))
    out.attrs.update(long_name="interferometric coherence", units="1",
                     coherence_window=[wa, wr], flat_phase_removed=int(flat_phase is not None))
    return out.rename("coherence")


def _is_dask(arr: Any) -> bool:
    return type(arr).__module__.startswith("dask")


def _coherence_dask(a: Any, b: Any, phase: Any, window: tuple[int, int]) -> Any:
    import dask.array

    da: Any = dask.array
    a, b = da.asarray(a), da.asarray(b).rechunk(da.asarray(a).chunks)
    depth = {0: window[0] // 2 + 1, 1: window[1] // 2 + 1}
    args = [a, b]
    if phase is not None:
        ph = da.broadcast_to(da.asarray(phase, dtype=np.float64), a.shape).rechunk(a.chunks)
        args.append(ph)

    def kernel(x: np.ndarray, y: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
        return _coherence_numpy(x, y, p, window, 1)

    return da.map_overlap(kernel, *args, depth=depth, boundary=0, dtype=np.float32,
                          meta=np.empty((0, 0), np.float32))


def expected_coherence(gamma: Any, looks: float) -> Any:
    """Mean sample coherence E|γ̂| for true coherence γ and L independent looks.

    Touzi et al. (1999): E|γ̂| = Γ(L)Γ(3/2)/Γ(L+½) · ₃F₂(3/2, L, L; L+½, 1; |γ|²)
    · (1−|γ|²)^L (evaluated with mpmath); ≈ √(π/4L) for γ = 0, → γ as L → ∞.
    Returns a float for a scalar γ, else a float64 array.
    """
    g = np.asarray(gamma, dtype=np.float64)
    if looks < 1 or np.any((g < 0) | (g > 1)):
        raise RasterError(f"expected_coherence needs 0 ≤ γ ≤ 1 and looks ≥ 1; got {looks}")
    vals = np.array([_touzi(float(v), float(looks)) for v in g.ravel()]).reshape(g.shape)
    return float(vals) if vals.ndim == 0 else vals


@lru_cache(maxsize=4096)
def _touzi(g: float, L: float) -> float:
    import mpmath

    if g >= 1.0:
        return 1.0
    z = g * g
    pre = mpmath.gamma(L) * mpmath.gamma(1.5) / mpmath.gamma(L + 0.5)
    return float(pre * mpmath.hyp3f2(1.5, L, L, L + 0.5, 1, z) * (1 - z) ** L)


@lru_cache(maxsize=32)
def _bias_table(L: float) -> tuple[np.ndarray, np.ndarray]:
    gam = np.concatenate([np.linspace(0.0, 0.95, 96), np.linspace(0.955, 0.99, 8), [1.0]])
    return gam, np.array([_touzi(float(v), L) for v in gam])


def debias_coherence(coh: Any, looks: float) -> Any:
    """Invert :func:`expected_coherence`: γ whose mean estimate equals ``coh``.

    Values at or below the zero-coherence bias (≈ √(π/4L)) map to 0. A
    tabulated, piecewise-linear inverse (error < 1e-3); keeps DataArray
    wrappers and NaN.
    """
    gam, expect = _bias_table(float(looks))
    values = np.asarray(coh.data if isinstance(coh, xr.DataArray) else coh, dtype=np.float64)
    out = np.where(np.isnan(values), np.nan, np.interp(values, expect, gam))
    if isinstance(coh, xr.DataArray):
        res = coh.copy(data=out.astype(coh.dtype))
        res.attrs.update(long_name="de-biased coherence", debias_looks=float(looks))
        return res
    return out
