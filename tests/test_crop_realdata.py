"""Cloud masking and monthly composites on real Sentinel-2 data: eo-learn's TestEOPatch
(68 dates of NDVI, 101 x 100 px at 10 m in Slovenia, 2015-07 to 2017-12, with the
s2cloudless cloud mask CLM and the IS_DATA mask; ../shared/realdata/eolearn_testeopatch).

The composites are checked against numpy computed independently here: every value of a
month with clear observations is the median of that pixel's clear NDVI values in that
month, and the filled cells are exactly the (pixel, month) cells without a clear one.
``python benchmarks/bench_crop_composites.py --realdata`` prints the share of filled cells.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eolab.crop.clouds import clear_fraction, dilate_mask
from eolab.crop.composites import monthly

pytestmark = pytest.mark.realdata


def load_testeopatch(root: Path) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """NDVI (time, y, x), cloud mask CLM and IS_DATA as DataArrays on the patch's grid."""
    patch = root / "eolearn_testeopatch" / "TestEOPatch"
    times = pd.to_datetime(json.loads((patch / "timestamps.json").read_text()))
    ndvi = np.load(patch / "data" / "NDVI.npy")[..., 0]
    clm = np.load(patch / "mask" / "CLM.npy")[..., 0].astype(bool)
    is_data = np.load(patch / "mask" / "IS_DATA.npy")[..., 0].astype(bool)
    _, ny, nx = ndvi.shape
    # bbox EPSG:32633 x 465181-466181, y 5079245-5080255, 10 m (SOURCE.md)
    coords = {"time": times, "y": 5080255.0 - 5 - 10 * np.arange(ny),
              "x": 465181.0 + 5 + 10 * np.arange(nx)}
    dims = ("time", "y", "x")
    return (xr.DataArray(ndvi, dims=dims, coords=coords, name="ndvi").rio.write_crs(32633),
            xr.DataArray(clm, dims=dims, coords=coords, name="clm"),
            xr.DataArray(is_data, dims=dims, coords=coords, name="is_data"))


def test_testeopatch__composites_use_only_clear_observations(realdata):
    ndvi, clm, is_data = load_testeopatch(realdata)
    clear = ~clm & is_data
    out = monthly(ndvi.chunk({"y": 50, "x": 50}), clear=clear.chunk({"y": 50, "x": 50})).compute()
    months = pd.DatetimeIndex(out.month.values)
    assert months[0] == pd.Timestamp("2015-07-01") and months[-1] == pd.Timestamp("2017-12-01")
    assert out.sizes["month"] == 30

    # independent reference: per (month, pixel) median of the clear values
    v = np.where(clear.values, ndvi.values, np.nan)
    key = pd.DatetimeIndex(ndvi.time.values).to_period("M")
    ref = np.full(out["ndvi"].shape, np.nan, np.float32)
    count = np.zeros(out["filled"].shape, int)
    for m, period in enumerate(months.to_period("M")):
        sel = np.asarray(key == period)
        count[m] = clear.values[sel].sum(axis=0)
        if sel.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN: no clear value
                ref[m] = np.nanmedian(v[sel], axis=0)
    observed = count > 0
    np.testing.assert_array_equal(out["filled"].values, ~observed)
    np.testing.assert_array_equal(out["clear_count"].values, count)
    np.testing.assert_allclose(out["ndvi"].values[observed], ref[observed], rtol=0, atol=1e-6)
    # one pixel-month by hand: the clear NDVI values of a month, and their median
    m, i, j = next((m, i, j) for m, i, j in zip(*np.nonzero(count >= 3), strict=True))
    sel = np.asarray(key == months.to_period("M")[m])
    vals = ndvi.values[sel, i, j][clear.values[sel, i, j]]
    assert out["ndvi"].values[m, i, j] == pytest.approx(float(np.median(vals)), abs=1e-6)
    # filled cells: interpolated between clear months (inside their range), never NaN here
    filled = ~observed
    assert filled.any() and np.isfinite(out["ndvi"].values).all()
    lo, hi = np.nanmin(v), np.nanmax(v)
    assert ((out["ndvi"].values >= lo - 1e-6) & (out["ndvi"].values <= hi + 1e-6)).all()
    share = float(filled.mean())
    print(f"TestEOPatch: {filled.sum()} of {filled.size} (pixel, month) cells filled "
          f"({share:.1%}); clear observations {float(clear.values.mean()):.1%}")
    assert 0.05 < share < 0.6


def test_testeopatch__dilation_removes_more_and_fraction_is_clear_share(realdata):
    ndvi, clm, is_data = load_testeopatch(realdata)
    clear = ~clm & is_data
    grown = ~dilate_mask(clm, radius=2) & is_data
    assert grown.values.sum() < clear.values.sum()
    assert not (grown.values & ~clear.values).any()          # dilation only removes
    frac = clear_fraction(clear)
    np.testing.assert_allclose(frac.values, clear.values.mean(axis=0), atol=1e-6)
    a = monthly(ndvi, clear=clear)["filled"].values.mean()
    b = monthly(ndvi, clear=grown)["filled"].values.mean()
    assert b >= a

