import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from eolab.composites import rgb_composite, stretch_limits, to_bytes
from eolab.errors import BandError, RasterError


def _da(values):
    ny, nx = values.shape
    return xr.DataArray(values.astype("float32"), dims=("y", "x"),
                        coords={"y": np.arange(ny)[::-1] * 20.0, "x": np.arange(nx) * 20.0})


def test_stretch_limits__percentiles_over_all_inputs_ignoring_nan():
    a = _da(np.arange(100).reshape(10, 10))
    b = _da(np.arange(100, 200).reshape(10, 10))
    b[0, 0] = np.nan
    lo, hi = stretch_limits(a, b, percentiles=(0, 100))
    assert (lo, hi) == (0, 199)
    lo, hi = stretch_limits(a, percentiles=(2.5, 97.5))
    assert lo == pytest.approx(np.percentile(np.arange(100), 2.5))


def test_to_bytes__range_and_nodata():
    a = _da(np.linspace(-1, 2, 100).reshape(10, 10))
    a[5, 5] = np.nan
    out = to_bytes(a, lo=0.0, hi=1.0)
    assert out.dtype == np.uint8 and out.values[5, 5] == 0
    finite = out.values[np.isfinite(a.values)]
    assert finite.min() == 1 and finite.max() == 255


def test_rgb_composite__stretch_where_excludes_clouds():
    rng = np.random.default_rng(0)
    ds = xr.Dataset({b: _da(rng.uniform(0.02, 0.1, (50, 50))) for b in ("B02", "B03", "B04")})
    cloud = np.zeros((50, 50), bool)
    cloud[:20] = True
    for b in ds.data_vars:
        ds[b] = ds[b].where(~cloud, 0.8)  # bright cloud
    plain = rgb_composite(ds)
    masked = rgb_composite(ds, stretch_where=xr.DataArray(~cloud, dims=("y", "x")))
    # without the mask, the cloud takes the top of the stretch and the ground is dark
    assert masked.values[:, 20:].mean() > plain.values[:, 20:].mean() + 50
    assert masked.dims == ("band", "y", "x") and list(masked.band.values) == ["R", "G", "B"]


def test_rgb_composite__missing_band():
    ds = xr.Dataset({"B02": _da(np.ones((3, 3)))})
    with pytest.raises(BandError):
        rgb_composite(ds)


def _sar_pair(seed=0, shape=(80, 60)):
    """Two dates of 4-look speckled backscatter: land -8 dB, a flood (date 2 only) at -22 dB,
    a new building (date 2 only) at +5 dB."""
    rng = np.random.default_rng(seed)
    ys = 6_280_000 - 20 * (np.arange(shape[0]) + 0.5)
    xs = 290_000 + 20 * (np.arange(shape[1]) + 0.5)

    def grid(db):
        speckle = rng.gamma(4.0, 1 / 4.0, shape)
        da = xr.DataArray((10 ** (db / 10) * speckle).astype(np.float32), dims=("y", "x"),
                          coords={"y": ys, "x": xs}, name="sigma0")
        return da.rio.write_crs("EPSG:32756")

    before = np.full(shape, -8.0)
    after = before.copy()
    after[10:30, 10:30] = -22.0     # flood
    after[50:60, 40:50] = 5.0       # new building
    return grid(before), grid(after)


def test_acd_composite__flood_red_building_cyan_one_stretch():
    from eolab.composites import acd_composite, to_db

    s1, s2 = _sar_pair()
    s2 = s2.where(~((s2.y == s2.y[0]) & (s2.x == s2.x[0])))     # one no-data pixel
    acd = acd_composite(s1, s2)
    assert acd.dtype == np.uint8 and acd.dims == ("band", "y", "x")
    assert list(acd.band.values) == ["R", "G", "B"] and acd.rio.crs == s1.rio.crs
    r, g, b = (acd.sel(band=c).values.astype(int) for c in "RGB")
    np.testing.assert_array_equal(g, b)
    flood = (slice(10, 30), slice(10, 30))
    assert (r[flood] > g[flood]).mean() > 0.9          # backscatter fell: red
    building = (slice(50, 60), slice(40, 50))
    assert (g[building] > r[building]).mean() > 0.9    # backscatter rose: cyan
    assert acd.values[:, 0, 0].tolist() == [0, 0, 0]   # no data in either date
    # One stretch over both dates in dB: 2.5 % and 97.5 % of the pooled dB values
    pooled = np.concatenate([to_db(s1).values.ravel(), to_db(s2).values.ravel()])
    lo, hi = np.nanpercentile(pooled, [2.5, 97.5])
    assert acd.attrs["stretch_min_db"] == pytest.approx(lo, abs=1e-3)
    assert acd.attrs["stretch_max_db"] == pytest.approx(hi, abs=1e-3)
    both = np.concatenate([r[r > 0], g[g > 0]])
    assert both.max() == 255 and both.min() == 1      # the stretch spans both dates


def test_mtc_composite__coherence_in_blue_and_grid_checks():
    from eolab.composites import mtc_composite

    s1, s2 = _sar_pair(seed=1)
    coh = xr.full_like(s1, 0.5).rename("coherence")
    coh[:, :2] = 1.0
    coh[:, 2:4] = 0.0
    coh[0, 10] = np.nan
    mtc = mtc_composite(s1, s2, coh)
    b = mtc.sel(band="B").values
    assert (b[1:, :2] == 255).all() and (b[1:, 2:4] == 1).all() and (b[1:, 5:] == 128).all()
    assert mtc.values[:, 0, 10].tolist() == [0, 0, 0]
    with pytest.raises(RasterError, match="share one grid"):
        mtc_composite(s1, s2, coh.isel(y=slice(1, None)))
