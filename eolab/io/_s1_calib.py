"""Sentinel-1 radiometric calibration and thermal-noise LUTs, lazily on dask blocks.

Private helper of :mod:`eolab.io.sentinel1`.

* The calibration LUT ``A`` is given on a sparse (line, pixel) grid. It is
  interpolated **bilinearly**: every LUT row is first interpolated linearly to
  the data's pixels, then consecutive rows are blended linearly in line. This
  is exactly bilinear interpolation on the LUT's rectilinear grid. Outside the
  LUT the nearest edge value is used (the LUTs of real products cover the
  image, so this only matters for hand-made inputs).
* The noise range LUT is matched by **azimuth time**, not by its ``line``
  field (S1_NOTES §2: in IW SLC the lines are one burst off). A burst uses
  the one vector nearest in time to its first line (IW SLC has one vector per
  burst, timed at the burst start; s1-reader does the same), constant over the
  burst. GRD uses all vectors, linear in time between them.
* The noise azimuth LUT is given per block (``firstAzimuthLine`` ...
  ``lastRangeSample``), linear in line inside a block; pixels outside every
  block get 1 (no azimuth modulation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import dask.array as darr
import numpy as np
import xarray as xr

from eolab.errors import ProductError

_LUT_NAMES = {"sigma0": "sigmaNought", "beta0": "betaNought", "gamma0": "gamma"}


def _row_weights(nodes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Indices (i0, i1) and weight w such that f(v) = (1-w) f[i0] + w f[i1] (edges clamped)."""
    nodes = np.asarray(nodes, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if nodes.size == 1:
        zeros = np.zeros(values.shape, dtype=np.intp)
        return zeros, zeros, np.zeros(values.shape)
    order = np.argsort(nodes, kind="stable")
    nodes = nodes[order]
    pos = np.clip(np.searchsorted(nodes, values, side="right") - 1, 0, nodes.size - 2)
    span = nodes[pos + 1] - nodes[pos]
    w = np.clip((values - nodes[pos]) / np.where(span == 0, 1.0, span), 0.0, 1.0)
    return order[pos], order[pos + 1], w


def _by_blocks(block: Callable[[int, int, int, int], np.ndarray], like: Any) -> Any:
    """``block(r0, r1, c0, c1)`` over ``like``'s shape: per chunk for dask, at once for numpy."""
    if isinstance(like, darr.Array):
        def fn(_: np.ndarray, block_info: Any = None) -> np.ndarray:
            (r0, r1), (c0, c1) = block_info[0]["array-location"]
            return block(r0, r1, c0, c1)

        return darr.map_blocks(fn, like, dtype=np.float32)
    return block(0, like.shape[0], 0, like.shape[1])


def _lazy_rows(table: np.ndarray, i0: np.ndarray, i1: np.ndarray, w: np.ndarray,
               like: Any) -> Any:
    """Array of ``like``'s shape: row r is (1-w[r]) table[i0[r]] + w[r] table[i1[r]]."""
    table = table.astype(np.float32)
    w32 = w.astype(np.float32)

    def block(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        t = table[:, c0:c1]
        ww = w32[r0:r1, None]
        return (1 - ww) * t[i0[r0:r1]] + ww * t[i1[r0:r1]]

    return _by_blocks(block, like)


def interp_calibration(data: xr.DataArray, lut: xr.DataArray) -> Any:
    """Calibration LUT (dims line, pixel) bilinearly interpolated to ``data``'s line/pixel."""
    lines = np.asarray(data["line"].values, dtype=np.float64)
    pixels = np.asarray(data["pixel"].values, dtype=np.float64)
    lut_lines = np.asarray(lut["line"].values, dtype=np.float64)
    lut_pixels = np.asarray(lut["pixel"].values, dtype=np.float64)
    values = np.asarray(lut.values, dtype=np.float64)
    table = np.stack([np.interp(pixels, lut_pixels, row) for row in values])
    i0, i1, w = _row_weights(lut_lines, lines)
    return _lazy_rows(table, i0, i1, w, data.data)


def noise_range(data: xr.DataArray, noise: xr.Dataset, *,
                burst_start: np.datetime64 | None = None) -> Any:
    """Noise range LUT at ``data``'s lines (matched by azimuth time) and pixels.

    For a burst (``burst_start`` given) the one vector nearest in time to the
    burst's first line is used for all its lines (as s1-reader does); else
    the vectors are interpolated linearly in time (clamped at the ends).
    """
    times = data["azimuth_time"].values.astype("datetime64[ns]").astype(np.int64)
    vt = noise["range_azimuth_time"].values.astype("datetime64[ns]").astype(np.int64)
    luts = noise["noiseRangeLut"].values.astype(np.float64)
    pixels = np.asarray(data["pixel"].values, dtype=np.float64)
    lut_pixels = noise["range_pixel"].values.astype(np.float64)
    sel = np.arange(vt.size)
    if burst_start is not None:
        t0 = np.datetime64(burst_start, "ns").astype(np.int64)
        sel = np.array([int(np.argmin(np.abs(vt - t0)))])
    table = np.stack([np.interp(pixels, lut_pixels[k], luts[k]) for k in sel])
    # relative times (float seconds) keep the precision of int64 nanoseconds
    ref = times[0]
    i0, i1, w = _row_weights((vt[sel] - ref) / 1e9, (times - ref) / 1e9)
    return _lazy_rows(table, i0, i1, w, data.data)


def noise_azimuth(data: xr.DataArray, noise: xr.Dataset) -> Any | None:
    """Noise azimuth LUT at ``data``'s line/pixel (1 outside every block); None when absent."""
    if "noiseAzimuthLut" not in noise or noise.sizes.get("azimuth_block", 0) == 0:
        return None
    lines = np.asarray(data["line"].values, dtype=np.float64)
    pixels = np.asarray(data["pixel"].values, dtype=np.int64)
    blocks = []
    for b in range(noise.sizes["azimuth_block"]):
        nodes = noise["azimuth_line"].values[b]
        lut = noise["noiseAzimuthLut"].values[b]
        keep = np.isfinite(lut)
        col = np.interp(lines, nodes[keep].astype(np.float64), lut[keep]).astype(np.float32)
        l0, l1 = (int(noise[v].values[b]) for v in ("first_azimuth_line", "last_azimuth_line"))
        p0, p1 = (int(noise[v].values[b]) for v in ("first_range_sample", "last_range_sample"))
        rows = (lines >= l0) & (lines <= l1)
        cols = (pixels >= p0) & (pixels <= p1)
        blocks.append((col, rows, cols))

    def block(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        out = np.ones((r1 - r0, c1 - c0), dtype=np.float32)
        for col, rows, cols in blocks:
            m = rows[r0:r1, None] & cols[None, c0:c1]
            out = np.where(m, col[r0:r1, None], out)
        return out

    like = data.data
    return _by_blocks(block, like)


def noise_dataset(parsed: dict[str, Any], attrs: dict[str, Any]) -> xr.Dataset:
    """Noise XML (as parsed by ``_s1_safe.parse_noise``) as one Dataset."""
    pixels = parsed["pixel"]
    width = max((p.size for p in pixels), default=0)
    nvec = len(pixels)
    pix = np.full((nvec, width), -1, dtype=np.int64)
    lut = np.full((nvec, width), np.nan, dtype=np.float32)
    for k, (p, v) in enumerate(zip(pixels, parsed["lut"])):
        n = min(p.size, v.size)
        pix[k, :n] = p[:n]
        lut[k, :n] = v[:n]
        if n < width:  # pad by repeating the last node so np.interp stays valid
            pix[k, n:] = p[n - 1] if n else 0
            lut[k, n:] = v[n - 1] if n else np.nan
    blocks = parsed["azimuth_blocks"]
    nb = len(blocks)
    alen = max((b["line"].size for b in blocks), default=0)
    az_line = np.zeros((nb, alen), dtype=np.int64)
    az_lut = np.full((nb, alen), np.nan, dtype=np.float32)
    for b, blk in enumerate(blocks):
        n = min(blk["line"].size, blk["lut"].size)
        az_line[b, :n] = blk["line"][:n]
        az_line[b, n:] = blk["line"][n - 1] if n else 0
        az_lut[b, :n] = blk["lut"][:n]
    ds = xr.Dataset(
        {
            "noiseRangeLut": (("range_vector", "range_node"), lut),
            "range_pixel": (("range_vector", "range_node"), pix),
            "range_azimuth_time": ("range_vector",
                                   np.array(parsed["azimuth_time"], dtype="datetime64[ns]")),
            "range_line": ("range_vector", np.array(parsed["line"], dtype=np.int64)),
            "noiseAzimuthLut": (("azimuth_block", "azimuth_node"), az_lut),
            "azimuth_line": (("azimuth_block", "azimuth_node"), az_line),
            "first_azimuth_line": ("azimuth_block",
                                   np.array([b["first_azimuth_line"] for b in blocks], np.int64)),
            "last_azimuth_line": ("azimuth_block",
                                  np.array([b["last_azimuth_line"] for b in blocks], np.int64)),
            "first_range_sample": ("azimuth_block",
                                   np.array([b["first_range_sample"] for b in blocks], np.int64)),
            "last_range_sample": ("azimuth_block",
                                  np.array([b["last_range_sample"] for b in blocks], np.int64)),
        },
        attrs=dict(attrs),
    )
    ds["noiseRangeLut"].attrs.update(long_name="thermal noise range LUT (power, DN²)", units="1")
    ds["noiseAzimuthLut"].attrs.update(long_name="thermal noise azimuth LUT", units="1")
    return ds


def calibrate(
    data: xr.DataArray,
    calibration: xr.Dataset | xr.DataArray,
    *,
    noise: xr.Dataset | None = None,
    kind: Literal["sigma0", "beta0", "gamma0"] = "sigma0",
    db: bool = False,
    db_floor: float = -50.0,
    negative: Literal["nan", "clip"] = "nan",
    mask_zero: bool = True,
) -> xr.DataArray:
    """Calibrated backscatter of SLC bursts or GRD amplitudes.

    ``kind = |DN|² / A²`` (or ``(|DN|² − η) / A²`` with ``noise``), ``A`` the
    product's LUT (sigmaNought, betaNought or gamma) bilinearly interpolated
    at the data's ``line``/``pixel`` coords, ``η = noiseRangeLut ×
    noiseAzimuthLut`` (range vectors matched by azimuth time).

    Parameters
    ----------
    data
        A burst ``measurement`` from :func:`open_slc` or the GRD
        ``measurement`` from :func:`open_grd` (any crop of them: the coords
        carry the positions).
    calibration
        The ``calibration`` dataset of the same swath, or one LUT DataArray.
    noise
        The ``noise`` dataset of the same swath; ``None``: no noise removal.
    db
        Return ``10 log10`` with values below ``db_floor`` set to ``db_floor``.
    negative
        After noise removal: ``"nan"`` masks negative powers (default),
        ``"clip"`` sets them to 0 (then to ``db_floor`` in dB).
    mask_zero
        DN = 0 marks invalid samples in S1 products: NaN in the output.

    Returns
    -------
    xr.DataArray
        float32, named ``kind``, units ``"1"`` (linear) or ``"dB"``; the
        data's coords and attrs plus ``noise_corrected`` (0/1).
    """
    if kind not in _LUT_NAMES:
        raise ValueError(f"kind must be one of {sorted(_LUT_NAMES)}, got {kind!r}")
    if negative not in ("nan", "clip"):
        raise ValueError(f"negative must be 'nan' or 'clip', got {negative!r}")
    if isinstance(calibration, xr.Dataset):
        if _LUT_NAMES[kind] not in calibration:
            raise ProductError(f"the calibration dataset has no {_LUT_NAMES[kind]} LUT")
        lut = calibration[_LUT_NAMES[kind]]
    else:
        lut = calibration
    for axis, coord in enumerate(("line", "pixel")):
        if coord not in data.coords or data[coord].dims != (data.dims[axis],):
            raise ValueError(f"data must be 2-D (azimuth, range) with a {coord!r} coordinate "
                             f"along its axis {axis}, as open_slc/open_grd give; got dims "
                             f"{data.dims}")
    if noise is not None and "azimuth_time" not in data.coords:
        raise ValueError("noise removal needs the data's 'azimuth_time' coordinate")
    raw = data.data
    power = (raw.real.astype(np.float32) ** 2 + raw.imag.astype(np.float32) ** 2
             if np.iscomplexobj(raw) else raw.astype(np.float32) ** 2)
    a = interp_calibration(data, lut)
    if noise is not None:
        start = data.attrs.get("burst_start_time") if "burst_index" in data.attrs else None
        eta = noise_range(data, noise,
                                    burst_start=np.datetime64(start, "ns") if start else None)
        az = noise_azimuth(data, noise)
        if az is not None:
            eta = eta * az
        power = power - eta
        power = np.maximum(power, 0) if negative == "clip" else np.where(power < 0, np.nan, power)
    value = power / (a * a)
    if mask_zero:
        value = np.where(raw == 0, np.float32(np.nan), value)
    if db:
        floor = np.float32(10 ** (db_floor / 10))
        value = np.float32(10) * np.log10(np.where(value < floor, floor, value))
    out = xr.DataArray(value.astype(np.float32), dims=data.dims, coords=data.coords,
                       name=kind)
    label = {"sigma0": "sigma nought", "beta0": "beta nought", "gamma0": "gamma nought"}[kind]
    out.attrs = {**data.attrs, "long_name": f"{label} backscatter coefficient"
                 + (" (thermal noise removed)" if noise is not None else ""),
                 "units": "dB" if db else "1", "noise_corrected": int(noise is not None)}
    if db:
        out.attrs["db_floor"] = db_floor
    return out
