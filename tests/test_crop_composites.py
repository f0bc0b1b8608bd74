"""Monthly composites of clear observations and the NetCDF cube, on hand-built cubes
whose medians, gaps and interpolated values are worked out by hand."""

from __future__ import annotations

import dask.array as darr
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eolab.crop.composites import month_range, monthly, write_composites
from eolab.crop.timeseries import FILL_DN, cube_dataset, open_cube, write_cube
from eolab.errors import BandError, CRSError, EolabError, ProductError, RasterError

# dates: two in January, none in February, three in March, one in May
TIMES = pd.to_datetime(["2018-01-05", "2018-01-20", "2018-03-02", "2018-03-10", "2018-03-30",
                        "2018-05-15"])
# month mid-points in days after 2018-01-01 (Jan 31 d, Feb 28 d, Mar 31 d, Apr 30 d, May 31 d)
MID = {1: 15.5, 2: 31 + 14.0, 3: 59 + 15.5, 4: 90 + 15.0, 5: 120 + 15.5}


def _cube(values: np.ndarray, clear: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
    """(time, band, y, x) values and (time, y, x) clear mask on a small EPSG:32633 grid."""
    nt, nb, ny, nx = values.shape
    coords = {"time": TIMES[:nt], "y": 5342000.0 - 5 - 10 * np.arange(ny),
              "x": 438005.0 + 10 * np.arange(nx)}
    da = xr.DataArray(values.astype(np.float32), dims=("time", "band", "y", "x"),
                      coords={**coords, "band": [f"B{i}" for i in range(nb)]},
                      name="reflectance", attrs={"units": "1", "long_name": "reflectance"})
    da = da.rio.write_crs("EPSG:32633")
    return da, xr.DataArray(clear, dims=("time", "y", "x"), coords=coords)


def _hand_cube() -> tuple[xr.DataArray, xr.DataArray]:
    # pixel (0,0): all clear; (0,1): the second January date cloudy, March only the last clear;
    # (0,2): never clear; band 1 = 10 x band 0
    base = np.array([1.0, 2.0, 4.0, 8.0, 30.0, 100.0])
    v = np.zeros((6, 2, 1, 3))
    for j in range(3):
        v[:, 0, 0, j] = base + j
    v[:, 1] = 10 * v[:, 0]
    clear = np.ones((6, 1, 3), bool)
    clear[1, 0, 1] = clear[2, 0, 1] = clear[3, 0, 1] = False
    clear[:, 0, 2] = False
    return _cube(v, clear)


def test_monthly__medians_of_clear_observations_and_linear_fill():
    da, clear = _hand_cube()
    out = monthly(da, clear=clear)
    assert list(out.data_vars) == ["reflectance", "filled", "clear_count"]
    assert out["reflectance"].dims == ("month", "band", "y", "x")
    assert pd.DatetimeIndex(out.month.values).strftime("%Y-%m").tolist() == \
        ["2018-01", "2018-02", "2018-03", "2018-04", "2018-05"]
    r = out["reflectance"].values
    # pixel (0,0): Jan median(1,2)=1.5, Mar median(4,8,30)=8, May 100
    jan, mar, may = 1.5, 8.0, 100.0
    feb = jan + (MID[2] - MID[1]) / (MID[3] - MID[1]) * (mar - jan)
    apr = mar + (MID[4] - MID[3]) / (MID[5] - MID[3]) * (may - mar)
    np.testing.assert_allclose(r[:, 0, 0, 0], [jan, feb, mar, apr, may], rtol=1e-6)
    np.testing.assert_allclose(r[:, 1, 0, 0], 10 * np.array([jan, feb, mar, apr, may]),
                               rtol=1e-6)
    # pixel (0,1): Jan only 2 (the first date, value 1+1), Mar only 31
    assert r[0, 0, 0, 1] == pytest.approx(2.0) and r[2, 0, 0, 1] == pytest.approx(31.0)
    np.testing.assert_array_equal(out["filled"].values[:, 0, 0], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(out["clear_count"].values[:, 0, :2].T,
                                  [[2, 0, 3, 0, 1], [1, 0, 1, 0, 1]])
    # pixel (0,2): never clear -> NaN everywhere, every month flagged, no guess
    assert np.isnan(r[:, :, 0, 2]).all() and out["filled"].values[:, 0, 2].all()
    assert out.rio.crs.to_epsg() == 32633
    assert out["reflectance"].attrs["units"] == "1"


def test_monthly__edge_months_take_the_nearest_and_other_statistics():
    da, clear = _hand_cube()
    out = monthly(da, clear=clear, months=("2017-11", "2018-06"))
    r = out["reflectance"].values[:, 0, 0, 0]
    assert out.sizes["month"] == 8
    assert r[0] == r[1] == pytest.approx(1.5)      # Nov, Dec: January's value
    assert r[-1] == pytest.approx(100.0)           # June: May's
    assert out["filled"].values[[0, 1, 3, 5, 7], 0, 0].all()
    mean = monthly(da, clear=clear, statistic="mean", fill=None)["reflectance"].values
    assert mean[2, 0, 0, 0] == pytest.approx(14.0) and np.isnan(mean[1, 0, 0, 0])
    mx = monthly(da, clear=clear, statistic="max", fill="nearest")["reflectance"].values
    assert mx[2, 0, 0, 0] == pytest.approx(30.0)
    assert mx[1, 0, 0, 0] == pytest.approx(2.0)    # Feb nearer to January's mid-point
    # observations outside the requested months are ignored
    only_march = monthly(da, clear=clear, months=("2018-03", "2018-03"))
    assert only_march["clear_count"].values[0, 0, 0] == 3


def test_monthly__missing_values_count_as_not_observed():
    da, clear = _hand_cube()
    da = da.copy()
    da[4, 0, 0, 0] = np.nan            # 30 missing in band 0 only: the whole observation goes
    r = monthly(da, clear=clear)["reflectance"].values
    assert r[2, 0, 0, 0] == pytest.approx(6.0) and r[2, 1, 0, 0] == pytest.approx(60.0)


def test_monthly__lazy_equals_eager_and_stays_lazy():
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 1, (6, 3, 9, 7))
    clear = rng.uniform(size=(6, 9, 7)) < 0.5
    da, cl = _cube(v, clear)
    eager = monthly(da, clear=cl)
    lazy = monthly(da.chunk({"y": 4, "x": 3, "time": 2}), clear=cl.chunk({"y": 4, "x": 3}))
    assert isinstance(lazy["reflectance"].data, darr.Array)
    xr.testing.assert_identical(lazy.compute(), eager)
    assert eager["filled"].values.any() and not eager["filled"].values.all()


def test_monthly__no_band_dimension():
    da, clear = _hand_cube()
    ndvi = da.isel(band=0, drop=True).rename("ndvi")
    out = monthly(ndvi, clear=clear)
    assert out["ndvi"].dims == ("month", "y", "x")
    assert out["ndvi"].values[0, 0, 0] == pytest.approx(1.5)


def test_monthly__bad_input_raises_typed_errors():
    da, clear = _hand_cube()
    with pytest.raises(BandError, match="clear"):
        monthly(da)                                   # no mask and no SCL
    with pytest.raises(BandError, match="scl"):
        monthly(da.to_dataset())                      # a Dataset without SCL
    with pytest.raises(RasterError, match="statistic"):
        monthly(da, clear=clear, statistic="mode")
    with pytest.raises(RasterError, match="fill"):
        monthly(da, clear=clear, fill="cubic")
    with pytest.raises(RasterError, match="boolean"):
        monthly(da, clear=clear.astype(int))
    with pytest.raises(RasterError, match="match"):
        monthly(da, clear=clear.assign_coords(time=clear.time + pd.Timedelta("1D")))
    with pytest.raises(RasterError, match="before"):
        monthly(da, clear=clear, months=("2018-05", "2018-01"))
    with pytest.raises(RasterError, match="mask options"):
        monthly(da, clear=clear, snow=True)
    with pytest.raises(EolabError):
        month_range("2018-02", "2018-01")


def _cube_ds(nt: int = 6) -> xr.Dataset:
    rng = np.random.default_rng(1)
    refl = rng.uniform(0, 0.6, (nt, 3, 4, 5))
    refl[0, 0, 0, 0] = np.nan
    scl = np.full((nt, 4, 5), 4, np.int8)
    scl[1, :2] = 9
    scl[2, :, 0] = 3
    return cube_dataset(refl, scl, times=TIMES[:nt], bands=["B02", "B03", "B04"],
                        x=438005.0 + 10 * np.arange(5), y=5341995.0 - 10 * np.arange(4),
                        crs="EPSG:32633", attrs={"title": "test"})


def test_cube__written_as_int16_with_scale_and_opened_lazily(tmp_path):
    ds = _cube_ds()
    path = write_cube(ds, tmp_path / "cube.nc")
    raw = xr.open_dataset(path, mask_and_scale=False)
    assert raw["reflectance"].dtype == np.int16
    assert raw["reflectance"].attrs["scale_factor"] == pytest.approx(1e-4)
    assert raw["reflectance"].values[0, 0, 0, 0] == FILL_DN
    assert "flag_meanings" in raw["scl"].attrs and raw.attrs["Conventions"] == "CF-1.8"
    raw.close()
    cube = open_cube(path)
    assert isinstance(cube["reflectance"].data, darr.Array)
    assert cube.rio.crs.to_epsg() == 32633
    assert cube["band"].values.tolist() == ["B02", "B03", "B04"]
    np.testing.assert_allclose(cube["reflectance"].values, ds["reflectance"].values,
                               atol=0.5e-4 + 1e-7)
    # composites straight from the file mask the SCL clouds and shadows
    out = monthly(cube)
    assert out["clear_count"].values[0, 0, 1] == 1      # January: date 1 cloudy there
    assert out["clear_count"].values[0, 3, 0] == 2      # shadow only on date 3 (March)
    assert out["clear_count"].values[2, 3, 0] == 2
    # SCL options: snow masked on request, clouds grown by a dilation
    snowy = cube.assign(scl=cube["scl"].where(cube["scl"] != 4, 11).astype("int8"))
    assert monthly(snowy)["clear_count"].values[0, 3, 0] == 2
    assert monthly(snowy, snow=True)["clear_count"].values[0, 3, 0] == 0
    assert monthly(cube, dilation=1)["clear_count"].values[0, 2, 1] == 1   # next to a cloud
    # written and read back: values, flags and CRS
    saved = write_composites(out, tmp_path / "composites.nc")
    back = xr.open_dataset(saved, decode_coords="all")
    np.testing.assert_array_equal(back["filled"].values, out["filled"].values)
    np.testing.assert_array_equal(back["reflectance"].values, out["reflectance"].values)
    assert back.rio.crs.to_epsg() == 32633
    back.close()
    with pytest.raises(RasterError, match="monthly"):
        write_composites(cube, tmp_path / "not_composites.nc")
    assert not (tmp_path / "not_composites.nc").exists()


def test_cube__sub_second_times_survive_netcdf3(tmp_path):
    ds = _cube_ds().assign_coords(time=TIMES + pd.Timedelta("123456789ns"))
    back = open_cube(write_cube(ds, tmp_path / "t.nc"), chunks=None)
    err = np.abs(back.time.values - ds.time.values).max()
    assert err < np.timedelta64(1, "us")


def test_cube__bad_files_raise_typed_errors(tmp_path):
    with pytest.raises(ProductError, match="no cube"):
        open_cube(tmp_path / "missing.nc")
    ds = _cube_ds()
    no_scl = tmp_path / "no_scl.nc"
    write_cube(ds.drop_vars("scl"), no_scl)
    with pytest.raises(BandError, match="scl"):
        open_cube(no_scl)
    assert "reflectance" in open_cube(no_scl, require_scl=False)
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"not a netcdf file")
    with pytest.raises(ProductError):
        open_cube(garbage)
    with pytest.raises(CRSError):
        write_cube(ds.drop_vars("spatial_ref"), tmp_path / "nocrs.nc")
    assert not (tmp_path / "nocrs.nc").exists()
    assert not list(tmp_path.glob(".*.part"))
    with pytest.raises(ProductError, match="shape"):
        cube_dataset(np.zeros((2, 1, 2, 2)), np.zeros((2, 3, 2)), times=TIMES[:2], bands=["B"],
                     x=np.arange(2.0), y=np.arange(2.0), crs="EPSG:32633")
