import numpy as np
import pytest
import rasterio
import xarray as xr

from eolab.errors import CRSError, RasterError
from eolab.io.rasters import atomic_outputs, match_grid, write_geotiff


def _grid(values, crs="EPSG:32756"):
    ny, nx = values.shape[-2:]
    da = xr.DataArray(values, dims=("y", "x") if values.ndim == 2 else ("band", "y", "x"),
                      coords={"y": 6280000 - 20 * (np.arange(ny) + 0.5),
                              "x": 290000 + 20 * (np.arange(nx) + 0.5)})
    return da.rio.write_crs(crs) if crs else da


def test_write_geotiff__float_dataset_with_descriptions_units_nodata(tmp_path):
    a = np.arange(300 * 300, dtype="float32").reshape(300, 300) / 1000
    a[0, 0] = np.nan
    ds = xr.Dataset({"magnitude": _grid(a).assign_attrs(long_name="CVA magnitude", units="%"),
                     "direction": _grid(a * 2).assign_attrs(long_name="CVA direction", units="degree")})
    ds = ds.rio.write_crs("EPSG:32756")
    path = write_geotiff(ds, tmp_path / "out.tif")
    with rasterio.open(path) as src:
        assert src.count == 2 and src.crs.to_epsg() == 32756
        assert src.descriptions == ("CVA magnitude", "CVA direction")
        assert src.units == ("%", "degree")
        assert np.isnan(src.nodata) and src.profile["tiled"]
        assert src.transform.a == 20 and src.transform.c == 290000 and src.transform.f == 6280000
        got = src.read(1)
        assert np.isnan(got[0, 0]) and got[10, 10] == pytest.approx(a[10, 10])
        assert src.overviews(1)  # preview pyramid


def test_write_geotiff__requires_crs(tmp_path):
    with pytest.raises(CRSError):
        write_geotiff(_grid(np.zeros((4, 4), "float32"), crs=None), tmp_path / "x.tif")
    assert not list(tmp_path.iterdir())


def test_atomic_outputs__nothing_left_after_error(tmp_path):
    da = _grid(np.ones((8, 8), "uint8"))
    with pytest.raises(RuntimeError):
        with atomic_outputs(tmp_path) as out:
            write_geotiff(da, out.path("a.tif"), nodata=0)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_outputs(tmp_path) as out:
        write_geotiff(da, out.path("a.tif"), nodata=0)
    assert [p.name for p in tmp_path.iterdir()] == ["a.tif"]


def test_atomic_outputs__files_get_the_usual_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        with atomic_outputs(tmp_path) as out:
            out.path("a.txt").write_text("x")
        da = _grid(np.ones((8, 8), "uint8"))
        write_geotiff(da, tmp_path / "b.tif", nodata=0)
    finally:
        os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.tif").stat().st_mode & 0o777 == 0o644


def _grid_at(values, x0=500_000.0, y0=6_300_000.0, res=20.0, crs="EPSG:32756"):
    values = np.asarray(values)
    ys = y0 - res * (np.arange(values.shape[0]) + 0.5)
    xs = x0 + res * (np.arange(values.shape[1]) + 0.5)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs})
    return da.rio.write_crs(crs)


def test_match_grid__crops_and_pads_without_resampling():
    truth = _grid_at(np.arange(20, dtype=np.uint8).reshape(5, 4))          # one row more
    like = _grid_at(np.zeros((4, 5), np.float32), x0=500_020.0)           # shifted a column
    out = match_grid(truth, like)
    assert out.shape == (4, 5)
    np.testing.assert_array_equal(out.x, like.x)
    np.testing.assert_array_equal(out.y, like.y)
    expected = np.zeros((4, 5), np.uint8)
    expected[:, :3] = np.arange(20).reshape(5, 4)[:4, 1:]
    np.testing.assert_array_equal(out.values, expected)
    assert out.dtype == np.uint8 and out.rio.crs == like.rio.crs


def test_match_grid__bool_and_float_fill():
    like = _grid_at(np.zeros((3, 3)), x0=500_020.0)
    flags = match_grid(_grid_at(np.ones((3, 3), bool)), like)
    assert flags.dtype == bool and flags.values[:, 2].tolist() == [False] * 3
    floats = match_grid(_grid_at(np.ones((3, 3), np.float32)), like)
    assert np.isnan(floats.values[:, 2]).all() and np.isfinite(floats.values[:, :2]).all()


def test_match_grid__refuses_what_needs_resampling():
    base = _grid_at(np.zeros((3, 3)))
    with pytest.raises(RasterError, match="offset by 0.500"):
        match_grid(_grid_at(np.zeros((3, 3)), x0=500_010.0), base)
    with pytest.raises(RasterError, match="pixel sizes differ"):
        match_grid(_grid_at(np.zeros((3, 3)), res=10.0), base)
    with pytest.raises(CRSError, match="different CRSs"):
        match_grid(_grid_at(np.zeros((3, 3)), crs="EPSG:32755"), base)
    with pytest.raises(RasterError, match="do not overlap"):
        match_grid(_grid_at(np.zeros((3, 3)), x0=600_000.0), base)
