"""The L2A reader against products whose reflectance is known (written by the
project's SAFE generator from chosen arrays), for both processing-baseline rules."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from eolab.errors import (AOIError, BandError, CorruptProductError, EolabError, ProductError,
                          ProductTypeError, ResolutionError)
from eolab.io.sentinel2 import canonical_band, cloud_mask, mask_clouds, open_l2a, read_metadata
from eolab.samples.s2safe import write_l2a_product

X0, Y0 = 289980.0, 6280060.0  # on the T56HKH grid (multiples of 60 m from its origin)
N10 = 120  # 1.2 km window
NATIVE = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B05": 20, "B06": 20, "B07": 20,
          "B8A": 20, "B11": 20, "B12": 20, "B01": 60, "B09": 60}
QUANT = 1e-4  # one DN


def _truth(seed: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    bands = {}
    for band, res in NATIVE.items():
        n = N10 * 10 // res
        bands[band] = rng.uniform(0.01, 0.6, size=(n, n)).astype("float32")
    bands["B04"][:3, :5] = np.nan  # no data
    scl = rng.choice([4, 5, 6, 8, 9, 3], size=(N10 // 2, N10 // 2)).astype("uint8")
    return bands, scl


@pytest.fixture(scope="module")
def products(tmp_path_factory) -> dict[str, Path]:
    bands, scl = _truth()
    out = tmp_path_factory.mktemp("products")
    common = dict(bands=bands, scl=scl, x0=X0, y0=Y0,
                  sensing_time=datetime(2021, 3, 25, 0, 2, 41, tzinfo=timezone.utc),
                  generation_time=datetime(2021, 3, 25, 2, 26, 49, tzinfo=timezone.utc))
    old = write_l2a_product(out, processing_baseline="02.14", **common)
    new = write_l2a_product(out, processing_baseline="04.00", **common)
    return {"02.14": old, "04.00": new}


def _aoi_wkt(x0, y0, x1, y1) -> str:
    tr = Transformer.from_crs(32756, 4326, always_xy=True)
    poly = shapely.box(x0, y0, x1, y1).segmentize(50)
    return shapely.transform(poly, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))).wkt


@pytest.mark.parametrize("baseline", ["02.14", "04.00"])
def test_open_l2a__reflectance_equals_truth_for_both_baselines(products, baseline):
    bands, scl = _truth()
    ds = open_l2a(products[baseline], bands=["B2", "B3", "B4", "B8"], resolution=10)
    assert ds.attrs["processing_baseline"] == baseline
    for name in ("B02", "B03", "B04", "B08"):
        got, want = ds[name].values, bands[name]
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=QUANT / 2 + 1e-7)


def test_open_l2a__baselines_agree(products):
    a = open_l2a(products["02.14"], bands=["B3", "B4", "B8"], resolution=20)
    b = open_l2a(products["04.00"], bands=["B3", "B4", "B8"], resolution=20)
    for name in a.data_vars:
        np.testing.assert_allclose(a[name].values, b[name].values, atol=1e-6, equal_nan=True)


def test_open_l2a__b08_at_20m_is_block_average(products):
    bands, _ = _truth()
    ds = open_l2a(products["02.14"], bands=["B8"], resolution=20)
    want = bands["B08"].reshape(N10 // 2, 2, N10 // 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(ds.B08.values, want, atol=QUANT)
    assert ds.B08.attrs["resampling"] == "average" and ds.B08.attrs["source_resolution"] == 10


def test_open_l2a__native_20m_band_and_nearest_to_10m(products):
    bands, _ = _truth()
    ds20 = open_l2a(products["02.14"], bands=["B05"], resolution=20)
    np.testing.assert_allclose(ds20.B05.values, bands["B05"], atol=QUANT / 2 + 1e-7)
    ds10 = open_l2a(products["02.14"], bands=["B5"], resolution=10)
    np.testing.assert_allclose(ds10.B05.values, np.repeat(np.repeat(bands["B05"], 2, 0), 2, 1),
                               atol=QUANT / 2 + 1e-7)
    assert ds10.B05.attrs["resampling"] == "nearest"


def test_open_l2a__scl_and_cloud_mask(products):
    _, scl = _truth()
    ds = open_l2a(products["04.00"], bands=["B3", "SCL"], resolution=20)
    np.testing.assert_array_equal(ds.SCL.values, scl.astype("float32"))
    mask = cloud_mask(ds)
    np.testing.assert_array_equal(mask.values, np.isin(scl, [3, 8, 9, 10]))
    masked = mask_clouds(ds)
    assert np.isnan(masked.B03.values[mask.values]).all()
    assert not np.isnan(masked.B03.values[~mask.values]).any()
    grown = cloud_mask(ds, dilation=1)
    assert grown.values.sum() > mask.values.sum() and (grown.values | ~mask.values).all()


def test_open_l2a__grid_crs_and_metadata(products):
    ds = open_l2a(products["02.14"], bands=["B03"], resolution=60)
    assert ds.rio.crs.to_epsg() == 32756
    t = ds.rio.transform()
    assert (t.a, t.e, t.c, t.f) == (60, -60, X0, Y0)
    assert ds.B03.dims == ("y", "x") and ds.B03.shape == (N10 // 6, N10 // 6)
    assert ds.attrs["datetime"].startswith("2021-03-25T00:02:41")
    assert ds.attrs["tile_id"] == "56HKH"
    assert ds.attrs["quantification_value"] == 10000


def test_open_l2a__is_lazy(products):
    ds = open_l2a(products["02.14"], bands=["B03", "B8"], resolution=20)
    assert ds.B03.chunks is not None and ds.B08.chunks is not None


def test_open_l2a__aoi_clip_and_mask(products):
    # an AOI over the inner part of the window, in EPSG:4326
    wkt = _aoi_wkt(X0 + 200, Y0 - 1000, X0 + 800, Y0 - 300)
    ds = open_l2a(products["02.14"], bands=["B03"], resolution=20, aoi=wkt)
    assert float(ds.x.min()) >= X0 + 180 and float(ds.x.max()) <= X0 + 820
    assert float(ds.y.max()) <= Y0 - 280 and float(ds.y.min()) >= Y0 - 1020
    assert 25 <= ds.sizes["x"] <= 33 and 30 <= ds.sizes["y"] <= 38
    assert np.isfinite(ds.B03.values[5:-5, 5:-5]).all()


def test_open_l2a__aoi_partly_outside_warns_and_clips(products):
    wkt = _aoi_wkt(X0 + 600, Y0 - 600, X0 + 3000, Y0 - 100)
    with pytest.warns(UserWarning, match="extends beyond"):
        ds = open_l2a(products["02.14"], bands=["B03"], resolution=20, aoi=wkt)
    assert float(ds.x.max()) < X0 + N10 * 10


def test_open_l2a__aoi_outside(products):
    with pytest.raises(AOIError, match="does not overlap"):
        open_l2a(products["02.14"], bands=["B03"], aoi="POLYGON((10 50, 11 50, 11 51, 10 51, 10 50))")


@pytest.mark.parametrize("aoi", ["POLYGON((150 -33, 151 -33", "LINESTRING(150 -33, 151 -34)"])
def test_open_l2a__invalid_aoi(products, aoi):
    with pytest.raises(AOIError):
        open_l2a(products["02.14"], bands=["B03"], aoi=aoi)


@pytest.mark.parametrize("band", ["B13", "B10", "NDVI", "B"])
def test_open_l2a__unknown_band(products, band):
    with pytest.raises(BandError, match="valid bands"):
        open_l2a(products["02.14"], bands=[band])


@pytest.mark.parametrize("res", [15, 30, 0, "abc"])
def test_open_l2a__bad_resolution(products, res):
    with pytest.raises(ResolutionError, match="10, 20 or 60"):
        open_l2a(products["02.14"], bands=["B03"], resolution=res)


def test_canonical_band():
    assert [canonical_band(b) for b in ["B3", "b03", "B8", "b8a", "B12", "scl"]] == \
        ["B03", "B03", "B08", "B8A", "B12", "SCL"]


def test_open_l2a__truncated_zip(products, tmp_path):
    data = products["02.14"].read_bytes()
    bad = tmp_path / products["02.14"].name
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptProductError, match="corrupt or truncated"):
        open_l2a(bad, bands=["B03"])


def test_open_l2a__corrupt_member(products, tmp_path):
    src = products["02.14"]
    bad = tmp_path / src.name
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("_B03_20m.jp2"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 200
    data[start:start + 64] = bytes(64)  # flip bytes inside the stored JP2 member
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptProductError):
        open_l2a(bad, bands=["B03"], resolution=20)


def test_open_l2a__not_a_zip(tmp_path):
    bad = tmp_path / "S2A_MSIL2A_fake.zip"
    bad.write_text("not a zip")
    with pytest.raises(CorruptProductError):
        open_l2a(bad, bands=["B03"])


def test_open_l2a__level1c_is_refused(tmp_path):
    path = tmp_path / "S2A_MSIL1C_20210325T000241_N0209_R030_T56HKH_20210325T012345.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("S2A_MSIL1C_20210325T000241_N0209_R030_T56HKH_20210325T012345.SAFE/MTD_MSIL1C.xml",
                    "<n1:Level-1C_User_Product xmlns:n1='x'/>")
    with pytest.raises(ProductTypeError, match="Level-1C"):
        open_l2a(path, bands=["B03"])


def test_open_l2a__missing_product():
    with pytest.raises(ProductError, match="not found"):
        open_l2a("/nonexistent/S2.zip", bands=["B03"])


def test_open_l2a__safe_folder(products, tmp_path):
    with zipfile.ZipFile(products["04.00"]) as zf:
        zf.extractall(tmp_path)
    safe = next(tmp_path.glob("*.SAFE"))
    a = open_l2a(safe, bands=["B04"], resolution=20)
    b = open_l2a(products["04.00"], bands=["B04"], resolution=20)
    np.testing.assert_array_equal(a.B04.values, b.B04.values)
    assert read_metadata(tmp_path).name == read_metadata(products["04.00"]).name


def test_errors_are_eolab_errors():
    for cls in (AOIError, BandError, CorruptProductError, ProductTypeError, ResolutionError):
        assert issubclass(cls, EolabError)


# ------------------------------------------------------------ against the scene generator's truth
SMALL = (290040.0, 6270040.0, 293040.0, 6273040.0)  # 3 km of the default scene's floodplain


@pytest.fixture(scope="module")
def scene_build(tmp_path_factory):
    from eolab.samples import build_samples, simulate_flood_scene

    dest = tmp_path_factory.mktemp("scene")
    build_samples(dest, window=SMALL, progress=False)
    return dest, simulate_flood_scene(window=SMALL)


@pytest.mark.parametrize("baseline", ["02.14", "04.00"])
def test_open_l2a__sample_products_match_the_generator_truth(scene_build, baseline):
    import geopandas as gpd

    from eolab.samples import PRODUCTS

    dest, scene = scene_build
    name = next(n for n, (date, b) in PRODUCTS.items() if date == "20210325" and b == baseline)
    aoi = gpd.GeoSeries([shapely.box(*SMALL)], crs=32756)
    ds10 = open_l2a(dest / f"{name}.zip", bands=["B3", "B8"], resolution=10, aoi=aoi)
    for band in ("B03", "B08"):
        # what was encoded (noisy, quantised) comes back exactly ...
        np.testing.assert_allclose(ds10[band].values, scene.noisy["20210325"][band], atol=1e-6)
        # ... and sits on the noise-free reflectance within the simulated sensor noise
        resid = ds10[band].values - scene.reflectance["20210325"][band]
        assert abs(float(np.nanmean(resid))) < 1e-3 and 0.004 < float(np.nanstd(resid)) < 0.008
    ds20 = open_l2a(dest / f"{name}.zip", bands=["B8", "B11"], resolution=20, aoi=aoi)
    want = scene.noisy["20210325"]["B08"].reshape(ds20.sizes["y"], 2, ds20.sizes["x"], 2).mean(axis=(1, 3))
    np.testing.assert_allclose(ds20.B08.values, want, atol=1e-6)
    np.testing.assert_allclose(ds20.B11.values, scene.noisy["20210325"]["B11"], atol=1e-6)
