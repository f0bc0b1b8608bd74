"""Monthly composites of a cloud-masked image time series, gaps filled and flagged.

An irregular, cloudy series (dates differ from place to place in what they
show) becomes a regular one: for every calendar month (year and month, from
the first to the last month of the series, or the months asked for) and every
pixel, a statistic (median by default) of the *clear* observations of that
month. A (pixel, month) cell without any clear observation is filled by
interpolation in time between the nearest months that have one (linear in the
months' mid-points; before the first and after the last, the nearest month's
value) and is flagged in the boolean variable ``filled``. A pixel with no clear
observation in any month stays NaN in every month, flagged, since there is
nothing to fill from.

The computation is one numpy kernel applied block by block
(``xarray.apply_ufunc``): on a dask-backed cube nothing is computed until
asked, and memory is bounded by the (y, x) chunks times the length of the
series, which must be one chunk along time and band (the cube is rechunked).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab.crop.clouds import clear_mask, scl_of
from eolab.errors import BandError, OutputError, RasterError
from eolab.io.rasters import atomic_path

__all__ = ["FILLS", "STATISTICS", "month_range", "monthly", "write_composites"]

def _nanmedian(x: np.ndarray, axis: int) -> np.ndarray:
    """Median ignoring NaN along a short axis: sort (NaN last) and take the middle.

    Much faster than ``np.nanmedian`` for many short series (it falls back to
    masked arrays or a Python loop over pixels).
    """
    s = np.sort(x, axis=axis)
    n = np.sum(~np.isnan(x), axis=axis, keepdims=True)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0), axis=axis)
    hi = np.take_along_axis(s, np.maximum(n // 2 - (n == 0), 0), axis=axis)
    med = (lo + hi) / 2
    return np.where(n > 0, med, np.nan).squeeze(axis).astype(x.dtype)


_NAN_FUNCS: dict[str, Callable[..., Any]] = {
    "median": _nanmedian,
    "mean": np.nanmean,
    "min": np.nanmin,
    "max": np.nanmax,
}
#: Statistics of the clear observations of a month.
STATISTICS = tuple(_NAN_FUNCS)
#: Ways to fill months without clear observations (None leaves them NaN).
FILLS = ("linear", "nearest", None)


def month_range(start: Any, end: Any) -> pd.DatetimeIndex:
    """First days of the calendar months from ``start``'s to ``end``'s, inclusive."""
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    last = pd.Timestamp(end).to_period("M").to_timestamp()
    if last < first:
        raise RasterError(f"month range ends ({end}) before it starts ({start})")
    return pd.date_range(first, last, freq="MS")


def _month_centres(months: pd.DatetimeIndex) -> np.ndarray:
    ends = months + pd.offsets.MonthBegin(1)
    mid = months + (ends - months) / 2
    return np.asarray((mid - months[0]) / pd.Timedelta(days=1), dtype=np.float64)


def _interpolate(out: np.ndarray, have: np.ndarray, centres: np.ndarray,
                 method: str) -> np.ndarray:
    """Fill months (axis -2 of ``out``) where ``have`` (axis -1) is False."""
    n = have.shape[-1]
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(have, idx, -1), axis=-1)
    nxt = np.minimum.accumulate(np.where(have, idx, n)[..., ::-1], axis=-1)[..., ::-1]
    has_prev, has_next = prev >= 0, nxt < n
    p, q = np.clip(prev, 0, n - 1), np.clip(nxt, 0, n - 1)
    vp = np.take_along_axis(out, p[..., None], axis=-2)
    vn = np.take_along_axis(out, q[..., None], axis=-2)
    tp, tn = centres[p], centres[q]
    if method == "linear":
        span = np.where(tn > tp, tn - tp, 1.0)
        w = np.where(tn > tp, (centres - tp) / span, 0.0)
    else:  # nearest; ties go to the earlier month
        w = np.where(tn - centres < centres - tp, 1.0, 0.0)
    both = vp + w[..., None].astype(out.dtype) * (vn - vp)
    guess = np.where((has_prev & has_next)[..., None], both,
                     np.where(has_prev[..., None], vp, vn))
    none = ~(has_prev | has_next)
    guess = np.where(none[..., None], np.nan, guess)
    return np.where(have[..., None], out, guess).astype(out.dtype)


def _composite_block(values: np.ndarray, clear: np.ndarray, *, month_index: np.ndarray,
                     centres: np.ndarray, statistic: str,
                     fill: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values (..., time, band), clear (..., time) -> (..., month, band), (..., month) x2."""
    func = _NAN_FUNCS[statistic]
    vals = np.moveaxis(np.asarray(values, dtype=np.float32), -2, -1)  # (..., band, time)
    usable = np.asarray(clear, dtype=bool) & np.isfinite(vals).all(axis=-2)
    n_months = centres.size
    out = np.full((*vals.shape[:-2], n_months, vals.shape[-2]), np.nan, np.float32)
    count = np.zeros((*vals.shape[:-2], n_months), np.int16)
    masked = np.where(usable[..., None, :], vals, np.float32(np.nan))  # contiguous in time
    for m in range(n_months):
        sel = np.flatnonzero(month_index == m)
        if sel.size == 0:
            continue
        count[..., m] = usable[..., sel].sum(axis=-1)
        sub = masked[..., sel]
        if statistic == "median":  # NaN-safe without warnings
            out[..., m, :] = func(sub, axis=-1)
            continue
        # pixels without a clear observation get zeros, then NaN: no all-NaN slice warnings
        # (warnings filters are not thread-safe under dask)
        none = (count[..., m] == 0)[..., None, None]
        stat = func(np.where(none, np.float32(0), sub), axis=-1)
        out[..., m, :] = np.where(none[..., 0], np.float32(np.nan), stat)
    have = count > 0
    if fill is not None:
        gaps = ~have.all(axis=-1) & have.any(axis=-1)  # pixels with something to fill
        if gaps.any():
            out[gaps] = _interpolate(out[gaps], have[gaps], centres, fill)
    return out, ~have, count


def _pick_variable(cube: xr.Dataset, variable: str | None, time: str) -> str:
    if variable is not None:
        if variable not in cube.data_vars:
            raise BandError(f"the cube has no variable {variable!r}; it has "
                            f"{list(cube.data_vars)}")
        return variable
    if "reflectance" in cube.data_vars:
        return "reflectance"
    names = [str(v) for v, da in cube.data_vars.items()
             if time in da.dims and str(v).lower() != "scl"]
    if len(names) != 1:
        raise BandError(f"cannot tell which variable to composite among {names}: "
                        f"pass variable=")
    return names[0]


def monthly(
    cube: xr.Dataset | xr.DataArray,
    *,
    clear: xr.DataArray | None = None,
    statistic: str = "median",
    fill: str | None = "linear",
    months: Sequence[Any] | None = None,
    variable: str | None = None,
    time: str = "time",
    band: str = "band",
    y: str = "y",
    x: str = "x",
    **mask_options: Any,
) -> xr.Dataset:
    """Monthly composites of clear observations, months without any filled and flagged.

    Parameters
    ----------
    cube
        Image series: a DataArray with dims ``(time, [band,] y, x)``, or a
        Dataset holding one (``variable``, default ``reflectance``) and, when
        ``clear`` is not given, the SCL layer ``scl`` (see
        :func:`eolab.crop.timeseries.open_cube`). NaN values count as missing.
    clear
        Boolean mask ``(time, y, x)``, True for clear observations. Default:
        :func:`eolab.crop.clouds.clear_mask` of the cube's SCL, with
        ``mask_options`` (``snow``, ``dilation``, ``classes``).
    statistic
        One of :data:`STATISTICS`, over the clear observations of a month.
    fill
        ``"linear"`` (default), ``"nearest"`` or None (leave NaN).
    months
        ``(first, last)``: the months to produce (e.g. ``("2017-09", "2018-08")``);
        default from the first to the last date of the series. Observations
        outside are ignored.
    variable
        The Dataset variable to composite.
    time, band, y, x
        Dimension names.
    **mask_options
        ``snow``, ``dilation``, ``classes`` of the SCL mask (only without ``clear``).
        Mask snow (``snow=True``) to match TimeSen2Crop's flags, where snow is
        not a clear observation.

    Returns
    -------
    xarray.Dataset
        The composite (named like the input, dims ``(month, [band,] y, x)``,
        float32), ``filled`` (``(month, y, x)``, True where no clear observation
        existed) and ``clear_count`` (number of clear observations used). The
        ``month`` coordinate holds the first day of each month. Lazy (dask)
        when the input is.

    Raises
    ------
    BandError
        No clear mask given and no SCL in the cube, or an unknown variable.
    RasterError
        Unknown statistic or fill, missing dimensions, a mask that does not
        match the cube's dates or grid.
    """
    if statistic not in _NAN_FUNCS:
        raise RasterError(f"unknown statistic {statistic!r}; choose one of {STATISTICS}")
    if fill not in FILLS:
        raise RasterError(f"unknown fill {fill!r}; choose one of {FILLS}")
    if clear is not None and mask_options:
        raise RasterError(f"mask options {sorted(mask_options)} apply to the SCL mask only; "
                          "with clear= given, build that mask with them instead")
    if isinstance(cube, xr.Dataset):
        name = _pick_variable(cube, variable, time)
        values = cube[name]
        if clear is None:
            clear = clear_mask(scl_of(cube), y=y, x=x, **mask_options)
    else:
        values, name = cube, str(cube.name or "composite")
        if clear is None:
            raise BandError("no clear-sky mask: pass clear= (e.g. eolab.crop.clouds.clear_mask "
                            "of the SCL layer) or a Dataset with an 'scl' variable")
    missing = [d for d in (time, y, x) if d not in values.dims]
    if missing:
        raise RasterError(f"the cube lacks the dimension(s) {missing} (dims {values.dims})")
    if clear.dtype != bool:
        raise RasterError(f"the clear-sky mask must be boolean, got {clear.dtype}")
    extra = set(clear.dims) - {time, y, x}
    if extra or time not in clear.dims:
        raise RasterError(f"the clear-sky mask must have dims ({time}, {y}, {x}), has {clear.dims}")
    try:
        values, clear = xr.align(values, clear, join="exact")
    except ValueError as exc:
        raise RasterError(f"the clear-sky mask does not match the cube's dates or grid: {exc}")\
            from exc
    squeeze = band not in values.dims
    if squeeze:
        values = values.expand_dims({band: 1}, axis=1)
    times = pd.DatetimeIndex(values[time].values)
    if times.size == 0:
        raise RasterError("the cube has no dates")
    span = months if months is not None else (times.min(), times.max())
    if len(span) != 2:
        raise RasterError(f"months must be (first, last), got {months!r}")
    month_index_ = month_range(*span)
    ids = times.year * 12 + times.month - 1
    first = month_index_[0].year * 12 + month_index_[0].month - 1
    index = np.asarray(ids - first)
    index = np.where((index >= 0) & (index < month_index_.size), index, -1)
    centres = _month_centres(month_index_)
    if hasattr(values.data, "chunks"):
        values = values.chunk({time: -1, band: -1})
        clear = clear.chunk({time: -1})
    out, filled, count = xr.apply_ufunc(
        _composite_block, values, clear,
        input_core_dims=[[time, band], [time]],
        output_core_dims=[["month", band], ["month"], ["month"]],
        kwargs={"month_index": index, "centres": centres, "statistic": statistic,
                "fill": fill},
        dask="parallelized",
        output_dtypes=[np.float32, bool, np.int16],
        dask_gufunc_kwargs={"output_sizes": {"month": month_index_.size}},
    )
    order = ["month", band, y, x] + [d for d in out.dims if d not in ("month", band, y, x)]
    out = out.transpose(*order)
    if squeeze:
        out = out.isel({band: 0}, drop=True)
    out.attrs = {k: v for k, v in values.attrs.items()
                 if k in ("long_name", "standard_name", "units")}
    out.attrs["cell_methods"] = f"time: {statistic} (interval: 1 month, clear observations)"
    out.attrs["gap_fill"] = str(fill)
    ds = xr.Dataset({
        name: out,
        "filled": filled.transpose("month", y, x, ...).assign_attrs(
            long_name="month without clear observation (value interpolated or NaN)",
            units="1"),
        "clear_count": count.transpose("month", y, x, ...).assign_attrs(
            long_name="number of clear observations in the month", units="1"),
    }).assign_coords(month=month_index_.values)
    ds["month"].attrs = {"long_name": "first day of the calendar month"}
    ds.attrs = {"title": "monthly composites of clear observations",
                "Conventions": "CF-1.8"}
    crs = values.rio.crs
    if crs is not None:
        ds = ds.rio.write_crs(crs)
    return ds


def write_composites(composites: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write :func:`monthly`'s Dataset as NetCDF (float32 values, CRS kept), atomically.

    Computes a lazy Dataset chunk by chunk while writing.

    Raises
    ------
    RasterError
        Not a Dataset from :func:`monthly` (no ``filled`` variable or ``month`` dim).
    OutputError
        The file cannot be written.
    """
    if "filled" not in composites.data_vars or "month" not in composites.dims:
        raise RasterError("not monthly composites: expected a 'filled' variable and a 'month' "
                          "dimension (eolab.crop.composites.monthly)")
    final = Path(path)
    try:
        with atomic_path(final) as tmp:
            composites.to_netcdf(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write the composites {final}: {exc}") from exc
    return final
