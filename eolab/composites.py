"""Percentile stretches and RGB composites as byte rasters.

The stretch convention of the tutorial: clip at the 2.5th and 97.5th
percentiles, scale linearly to 1–255, keep 0 for no data. When several
rasters are to be compared (two dates of a composite), one stretch is
computed over all of them together, so a change shows as colour.

The SAR composites of the tutorial's S1-CD service:

* **ACD** (amplitude change detection): R = date-1 backscatter, G = B =
  date-2 backscatter, in dB with one stretch over both dates. Unchanged
  surfaces are grey; backscatter that fell (land → calm water: a flood)
  is red; backscatter that rose (new buildings, water receding) is cyan.
* **MTC** (multi-temporal coherence): R = date 1, G = date 2 (as in ACD),
  B = interferometric coherence 0–1 → 1–255. Stable bright surfaces
  (towns) are white, stable vegetation dark blue-grey, floods red.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab.errors import BandError, RasterError

__all__ = ["stretch_limits", "to_bytes", "rgb_composite", "acd_composite", "mtc_composite",
           "to_db"]


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


def to_db(sigma0: xr.DataArray) -> xr.DataArray:
    """Backscatter in dB (``10·log10``); zero, negative and missing values become NaN."""
    values = sigma0.where(sigma0 > 0)
    out = (10.0 * np.log10(values)).astype(np.float32)
    out.attrs = {**sigma0.attrs, "units": "dB",
                 "long_name": f"{sigma0.attrs.get('long_name', sigma0.name or 'sigma0')} (dB)"}
    if sigma0.rio.crs is not None:
        out = out.rio.write_crs(sigma0.rio.crs)
    return out.rename(sigma0.name)


def _same_grid(*arrays: xr.DataArray) -> None:
    first = arrays[0]
    for other in arrays[1:]:
        if set(other.dims) != {"y", "x"} or set(first.dims) != {"y", "x"}:
            raise RasterError(f"composites need (y, x) rasters, got {first.dims} and {other.dims}")
        if other.shape != first.shape or not (
                np.allclose(other.x, first.x) and np.allclose(other.y, first.y)):
            raise RasterError("the rasters of a composite must share one grid (same shape and "
                              "coordinates); geocode both dates onto the same grid first")


def _sar_channels(before: xr.DataArray, after: xr.DataArray, percentiles: tuple[float, float]
                  ) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, float, float]:
    _same_grid(before, after)
    db1, db2 = to_db(before), to_db(after)
    lo, hi = stretch_limits(db1, db2, percentiles=percentiles)
    valid = db1.notnull() & db2.notnull()
    return to_bytes(db1, lo=lo, hi=hi), to_bytes(db2, lo=lo, hi=hi), valid, lo, hi


def _stack(channels: list[xr.DataArray], valid: xr.DataArray, name: str, long_name: str,
           crs: object, **attrs: object) -> xr.DataArray:
    rgb = xr.concat([c.where(valid, 0) for c in channels], dim="band").astype("uint8")
    rgb = rgb.assign_coords(band=["R", "G", "B"]).transpose("band", "y", "x")
    rgb.attrs = {"long_name": long_name, "units": "1", "_FillValue": 0, **attrs}
    return (rgb.rio.write_crs(crs) if crs is not None else rgb).rename(name)


def acd_composite(sigma0_before: xr.DataArray, sigma0_after: xr.DataArray, *,
                  percentiles: tuple[float, float] = (2.5, 97.5)) -> xr.DataArray:
    """ACD RGB composite: R date-1, G and B date-2 backscatter (bytes, one dB stretch).

    Parameters
    ----------
    sigma0_before, sigma0_after
        Linear backscatter (sigma0, power) of the two dates on one map grid.
    percentiles
        Stretch limits, taken over the dB values of both dates together.

    Returns
    -------
    xr.DataArray
        ``acd``, uint8 (band R/G/B, y, x): 1–255, 0 where either date has no
        data; attrs ``stretch_min_db``/``stretch_max_db``.
    """
    b1, b2, valid, lo, hi = _sar_channels(sigma0_before, sigma0_after, percentiles)
    return _stack([b1, b2, b2], valid, "acd",
                  "ACD composite: R sigma0 date 1, G/B sigma0 date 2 (dB, one stretch)",
                  sigma0_before.rio.crs, stretch_min_db=lo, stretch_max_db=hi)


def mtc_composite(sigma0_before: xr.DataArray, sigma0_after: xr.DataArray,
                  coherence: xr.DataArray, *,
                  percentiles: tuple[float, float] = (2.5, 97.5)) -> xr.DataArray:
    """MTC RGB composite: R date-1, G date-2 backscatter (one dB stretch), B coherence.

    Coherence 0–1 maps linearly to 1–255 (values outside are clipped); 0
    where any of the three has no data.
    """
    b1, b2, valid, lo, hi = _sar_channels(sigma0_before, sigma0_after, percentiles)
    _same_grid(sigma0_before, coherence)
    coh = to_bytes(coherence.astype(np.float32), lo=0.0, hi=1.0)
    valid = valid & coherence.notnull()
    return _stack([b1, b2, coh], valid, "mtc",
                  "MTC composite: R sigma0 date 1, G sigma0 date 2 (dB, one stretch), "
                  "B coherence (0-1)", sigma0_before.rio.crs, stretch_min_db=lo,
                  stretch_max_db=hi)
