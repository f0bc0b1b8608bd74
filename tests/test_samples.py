"""The simulated flood scene and the sample build (eolab.samples).

Fast tests use a 3 km window of the default scene; tests marked ``slow`` use
the full default build (the ``samples_dir`` fixture of conftest.py) or the
full scene's truth.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from scipy import ndimage

from eolab.aoi import TUTORIAL_AOI_WKT, parse_aoi
from eolab.errors import AOIError, BandError, OutputError
from eolab.samples import (
    BAND_RESOLUTION,
    BANDS,
    DATES,
    DEFAULT_SEED,
    FULL_WINDOW,
    GENERATOR_VERSION,
    LANDCOVER_CLASSES,
    NOISE_SIGMA,
    PRODUCTS,
    _flood_world,
    build_samples,
    checksums,
    ensure_samples,
    sample_files,
    simulate_flood_scene,
    simulated_admin_units,
    update_registry,
    verify_samples,
)
from eolab.samples import flood as model

SMALL = (290040.0, 6270040.0, 293040.0, 6273040.0)  # 3 km on the floodplain of seed 2021
INNER = (291000.0, 6271000.0, 292000.0, 6272000.0)  # snapped outward to 60 m
REGISTRY = Path(__file__).resolve().parents[1] / "data_samples" / "registry.json"


def _crop(arr: np.ndarray, res: int, big: tuple, small: tuple) -> np.ndarray:
    r0, c0 = round((big[3] - small[3]) / res), round((small[0] - big[0]) / res)
    ny, nx = round((small[3] - small[1]) / res), round((small[2] - small[0]) / res)
    return arr[r0:r0 + ny, c0:c0 + nx]


def _jp2(zip_path: Path, suffix: str) -> np.ndarray:
    with zipfile.ZipFile(zip_path) as zf:
        member = next(n for n in zf.namelist() if n.endswith(suffix))
    with rasterio.open(f"/vsizip/{zip_path}/{member}") as src:
        return src.read(1)


@pytest.fixture(scope="module")
def small() -> model.FloodScene:
    return simulate_flood_scene(window=SMALL)


@pytest.fixture(scope="module")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("small_build")
    build_samples(dest, window=SMALL, progress=False)
    return dest


# --------------------------------------------------------------------------- the scene
def test_simulate_flood_scene__window_is_exact_crop_of_larger_window(small):
    inner = simulate_flood_scene(window=INNER)
    assert inner.bounds == (291000.0, 6271000.0, 292020.0, 6272020.0)
    for name in ("landcover", "flood", "permanent_water", "dem", "flood_level"):
        np.testing.assert_array_equal(_crop(getattr(small, name), 20, small.bounds, inner.bounds),
                                      getattr(inner, name), err_msg=name)
    np.testing.assert_array_equal(_crop(small.landcover_10m, 10, small.bounds, inner.bounds),
                                  inner.landcover_10m)
    for date in DATES:
        np.testing.assert_array_equal(_crop(small.scl[date], 20, small.bounds, inner.bounds),
                                      inner.scl[date])
        for band in BANDS:
            res = BAND_RESOLUTION[band]
            for kind in ("reflectance", "noisy"):
                big = getattr(small, kind)[date][band]
                np.testing.assert_array_equal(_crop(big, res, small.bounds, inner.bounds),
                                              getattr(inner, kind)[date][band],
                                              err_msg=f"{kind} {date} {band}")


def test_simulate_flood_scene__grids_shapes_and_quantisation(small):
    assert small.crs == "EPSG:32756" and small.dates == DATES
    for res in (10, 20, 60):
        t = small.transform(res)
        assert (t.a, t.e, t.c, t.f) == (res, -res, SMALL[0], SMALL[3])
        assert small.shape(res) == (3000 // res, 3000 // res)
        # aligned with the tile grid (multiples of 60 m from ULX/ULY)
        assert (t.c - model.TILE_ORIGIN[0]) % 60 == 0 and (model.TILE_ORIGIN[1] - t.f) % 60 == 0
    assert small.landcover.dtype == np.uint8 and small.flood.dtype == bool
    for date in DATES:
        for band in BANDS:
            noisy = small.noisy[date][band]
            assert noisy.shape == small.shape(BAND_RESOLUTION[band]) and noisy.dtype == np.float32
            dn = noisy.astype(np.float64) * 1e4
            np.testing.assert_allclose(dn, np.round(dn), atol=1e-3)  # the product's DN steps
            assert noisy.min() >= 1e-4


def test_simulate_flood_scene__noise_sigma_and_independence(small):
    noise = {}
    for date in DATES:
        for band in BANDS:
            diff = small.noisy[date][band].astype(np.float64) - small.reflectance[date][band]
            sigma = diff.std()
            assert NOISE_SIGMA >= 0.005 and 0.005 <= sigma <= 0.0066, (date, band, sigma)
            assert abs(diff.mean()) < 0.001
            noise[date, band] = diff.ravel()
    assert abs(np.corrcoef(noise[DATES[0], "B02"], noise[DATES[0], "B03"])[0, 1]) < 0.03
    assert abs(np.corrcoef(noise[DATES[0], "B04"], noise[DATES[1], "B04"])[0, 1]) < 0.03


def test_simulate_flood_scene__truth_consistency(small):
    assert not (small.flood & small.permanent_water).any()
    assert np.array_equal(small.permanent_water, small.landcover == 1)
    assert set(np.unique(small.landcover)) <= set(LANDCOVER_CLASSES)
    # flooded 10 m pixels lie below the flood surface (the 20 m truth is their majority)
    scene10 = small.flood_10m
    assert scene10.any() and not (scene10 & small.permanent_water_10m).any()
    assert (small.dem[small.flood] < small.flood_level[small.flood] + 0.5).mean() > 0.97
    # SCL follows the cloud truth
    for date in DATES:
        scl, cloud = small.scl[date], small.clouds[date]
        assert np.array_equal(np.isin(scl, (8, 9)), cloud == 1)
        assert np.array_equal(scl == 3, cloud == 2)
        assert np.array_equal(scl == 10, cloud == 3)
        clear = cloud == 0
        assert np.all(scl[clear & small.permanent_water] == 6)


def test_simulate_flood_scene__flood_looks_like_turbid_water(small):
    """Clear flooded pixels: NIR drops, red rises; clouds are bright and flat."""
    clear = (small.clouds[DATES[0]] == 0) & (small.clouds[DATES[1]] == 0)
    sel = small.flood & clear & (np.isin(small.landcover, (4, 5)))
    assert sel.sum() > 100
    nir1, nir2 = (small.reflectance[d]["B8A"][sel] for d in DATES)
    assert np.median(nir1 - nir2) > 0.1
    cloud = small.clouds[DATES[1]] == 1
    if cloud.sum() > 50:
        thick = small.scl[DATES[1]] == 9
        b05, b8a = small.reflectance[DATES[1]]["B05"][thick], small.reflectance[DATES[1]]["B8A"][thick]
        assert b05.mean() > 0.4 and abs(b05.mean() - b8a.mean()) < 0.05


def test_simulate_flood_scene__mixed_pixels_and_phenology(small):
    # 20 m pixels whose four 10 m sub-pixels hold water and land are mixtures
    lc10 = small.landcover_10m.reshape(150, 2, 150, 2)
    water = (lc10 == 1).sum(axis=(1, 3))
    clear = small.clouds[DATES[0]] == 0
    pure_w = clear & (water == 4)
    mixed = clear & (water == 2)
    pure_l = clear & (water == 0) & (small.landcover != 2)
    b8a = small.reflectance[DATES[0]]["B8A"]
    if mixed.sum() > 10 and pure_w.sum() > 10:
        m = np.median(b8a[mixed])
        assert np.median(b8a[pure_w]) < m < np.median(b8a[pure_l])
    # small, non-zero change of vegetation between the dates where both are clear and unflooded
    both = clear & (small.clouds[DATES[1]] == 0) & ~small.flood & (small.landcover == 5)
    d = small.reflectance[DATES[1]]["B8A"][both] - small.reflectance[DATES[0]]["B8A"][both]
    assert both.sum() > 100 and 0.001 < abs(np.median(d)) < 0.05


def test_simulate_flood_scene__bad_arguments():
    with pytest.raises(BandError):
        simulate_flood_scene(window=INNER, bands=["B10"])
    with pytest.raises(AOIError):
        simulate_flood_scene(window=(0.0, 0.0, 1000.0, 1000.0))


# --------------------------------------------------------------------------- the build
def test_build_samples__writes_every_file(small_build):
    for name in sample_files():
        assert (small_build / name).is_file(), name
    info = json.loads((small_build / ".build-info.json").read_text())
    assert info["seed"] == DEFAULT_SEED and info["window"] == list(SMALL)
    assert info["generator_version"] == GENERATOR_VERSION
    assert not list(small_build.glob(".eolab-staging-*"))


def test_build_samples__products_decode_to_the_scene(small_build, small):
    for name, (date, baseline) in PRODUCTS.items():
        path = small_build / f"{name}.zip"
        offset = 1000 if baseline == "04.00" else 0
        for band in BANDS:
            res = BAND_RESOLUTION[band]
            dn = _jp2(path, f"_{band}_{res}m.jp2").astype(np.float64)
            np.testing.assert_allclose((dn - offset) / 1e4, small.noisy[date][band], atol=1e-6,
                                       err_msg=f"{name} {band}")
        np.testing.assert_array_equal(_jp2(path, "_SCL_20m.jp2"), small.scl[date])


def test_build_samples__truth_files(small_build, small):
    expected = {"flood_truth.tif": small.flood, "permanent_water_truth.tif": small.permanent_water,
                "landcover_truth.tif": small.landcover,
                "cloud_truth_20210325.tif": small.clouds["20210325"]}
    for name, values in expected.items():
        with rasterio.open(small_build / name) as src:
            assert src.crs.to_epsg() == 32756 and src.res == (20.0, 20.0)
            assert src.nodata == 255 and src.dtypes[0] == "uint8"
            assert tuple(src.transform)[:6] == tuple(small.transform(20))[:6]
            np.testing.assert_array_equal(src.read(1), values.astype(np.uint8), err_msg=name)
            assert src.tags()["simulated"] == "true"
    with rasterio.open(small_build / "landcover_truth.tif") as src:
        assert "1=permanent water" in src.tags()["classes"]
    import geopandas as gpd

    for name, mask in (("flood_truth.gpkg", small.flood),
                       ("permanent_water_truth.gpkg", small.permanent_water)):
        gdf = gpd.read_file(small_build / name)
        assert gdf.crs.to_epsg() == 32756
        assert gdf.area.sum() == pytest.approx(mask.sum() * 400.0)
        assert gdf["area_m2"].sum() == pytest.approx(mask.sum() * 400.0)


def test_build_samples__same_seed_same_checksums(small_build, tmp_path):
    again = build_samples(tmp_path, window=SMALL, progress=False)
    for path in again:
        rel = path.relative_to(tmp_path)  # TimeSen2Crop tiles are named by tile/dates.csv
        assert checksums(path) == checksums(small_build / rel), str(rel)


def test_registry__round_trip_and_corruption(small_build, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(small_build, dest)
    reg = update_registry(dest, registry=dest / "registry.json")
    assert verify_samples(dest) == []
    with rasterio.open(dest / "flood_truth.tif", "r+") as dst:
        data = dst.read(1)
        data[0, 0] = 1 - data[0, 0]
        dst.write(data, 1)
    (dest / "admin_units.gpkg").unlink()
    problems = verify_samples(dest, registry=reg)
    assert any(p.startswith("flood_truth.tif:") for p in problems)
    assert "missing: admin_units.gpkg" in problems
    assert len(problems) == 2
    with pytest.raises(Exception, match="registry describes the full scene"):
        update_registry(dest)


def test_build_samples__never_overwrites_real_products(tmp_path):
    for name in list(PRODUCTS)[:2]:
        (tmp_path / f"{name}.zip").write_bytes(b"PK real product stand-in")
    with pytest.raises(OutputError, match="did not build"):
        build_samples(tmp_path, progress=False)
    assert ensure_samples(tmp_path, progress=False) == tmp_path
    assert not (tmp_path / "flood_truth.tif").exists()


def test_simulated_admin_units__cover_the_aoi():
    units = simulated_admin_units()
    assert units.crs.to_epsg() == 4326 and 6 <= len(units) <= 10
    assert list(units.columns[:5]) == ["name", "code", "national_level", "country", "simulated"]
    assert units["name"].str.startswith("Sim LGA ").all() and units["name"].is_unique
    assert (units["national_level"] == "3rdOrder").all() and units["simulated"].all()
    assert (units["country"] == "Australia").all()
    aoi, _ = parse_aoi(TUTORIAL_AOI_WKT)
    union = shapely.union_all(units.geometry.values)
    assert aoi.difference(union).area < 1e-9 * aoi.area
    assert sum(g.intersection(aoi).area for g in units.geometry) == pytest.approx(aoi.area, rel=1e-6)


def test_registry_file__describes_the_default_build():
    reg = json.loads(REGISTRY.read_text())
    assert reg["seed"] == DEFAULT_SEED and reg["window"] == list(FULL_WINDOW)
    assert reg["generator_version"] == GENERATOR_VERSION, "rebuild and run update_registry()"
    assert sorted(reg["files"]) == sorted(sample_files())
    for name in PRODUCTS:
        assert len(reg["files"][f"{name}.zip"]) == 26  # 4 + 10 + 12 JPEG 2000 files


@pytest.mark.slow
def test_world__deterministic():
    fresh = _flood_world._World(DEFAULT_SEED)  # bypass the cache
    cached = _flood_world._world(DEFAULT_SEED)
    assert fresh.flood_height == cached.flood_height
    np.testing.assert_array_equal(fresh.dem20, cached.dem20)
    np.testing.assert_array_equal(fresh.flood20, cached.flood20)
    np.testing.assert_array_equal(fresh.towns, cached.towns)


def test_simulate_flood_scene__other_seed_other_scene(small):
    other = simulate_flood_scene(seed=7, window=SMALL, bands=())
    assert not np.array_equal(other.landcover, small.landcover)
    assert not np.array_equal(other.clouds[DATES[1]], small.clouds[DATES[1]])


# --------------------------------------------------------------------------- full scene
@pytest.fixture(scope="module")
def full_truth() -> model.FloodScene:
    return simulate_flood_scene(bands=())


def _truth_dir(samples_dir: Path) -> Path:
    if not (samples_dir / "flood_truth.tif").exists():
        pytest.skip(f"{samples_dir} holds no simulated truth (real products?)")
    return samples_dir


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


@pytest.mark.slow
def test_full_scene__statistics(samples_dir):
    d = _truth_dir(samples_dir)
    flood, perm = _read(d / "flood_truth.tif") == 1, _read(d / "permanent_water_truth.tif") == 1
    lc = _read(d / "landcover_truth.tif")
    cloud2, cloud1 = _read(d / "cloud_truth_20210325.tif"), _read(d / "cloud_truth_20210315.tif")
    assert lc.shape == (1725, 1515)
    assert ((cloud2 == 1) | (cloud2 == 2)).mean() >= 0.10
    assert ((cloud2 == 1) & flood).sum() > 1000          # some cloud over the flood
    assert (cloud1 > 0).mean() < 0.05                      # date 1 mostly clear
    assert 0.03 <= flood.mean() <= 0.10
    assert not (flood & perm).any()
    for code in LANDCOVER_CLASSES:
        assert (lc == code).mean() > 0.005, LANDCOVER_CLASSES[code]
    flooded = np.bincount(lc[flood], minlength=7) / flood.sum()
    assert flooded[4] > 0.05 and flooded[5] > 0.05     # cropland, grassland
    assert 0 < flooded[2] < 0.2                         # a few urban edges


@pytest.mark.slow
def test_full_scene__flood_in_low_ground_connected_to_the_river(full_truth):
    s = full_truth
    assert (s.dem[s.flood] < s.flood_level[s.flood] + 0.5).mean() > 0.97
    assert np.median(s.dem[s.flood]) < np.median(s.dem[~s.flood]) - 10
    labels, _ = ndimage.label(s.flood | s.permanent_water, np.ones((3, 3), bool))
    # the river: the largest permanent-water component
    river = np.bincount(labels[s.permanent_water]).argmax()
    assert (labels[s.flood] == river).mean() > 0.95
    wet = np.unique(labels[s.permanent_water])
    assert np.isin(labels[s.flood], wet).mean() > 0.99
    dist = ndimage.distance_transform_edt(~s.permanent_water) * 20
    assert np.percentile(dist[s.flood], 99) < 4000


@pytest.mark.slow
def test_full_scene__scl_follows_the_cloud_truth(samples_dir):
    d = _truth_dir(samples_dir)
    name = next(n for n, (date, base) in PRODUCTS.items() if date == "20210325" and base == "02.14")
    scl = _jp2(d / f"{name}.zip", "_SCL_20m.jp2")
    cloud = _read(d / "cloud_truth_20210325.tif")
    assert np.array_equal(np.isin(scl, (8, 9)), cloud == 1)
    assert np.array_equal(scl == 3, cloud == 2)
    assert np.array_equal(scl == 10, cloud == 3)
    assert not (scl == 0).any()


@pytest.mark.slow
def test_full_scene__matches_the_registry(samples_dir):
    d = _truth_dir(samples_dir)
    info = json.loads((d / ".build-info.json").read_text()) if (d / ".build-info.json").exists() \
        else {}
    if info.get("seed") != DEFAULT_SEED or info.get("window") != list(FULL_WINDOW):
        pytest.skip("the sample folder holds another build than the registry's")
    assert verify_samples(d, registry=REGISTRY) == []
