"""Percentile stretches and RGB composites as byte rasters.

The stretch convention of the tutorial: clip at the 2.5th and 97.5th
percentiles, scale linearly to 1–255, keep 0 for no data. When several
rasters are to be compared (two dates of a composite), one stretch is
computed over all of them together, so a change shows as colour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab.errors import BandError

__all__ = ["stretch_limits", "to_bytes", "rgb_composite"]


def stretch_limits(
    *arrays: xr.DataArray,
    percentiles: tuple[float, float] = (2.5, 97.5),
    max_samples: int = 2_000_000,
) -> tuple[float, float]:
    """Lower and upper stretch limits over the finite values of all ``arrays``.

    Large arrays are subsampled on a regular stride (deterministic) to at
    most ``max_samples`` values in total, so the cost stays bounded.
    """
    samples = []
    per = max(1, max_samples // max(1, len(arrays)))
    for da in arrays:
        stride = max(1, int(np.ceil(np.sqrt(da.size / per))))
        sub = da.isel({d: slice(None, None, stride) for d in da.dims if d in ("y", "x")})
        values = np.asarray(sub.values, dtype="float64").ravel()
        samples.append(values[np.isfinite(values)])
    values = np.concatenate(samples) if samples else np.empty(0)
    if values.size == 0:
        raise ValueError("no finite values to compute a stretch from (all no data?)")
    lo, hi = np.percentile(values, percentiles)
    if hi <= lo:
        hi = lo + 1e-12
    return float(lo), float(hi)


def to_bytes(da: xr.DataArray, *, lo: float, hi: float) -> xr.DataArray:
    """Scale ``da`` linearly from ``[lo, hi]`` to bytes 1–255; NaN becomes 0."""
    scaled = 1.0 + 254.0 * (da.clip(lo, hi) - lo) / (hi - lo)
    out = xr.where(da.notnull(), np.round(scaled), 0).astype("uint8")
    out.attrs = {"long_name": f"{da.attrs.get('long_name', da.name or 'value')} (stretched)",
                 "units": "1", "stretch_min": lo, "stretch_max": hi, "_FillValue": 0}
    if da.rio.crs is not None:
        out = out.rio.write_crs(da.rio.crs)
    return out.rename(da.name)


def rgb_composite(
    ds: xr.Dataset,
    bands: Sequence[str] = ("B04", "B03", "B02"),
    *,
    percentiles: tuple[float, float] = (2.5, 97.5),
    common_stretch: bool = False,
    stretch_where: xr.DataArray | None = None,
) -> xr.DataArray:
    """Byte RGB composite (``band`` = R, G, B) of three variables of ``ds``.

    Parameters
    ----------
    ds
        Dataset with the band variables (e.g. from :func:`eolab.io.sentinel2.open_l2a`).
    bands
        Variables for red, green and blue: ``("B04", "B03", "B02")`` is true
        colour, ``("B08", "B04", "B03")`` the classic false colour.
    percentiles
        Stretch percentiles per channel.
    common_stretch
        One stretch for all three channels (keeps their ratios) instead of one each.
    stretch_where
        Boolean mask of the pixels the percentiles are taken from (e.g.
        ``~cloud_mask(ds)``, so bright clouds do not darken the rest); all
        pixels are still scaled.

    Returns
    -------
    xr.DataArray
        uint8, dims ``(band, y, x)``, 1–255 with 0 where any channel is no data.
    """
    if len(bands) != 3:
        raise BandError(f"an RGB composite needs three bands, got {list(bands)}")
    missing = [b for b in bands if b not in ds]
    if missing:
        raise BandError(f"bands {missing} are not in the Dataset (it has {list(ds.data_vars)})")
    chans = [ds[b] for b in bands]
    valid = chans[0].notnull() & chans[1].notnull() & chans[2].notnull()
    basis = chans if stretch_where is None else [c.where(stretch_where) for c in chans]
    if common_stretch:
        lo, hi = stretch_limits(*basis, percentiles=percentiles)
        scaled = [to_bytes(c, lo=lo, hi=hi) for c in chans]
    else:
        scaled = [to_bytes(c, lo=lo, hi=hi) for c, b in zip(chans, basis)
                  for lo, hi in [stretch_limits(b, percentiles=percentiles)]]
    rgb = xr.concat([s.where(valid, 0) for s in scaled], dim="band").astype("uint8")
    rgb = rgb.assign_coords(band=["R", "G", "B"])
    rgb.attrs = {"long_name": f"RGB composite {'/'.join(bands)}", "units": "1", "_FillValue": 0}
    if ds.rio.crs is not None:
        rgb = rgb.rio.write_crs(ds.rio.crs)
    return rgb.rename("rgb")
