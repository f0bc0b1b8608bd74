"""The simulated crop scene and its TimeSen2Crop-format training data: determinism, file
layouts, truth parcels whose classes show their phenology in the images, SCL flags where
the simulated clouds, shadows and snow are."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rasterio.features import rasterize
from rasterio.transform import from_origin

from eolab.crop.timeseries import open_cube
from eolab.errors import OutputError, SampleDataError
from eolab.samples import _crop_ts2c
from eolab.samples.crop import (
    CROP_CLASSES,
    CROP_CUBE,
    CROP_PARCELS,
    PROPORTIONS,
    TIMESEN2CROP_DIR,
    TRAINING_TILES,
    simulate_crop_scene,
    simulate_timesen2crop,
    write_crop_samples,
)

WINTER_CEREALS = (6, 8, 12, 13)
SUMMER_CROPS = (2, 5, 10)        # maize, soy, beet: green only from June on


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("crop")
    paths = write_crop_samples(dest)
    assert paths == [dest / CROP_CUBE, dest / CROP_PARCELS, dest / TIMESEN2CROP_DIR]
    return dest


@pytest.fixture(scope="module")
def small():
    return simulate_crop_scene(size=80)


def test_simulate_crop_scene__same_seed_same_scene_other_seed_differs():
    a = simulate_crop_scene(seed=5, size=40)
    b = simulate_crop_scene(seed=5, size=40)
    c = simulate_crop_scene(seed=6, size=40)
    xr.testing.assert_identical(a.cube, b.cube)
    assert a.parcels.equals(b.parcels)
    assert not np.array_equal(a.cube["reflectance"].values, c.cube["reflectance"].values,
                              equal_nan=True)
    d1 = simulate_timesen2crop(seed=5, tile="33UWP", n_pixels=200)
    d2 = simulate_timesen2crop(seed=5, tile="33UWP", n_pixels=200)
    assert d1[0] == d2[0]
    for u, v in zip(d1[1:], d2[1:], strict=True):
        np.testing.assert_array_equal(u, v)


def test_write_crop_samples__cube_layout_grid_and_crs(written):
    cube = open_cube(written / CROP_CUBE)
    assert cube["reflectance"].dims == ("time", "band", "y", "x")
    assert cube["band"].values.tolist() == ["B02", "B03", "B04", "B05", "B06", "B07", "B08",
                                            "B8A", "B11", "B12"]
    assert cube.rio.crs.to_epsg() == 32633
    times = pd.DatetimeIndex(cube.time.values)
    assert 45 <= times.size <= 55 and times.is_monotonic_increasing
    assert times[0] >= pd.Timestamp("2017-09-01") and times[-1] < pd.Timestamp("2018-09-01")
    assert (np.diff(times.values).astype("timedelta64[D]").astype(int) >= 1).all()
    assert len(set(np.diff(times.values))) > 3                     # irregular
    x0, y0, x1, y1 = cube.rio.bounds()
    # inside tile 33UVP (x 399960-509760, y 5290200-5400000), 10 m grid
    assert 399960 <= x0 < x1 <= 509760 and 5290200 <= y0 < y1 <= 5400000
    assert cube.rio.resolution() == (10.0, -10.0)
    raw = xr.open_dataset(written / CROP_CUBE, mask_and_scale=False)
    assert raw["reflectance"].dtype == np.int16 and raw["scl"].dtype == np.int8
    assert raw["reflectance"].attrs["scale_factor"] == pytest.approx(1e-4)
    raw.close()
    assert (written / CROP_CUBE).stat().st_size < 60e6
    assert not list(written.glob(".eolab-crop-*"))                  # staging removed


def test_write_crop_samples__truth_parcels_classes_and_proportions(written):
    parcels = gpd.read_file(written / CROP_PARCELS)
    assert parcels.crs.to_epsg() == 32633
    assert {"parcel_id", "crop_class", "crop_name", "geometry"} <= set(parcels.columns)
    counts = parcels["crop_class"].value_counts()
    assert set(counts.index) == set(CROP_CLASSES)                   # all 16 classes
    assert counts.idxmax() == 1                                     # grassland most common
    share = counts / counts.sum()
    for c, p in PROPORTIONS.items():
        assert abs(share[c] - p) <= max(0.02, 2.5 / counts.sum()), (c, share[c], p)
    assert (parcels["crop_name"] == parcels["crop_class"].map(CROP_CLASSES)).all()
    assert parcels.geometry.is_valid.all()
    union = parcels.geometry.union_all()
    assert parcels.geometry.area.sum() == pytest.approx(union.area, rel=1e-9)   # no overlaps
    assert union.area < 0.97 * 4.0e6                                  # margins and roads
    assert 1.0e4 <= parcels.geometry.area.median() <= 5.0e4       # 1-5 ha fields


def _parcel_raster(parcels: gpd.GeoDataFrame, cube: xr.Dataset) -> np.ndarray:
    x0, _, _, y1 = cube.rio.bounds()
    return rasterize(zip(parcels.geometry, parcels["crop_class"] + 1, strict=True),
                     out_shape=(cube.sizes["y"], cube.sizes["x"]),
                     transform=from_origin(x0, y1, 10, 10), fill=0) - 1


def _ndvi_by_class(cube: xr.Dataset, classes: np.ndarray, start: str, end: str) -> dict:
    """Median NDVI of clear (SCL 4/5) pixels of each class between two dates."""
    sub = cube.sel(time=slice(start, end)).load()
    red, nir = sub["reflectance"].sel(band="B04"), sub["reflectance"].sel(band="B8A")
    ndvi = ((nir - red) / (nir + red)).values
    clear = np.isin(sub["scl"].values, (4, 5))
    out = {}
    for c in np.unique(classes[classes >= 0]):
        vals = ndvi[clear & (classes == c)[None]]
        out[int(c)] = float(np.median(vals)) if vals.size >= 20 else np.nan
    return out


def test_scene__truth_classes_show_their_phenology(written):
    """Winter cereals green in May and ripe or harvested by late July; maize, soy and beet
    bare in early May and green in August; rapeseed yellow in flower (high green band)."""
    cube = open_cube(written / CROP_CUBE, chunks=None)
    classes = _parcel_raster(gpd.read_file(written / CROP_PARCELS), cube)
    may = _ndvi_by_class(cube, classes, "2018-05-01", "2018-05-25")
    late_july = _ndvi_by_class(cube, classes, "2018-07-20", "2018-08-05")
    august = _ndvi_by_class(cube, classes, "2018-08-10", "2018-08-31")
    early_may = _ndvi_by_class(cube, classes, "2018-04-20", "2018-05-12")
    for c in WINTER_CEREALS:
        assert may[c] > 0.6, (c, may[c])
        assert late_july[c] < 0.45, (c, late_july[c])
    for c in SUMMER_CROPS:
        assert early_may[c] < 0.35, (c, early_may[c])
        assert august[c] > 0.6, (c, august[c])
    assert august[1] > 0.45                      # grassland regrows after its cuts
    sub = cube.sel(time=slice("2018-04-25", "2018-05-08"))
    green = sub["reflectance"].sel(band="B03").values
    clear = np.isin(sub["scl"].values, (4, 5))
    rape = np.median(green[clear & (classes == 9)[None]])
    wheat = np.median(green[clear & (classes == 12)[None]])
    assert rape > wheat + 0.05, (rape, wheat)


def test_scene__scl_marks_simulated_clouds_shadows_snow(small):
    cube, sky = small.cube, small.sky
    scl = cube["scl"].values
    refl = cube["reflectance"]
    seen = ~sky["nodata"]
    assert ((sky["cloud"] >= 0.5) & seen == (scl == 9)).all()
    assert (scl[(sky["cloud"] >= 0.05) & (sky["cloud"] < 0.5) & seen] == 8).all()
    shaded = (sky["shadow"] >= 0.5) & (sky["cloud"] < 0.05) & (sky["cirrus"] < 0.25) & seen
    assert shaded.any() and (scl[shaded] == 3).all()
    assert np.array_equal(sky["nodata"], scl == 0)
    assert np.isnan(refl.values[:, 0][scl == 0]).all() and not np.isnan(
        refl.values[:, 0][scl != 0]).any()
    blue, swir = refl.sel(band="B02").values, refl.sel(band="B11").values
    clear = np.isin(scl, (4, 5))
    assert blue[scl == 9].mean() > 0.3                                # clouds bright
    assert blue[clear].mean() < 0.1
    # shadows darker than the same pixel's clear median
    nir = refl.sel(band="B8A").values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        clear_median = np.nanmedian(np.where(clear, nir, np.nan), axis=0)
    t, i, j = np.nonzero(scl == 3)
    assert np.median(nir[t, i, j] / clear_median[i, j]) < 0.8
    if (scl == 11).any():
        assert blue[scl == 11].mean() > 0.4 and swir[scl == 11].mean() < 0.2   # snow
    assert ((scl == 4) | (scl == 5) | ~clear).all()


def test_timesen2crop__layout_and_format(written):
    root = written / TIMESEN2CROP_DIR
    assert sorted(p.name for p in root.iterdir()) == sorted(TRAINING_TILES)
    for tile, n in TRAINING_TILES.items():
        lines = (root / tile / "dates.csv").read_text().splitlines()
        assert lines[0] == "acquisition_date"
        dates = pd.to_datetime(lines[1:], format="%Y%m%d")
        assert dates.is_monotonic_increasing and 40 <= dates.size <= 55
        assert dates[0] >= pd.Timestamp("2017-09-01") and dates[-1] <= pd.Timestamp("2018-08-31")
        folders = sorted(int(p.name) for p in (root / tile).iterdir() if p.is_dir())
        assert folders == list(range(16))
        files = list((root / tile).glob("*/*.csv"))
        assert n <= len(files) <= 1.3 * n
        for f in files[:: max(1, len(files) // 40)]:
            table = pd.read_csv(f)
            assert list(table.columns) == [f"B{i}" for i in range(1, 10)] + ["Flag"]
            assert len(table) == dates.size
            assert all(np.issubdtype(t, np.integer) for t in table.dtypes)
            assert set(table["Flag"]).issubset({0, 1, 2, 3})
        counts = {c: len(list((root / tile / str(c)).glob("*.csv"))) for c in range(16)}
        assert max(counts, key=counts.get) == 1                      # grassland most
        names = sorted(int(p.stem) for p in (root / tile / "1").glob("*.csv"))
        assert names == list(range(counts[1]))                       # 0.csv, 1.csv, ...
    d_uvp = (root / "33UVP" / "dates.csv").read_text()
    cube_dates = pd.DatetimeIndex(open_cube(written / CROP_CUBE).time.values)
    assert d_uvp.split()[1:] == cube_dates.strftime("%Y%m%d").tolist()
    assert (root / "33UWP" / "dates.csv").read_text() != d_uvp       # a calendar of its own


def test_timesen2crop__flags_match_the_reflectance():
    dates, dn, flags, labels = simulate_timesen2crop(tile="33UWP", n_pixels=800)
    assert dn.shape == (labels.size, len(dates), 9) and flags.shape == dn.shape[:2]
    b1, b7, b8 = dn[..., 0], dn[..., 6], dn[..., 7]
    assert {0, 1, 2}.issubset(set(np.unique(flags)))
    assert b1[flags == 1].mean() > 2 * b1[flags == 0].mean()         # clouds bright
    # shadows darker than clear observations of the same class on the same date
    ratios = [b7[(flags[:, t] == 2) & (labels == c), t].mean()
              / b7[(flags[:, t] == 0) & (labels == c), t].mean()
              for t in range(len(dates)) for c in range(16)
              if ((flags[:, t] == 2) & (labels == c)).any()
              and ((flags[:, t] == 0) & (labels == c)).any()]
    assert len(ratios) > 10 and np.median(ratios) < 0.8
    if (flags == 3).any():
        assert b1[flags == 3].mean() > 4000 and b8[flags == 3].mean() < 2000
    clear = flags == 0
    assert 0.4 < clear.mean() < 0.95
    assert set(np.unique(labels)) == set(CROP_CLASSES)


def test_flags_of_scl__maps_scene_classes_to_timesen2crop_flags():
    scl = np.arange(12)
    assert _crop_ts2c.flags_of_scl(scl).tolist() == [1, 0, 0, 2, 0, 0, 0, 0, 1, 1, 1, 3]


def test_write_crop_samples__bad_input_leaves_nothing(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_crop_samples(blocker / "sub")
    with pytest.raises(SampleDataError, match="size"):
        simulate_crop_scene(size=5)
    with pytest.raises(SampleDataError, match="n_pixels"):
        simulate_timesen2crop(tile="32TXX")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("eolab.samples.crop.write_tile", boom)
    monkeypatch.setattr("eolab.samples.crop.simulate_crop_scene",
                        lambda seed: simulate_crop_scene(seed=seed, size=32))
    dest = tmp_path / "out"
    with pytest.raises(OutputError, match="disk full"):
        write_crop_samples(dest)
    assert list(dest.iterdir()) == []                 # no cube, no parcels, no staging


def test_write_crop_safe__products_read_back_as_the_cube(tmp_path):
    from eolab.io.sentinel2 import open_l2a
    from eolab.samples._crop_safe import SAFE_WINDOW
    from eolab.samples.crop import write_crop_safe

    scene = simulate_crop_scene()
    zips = write_crop_safe(tmp_path, count=2, scene=scene)
    assert len(zips) == 2 and all(z.suffix == ".zip" and "_T33UVP_" in z.name for z in zips)
    n = SAFE_WINDOW
    for z in zips:
        ds = open_l2a(z, bands=["B04", "B08", "SCL"], resolution=10).compute()
        when = pd.Timestamp(ds.attrs["datetime"]).tz_localize(None)
        t = int(np.argmin(abs(pd.DatetimeIndex(scene.cube.time.values) - when)))
        assert abs(pd.Timestamp(scene.cube.time.values[t]) - when) < pd.Timedelta("1s")
        assert ds.rio.crs.to_epsg() == 32633 and ds.sizes["y"] == ds.sizes["x"] == n
        cube = scene.cube.isel(time=t, y=slice(0, n), x=slice(0, n))
        np.testing.assert_allclose(ds["B04"].values, cube["reflectance"].sel(band="B04").values,
                                   atol=1.01e-4)
        np.testing.assert_allclose(ds["x"].values, cube["x"].values)
        np.testing.assert_allclose(ds["y"].values, cube["y"].values)
        scl20 = open_l2a(z, bands=["SCL"], resolution=20)["SCL"].values
        np.testing.assert_array_equal(scl20, cube["scl"].values[::2, ::2])
        assert not np.isin(scl20, (0, 3, 8, 9, 10, 11)).any()        # a clear date
    with pytest.raises(SampleDataError, match="count"):
        write_crop_safe(tmp_path, count=0)
