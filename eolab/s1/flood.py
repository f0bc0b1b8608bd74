"""Floods from two dates of SAR backscatter: the log-ratio with an automatic threshold.

Calm open water reflects the radar pulse away from the sensor (specular
reflection), so its backscatter is low (about −20 dB and below in VV), while
land scatters back −12 to −5 dB and towns more. A flood therefore shows as a
**decrease** of backscatter between the dates. The log-ratio

    r = 10·log10(σ0_after / σ0_before)   (dB)

is the change detector of choice for SAR because speckle is multiplicative:
the ratio's spread does not depend on the brightness of the surface. The
threshold on the decrease is drawn automatically on the pixels whose
backscatter fell (the candidates), as :func:`eolab.water.flood_change_mask`
does for optical change. Water already present on date 1 (permanent water)
cannot flood; pixels whose date-1 backscatter is below a water threshold
(automatic on the date-1 dB values, or given) are left out.
"""

from __future__ import annotations

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab._thresholds import ThresholdError, resolve_threshold
from eolab.composites import _same_grid, to_db

__all__ = ["log_ratio", "sar_flood", "sar_water"]


def log_ratio(sigma0_before: xr.DataArray, sigma0_after: xr.DataArray) -> xr.DataArray:
    """``10·log10(after / before)`` in dB; NaN where either date has no (positive) value."""
    _same_grid(sigma0_before, sigma0_after)
    out = (to_db(sigma0_after) - to_db(sigma0_before)).astype(np.float32).rename("log_ratio")
    out.attrs = {"long_name": "backscatter change, after over before", "units": "dB"}
    crs = sigma0_before.rio.crs
    return out.rio.write_crs(crs) if crs is not None else out


def sar_water(sigma0: xr.DataArray, *, method: str = "ki",
              threshold_db: float | None = None) -> xr.DataArray:
    """Open water (1) on one date: backscatter at or below a threshold in dB.

    Parameters
    ----------
    sigma0
        Linear sigma0 (power) on a map grid, speckle reduced.
    method
        Automatic threshold on the dB values (``"ki"``, ``"otsu"``, ``"em"``)
        when ``threshold_db`` is not given.
    threshold_db
        Fixed threshold in dB (e.g. −18 for VV, −24 for VH).

    Returns
    -------
    xr.DataArray
        ``water``, uint8: 1 water, 0 not, 255 no data; attrs ``threshold_db``
        and ``threshold_method``.

    Raises
    ------
    ThresholdError
        Unknown method or too few valid pixels.
    """
    db = to_db(sigma0)
    value, how = resolve_threshold(db, method=method, threshold=threshold_db,
                                   what="water (backscatter)")
    out = xr.where(db.isnull(), 255, (db <= float(value)).astype(np.uint8)).astype(np.uint8)
    out = out.rename("water")
    out.attrs = {"long_name": "open water from low backscatter", "units": "1",
                 "flag_values": [0, 1, 255], "flag_meanings": "not_water water no_data",
                 "threshold_db": float(value), "threshold_method": how, "_FillValue": 255}
    crs = sigma0.rio.crs
    return out.rio.write_crs(crs) if crs is not None else out


def sar_flood(sigma0_before: xr.DataArray, sigma0_after: xr.DataArray, *,
              method: str = "ki", threshold_db: float | None = None,
              water_db: float | None = None) -> xr.DataArray:
    """Flooded pixels (1) from a backscatter decrease, permanent water and no data apart.

    Parameters
    ----------
    sigma0_before, sigma0_after
        Linear sigma0 (power) of the two dates on one map grid, speckle
        reduced (multilooked or geocoded onto a coarser grid).
    method
        Automatic threshold (``"ki"``, ``"otsu"``, ``"em"``) for the decrease
        and for permanent water when they are not given.
    threshold_db
        Fixed log-ratio threshold (dB, negative, e.g. −3): flooded where
        ``r <= threshold_db``.
    water_db
        Fixed date-1 water threshold (dB, e.g. −18): permanent water where
        ``σ0_before (dB) <= water_db``.

    Returns
    -------
    xr.DataArray
        ``flood``, uint8: 1 flooded, 0 not, 2 permanent water, 255 no data;
        attrs ``threshold_db``, ``water_db`` and how each was set
        (``threshold_method``, ``water_method``: a method name or "fixed").

    Raises
    ------
    RasterError
        The rasters are not on one grid.
    ThresholdError
        Unknown method, a given threshold of the wrong sign, or too few pixels
        for an automatic threshold (e.g. no backscatter decrease at all).
    """
    if threshold_db is not None and not (np.isfinite(threshold_db) and threshold_db < 0):
        raise ThresholdError(f"threshold_db is a decrease in dB and must be negative, "
                             f"got {threshold_db!r}")
    ratio = log_ratio(sigma0_before, sigma0_after)
    before_db = to_db(sigma0_before)
    water_db, water_how = resolve_threshold(before_db, method=method, threshold=water_db,
                                       what="permanent-water (date-1 backscatter)")
    permanent = before_db <= water_db
    threshold_db, how = resolve_threshold(ratio.where((ratio < 0) & ~permanent), method=method,
                                        threshold=threshold_db, what="backscatter-decrease")
    flooded = (ratio <= float(threshold_db)) & ~permanent
    out = xr.where(ratio.isnull(), 255, xr.where(permanent, 2, flooded.astype(np.uint8)))
    out = out.astype(np.uint8).rename("flood")
    out.attrs = {"long_name": "flood from a backscatter decrease", "units": "1",
                 "flag_values": [0, 1, 2, 255],
                 "flag_meanings": "not_flooded flooded permanent_water no_data",
                 "threshold_db": float(threshold_db), "water_db": float(water_db),
                 "threshold_method": how, "water_method": water_how, "_FillValue": 255}
    crs = sigma0_before.rio.crs
    return out.rio.write_crs(crs) if crs is not None else out
