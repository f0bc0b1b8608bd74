"""Flood from SAR backscatter: log-ratio, automatic thresholds, permanent water."""

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from eolab._thresholds import ThresholdError
from eolab.errors import RasterError
from eolab.s1.flood import log_ratio, sar_flood, sar_water


def _grid(db, rng, looks=9.0):
    shape = db.shape
    ys = 6_280_000 - 20 * (np.arange(shape[0]) + 0.5)
    xs = 290_000 + 20 * (np.arange(shape[1]) + 0.5)
    speckle = rng.gamma(looks, 1 / looks, shape)
    da = xr.DataArray((10 ** (db / 10) * speckle).astype(np.float32), dims=("y", "x"),
                      coords={"y": ys, "x": xs}, name="sigma0")
    return da.rio.write_crs("EPSG:32756")


def _scene(seed=0, flood_share=0.05):
    """Land at -8 dB (vegetation) and -4 dB (town), a river at -22 dB on both dates, and a
    flood (date 2 only) at -21 dB over ``flood_share`` of the scene."""
    rng = np.random.default_rng(seed)
    db = np.full((200, 200), -8.0)
    db[:, 150:] = -4.0
    db[95:105, :] = -22.0                        # river: permanent water
    flood = np.zeros(db.shape, bool)
    rows = int(round(flood_share * db.size / 150))
    flood[105:105 + rows, :150] = True
    after = np.where(flood, -21.0, db)
    return _grid(db, rng), _grid(after, rng), flood, db < -20


@pytest.mark.parametrize("share", [0.02, 0.05, 0.2])
def test_sar_flood__finds_the_flood_and_keeps_permanent_water_apart(share):
    before, after, flood, river = _scene(flood_share=share)
    out = sar_flood(before, after)
    assert out.dtype == np.uint8 and out.attrs["threshold_method"] == "ki"
    pred = out.values == 1
    iou = (pred & flood).sum() / (pred | flood).sum()
    # measured 0.85 / 0.94 / 0.99: the misses are lone speckle pixels in the no-change tail
    # (about 0.3 % of the land at 9 looks), which a sieve or a coarser grid removes
    assert iou >= 0.80, (iou, out.attrs)
    assert (out.values[river] == 2).mean() > 0.95
    assert out.attrs["threshold_db"] < -3 and -20 < out.attrs["water_db"] < -10


def test_sar_flood__fixed_thresholds_no_data_and_errors():
    before, after, flood, _ = _scene()
    after = after.where(~((after.y == after.y[0]) & (after.x == after.x[0])))
    out = sar_flood(before, after, threshold_db=-6.0, water_db=-15.0)
    assert out.values[0, 0] == 255
    assert out.attrs["threshold_db"] == -6.0 and out.attrs["water_db"] == -15.0
    ratio = log_ratio(before, after)
    np.testing.assert_allclose(ratio.values[5, 5], 10 * np.log10(after.values[5, 5]
                                                               / before.values[5, 5]), rtol=1e-5)
    with pytest.raises(ThresholdError, match="must be negative"):
        sar_flood(before, after, threshold_db=3.0)
    with pytest.raises(ThresholdError, match="unknown threshold method"):
        sar_flood(before, after, method="median")
    with pytest.raises(RasterError, match="share one grid"):
        sar_flood(before, after.isel(x=slice(1, None)))
    with pytest.raises(ThresholdError, match="no backscatter-decrease threshold"):
        sar_flood(before, before * 1.5, water_db=-15.0)       # nothing decreased


def test_sar_water__finds_dark_water_in_speckle():
    rng = np.random.default_rng(3)
    water = np.zeros((200, 200), bool)
    water[50:120, 30:160] = True
    mean = np.where(water, 10 ** (-22 / 10), 10 ** (-8 / 10))
    looks = 5  # multilooked intensity: gamma(5) about the mean
    sigma0 = mean * rng.gamma(looks, 1.0 / looks, water.shape)
    sigma0[0, :10] = np.nan
    da = xr.DataArray(sigma0.astype(np.float32), dims=("y", "x"))
    out = sar_water(da)
    assert out.dtype == np.uint8 and out.attrs["threshold_method"] == "ki"
    assert -22 < out.attrs["threshold_db"] < -8
    assert (out.values[0, :10] == 255).all()
    got = out.values == 1
    iou = (got & water).sum() / (got | water).sum()
    assert iou > 0.95
    fixed = sar_water(da, threshold_db=-30.0)
    assert fixed.attrs["threshold_method"] == "fixed" and (fixed.values == 1).mean() < 0.01
