"""Flood vectorisation, area statistics and accuracy (eolab.flood), checked against truth:
hand-made rasters, independent counts (scipy.ndimage.label, geodesic areas), GDAL's own
command-line tools when installed (.ci/install-gdal-tools.sh), and the simulated scene."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dask.array
import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import rioxarray
import shapely
import xarray as xr
from scipy import ndimage
from shapely.geometry import Polygon, box

from eolab import flood
from eolab._polygonize import repair_polygons
from eolab.errors import CRSError, OutputError, RasterError
from eolab.io._shapefile import write_polygons

UTM = "EPSG:32756"
PIXEL = 20.0


def grid(values, *, crs: str | None = UTM, nodata=None, x0=290000.0, y0=6280000.0):
    """(y, x) DataArray on a 20 m grid, north up."""
    values = np.asarray(values)
    ny, nx = values.shape
    da = xr.DataArray(values, dims=("y", "x"), coords={
        "y": y0 - PIXEL * (np.arange(ny) + 0.5), "x": x0 + PIXEL * (np.arange(nx) + 0.5)})
    if crs is not None:
        da = da.rio.write_crs(crs)
    return da.rio.write_nodata(nodata) if nodata is not None else da


def regions(values, connectivity=4):
    """Independent truth: connected regions per non-zero value (count, pixels per value)."""
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    count, pixels = 0, {}
    for v in np.unique(values):
        if v == 0:
            continue
        count += ndimage.label(values == v, structure=structure)[1]
        pixels[int(v)] = int((values == v).sum())
    return count, pixels


def no_crs(gdf):
    return gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=list(gdf.geometry))


def random_levels(seed, shape=(60, 70), levels=5):
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.normal(size=shape), 1.5)
    out = np.digitize(smooth, np.quantile(smooth, np.linspace(0, 1, levels + 1)[1:-1]))
    return out.astype(np.uint8)


def gdal_tool(name: str) -> str:
    exe = shutil.which(f"{name}.py") or shutil.which(name)
    if exe is None:
        pytest.skip(f"GDAL's {name} is not installed (apt-get install gdal-bin python3-gdal; "
                    ".ci/install-gdal-tools.sh)")
    return exe


# --- levels and threshold -------------------------------------------------------------------

def test_flood_levels__floor_cap_nodata():
    mag = grid(np.array([[0.0, 3.99, 4.0, 4.5], [254.7, 300.0, np.nan, -1.0]], np.float32))
    lv = flood.flood_levels(mag)
    assert lv.dtype == np.uint8 and lv.name == "floodLevel"
    np.testing.assert_array_equal(lv.values, [[0, 3, 4, 4], [254, 254, 255, 0]])
    assert lv.rio.nodata == 255 and lv.rio.crs == mag.rio.crs


def test_flood_levels__band1_of_stack_dataset_and_file_nodata():
    mag = grid(np.array([[5.5, -9999.0], [12.1, 7.0]], np.float32), nodata=-9999.0)
    stack = xr.concat([mag, mag * 0 + 90], dim="band").assign_coords(band=[1, 2])
    stack = stack.rio.write_nodata(-9999.0)
    np.testing.assert_array_equal(flood.flood_levels(stack).values, [[5, 255], [12, 7]])
    ds = xr.Dataset({"magnitude": mag.rio.write_nodata(None, encoded=False),
                     "direction": mag * 0})
    assert flood.flood_levels(ds).values[1, 0] == 12
    with pytest.raises(RasterError, match="magnitude"):
        flood.flood_levels(xr.Dataset({"direction": mag}))


def test_flood_levels__lazy_with_dask():
    mag = grid(np.arange(16, dtype=np.float32).reshape(4, 4) * 1.5).chunk(2)
    lv = flood.flood_levels(mag)
    assert isinstance(lv.data, dask.array.Array)
    np.testing.assert_array_equal(lv.values, np.floor(np.arange(16).reshape(4, 4) * 1.5))


def test_threshold_levels__gdal_calc_formula():
    lv = grid(np.array([[0, 3, 4, 5], [255, 10, 1, 4]], np.uint8), nodata=255)
    out = flood.threshold_levels(lv, min_level=4)
    np.testing.assert_array_equal(out.values, [[0, 0, 4, 5], [255, 10, 0, 4]])
    assert out.dtype == np.uint8 and out.rio.nodata == 255


def test_levels__non_integer_refused():
    with pytest.raises(RasterError, match="integers"):
        flood.sieve(grid(np.ones((3, 3), np.float32)))
    with pytest.raises(RasterError, match="integers"):
        flood.threshold_levels(grid(np.ones((3, 3), np.float64)))
    with pytest.raises(RasterError, match="integers"):
        flood.polygonize(grid(np.ones((3, 3), np.float32)))


# --- sieve ------------------------------------------------------------------------------------

def test_sieve__nine_pixel_island_goes_to_largest_neighbour():
    a = np.ones((12, 12), np.uint8)
    a[:, 5:] = 2                 # region 2 is larger than region 1
    a[4:7, 3:6] = 9              # 9 px island touching both
    out = flood.sieve(grid(a), size=10).values
    expected = a.copy()
    expected[4:7, 3:6] = 2
    np.testing.assert_array_equal(out, expected)


def test_sieve__ten_pixel_island_kept():
    a = np.ones((12, 12), np.uint8)
    a[3:5, 3:8] = 9              # 10 px
    np.testing.assert_array_equal(flood.sieve(grid(a), size=10).values, a)


def test_sieve__diagonal_pieces_4_vs_8_connectivity():
    a = np.zeros((12, 12), np.uint8)
    a[2:7, 2] = 7                # 5 px
    a[7:12, 3] = 7               # 5 px, meets the first only at a corner
    four = flood.sieve(grid(a), size=10, connectivity=4).values
    eight = flood.sieve(grid(a), size=10, connectivity=8).values
    np.testing.assert_array_equal(four, np.zeros_like(a))
    np.testing.assert_array_equal(eight, a)


def test_sieve__nodata_neither_changed_nor_neighbour():
    a = np.ones((8, 8), np.uint8)
    a[:, 4:] = 255               # no data
    a[0, 0] = 255                # a one-pixel no-data hole: not sieved away
    a[3:5, 3] = 6                # 2 px next to the 255 block: must join region 1
    out = flood.sieve(grid(a, nodata=255), size=10).values
    expected = a.copy()
    expected[3:5, 3] = 1
    np.testing.assert_array_equal(out, expected)


def test_sieve__whole_image_smaller_than_size_unchanged():
    a = np.arange(16, dtype=np.uint8).reshape(4, 4)
    np.testing.assert_array_equal(flood.sieve(grid(a), size=100).values, a)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_sieve__equals_gdal_sieve(tmp_path, connectivity):
    exe = gdal_tool("gdal_sieve")
    rng = np.random.default_rng(3)
    levels = (np.floor(ndimage.gaussian_filter(rng.normal(size=(150, 170)), 1.0) * 12) + 20)
    levels = levels.clip(0, 254).astype(np.uint8)
    levels[rng.random(levels.shape) < 0.02] = 255
    da = grid(levels, nodata=255)
    src, dst = tmp_path / "levels.tif", tmp_path / "sieved.tif"
    da.rio.to_raster(src)
    cmd = [exe, "-q", "-st", "10", f"-{connectivity}", str(src), str(dst)]
    subprocess.run(cmd, check=True, capture_output=True)
    with rasterio.open(dst) as f:
        expected = f.read(1)
    out = flood.sieve(da, size=10, connectivity=connectivity).values
    assert (expected != levels).sum() > 500             # the sieve did change things
    np.testing.assert_array_equal(out, expected)


# --- polygonize -------------------------------------------------------------------------------

@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("strip_rows", [None, 7])
def test_polygonize__one_polygon_per_region_area_is_pixels(connectivity, strip_rows):
    a = random_levels(1)
    a[a == 1] = 0
    gdf = flood.polygonize(grid(a), connectivity=connectivity, strip_rows=strip_rows)
    count, pixels = regions(a, connectivity)
    assert len(gdf) == count
    per_level = gdf.area.groupby(gdf["floodLevel"]).sum()
    for level, n in pixels.items():
        assert per_level[level] == pytest.approx(n * PIXEL * PIXEL, rel=1e-12)
    assert gdf.is_valid.all() and not gdf.is_empty.any()
    assert gdf.crs == UTM and list(gdf.columns) == ["floodLevel", "geometry"]
    assert gdf["floodLevel"].dtype == np.int32
    assert 0 not in set(gdf["floodLevel"])


@pytest.mark.parametrize("connectivity", [4, 8])
def test_polygonize__numpy_and_gdal_engines_give_the_same_polygons(connectivity):
    a = random_levels(2, shape=(80, 90), levels=6)
    ours = flood.polygonize(grid(a), connectivity=connectivity, strip_rows=13)
    ref = flood.polygonize(grid(a), connectivity=connectivity, engine="gdal")
    assert len(ours) == len(ref)
    hit, other = ref.sindex.query(ours.geometry, predicate="intersects")
    same = shapely.equals(ours.geometry.values[hit], ref.geometry.values[other]) \
        & (ours["floodLevel"].values[hit] == ref["floodLevel"].values[other])
    assert np.unique(hit[same]).size == len(ours) == np.unique(other[same]).size


@pytest.mark.parametrize("connectivity", [4, 8])
def test_polygonize__workers_give_identical_polygons(connectivity):
    a = random_levels(3, shape=(90, 80), levels=6)
    one = flood.polygonize(grid(a), connectivity=connectivity, strip_rows=11, workers=1)
    for workers in (None, 3):
        many = flood.polygonize(grid(a), connectivity=connectivity, strip_rows=11,
                                workers=workers)
        assert list(many["floodLevel"]) == list(one["floodLevel"])
        assert shapely.equals_exact(many.geometry.values, one.geometry.values, 0).all()
    mag, _ = scene_like()
    base = flood.flood_mask(mag, workers=1)
    assert flood.flood_mask(mag, workers=2).geom_equals_exact(base.geometry, 0).all()
    with pytest.raises(RasterError, match="workers"):
        flood.polygonize(grid(a), workers=0)


def test_polygonize__hole_and_nodata():
    a = np.full((7, 7), 4, np.uint8)
    a[2:5, 2:5] = 0              # hole
    a[6, :] = 255                # no data row: not a polygon
    gdf = flood.polygonize(grid(a, nodata=255))
    assert len(gdf) == 1
    geom = gdf.geometry.iloc[0]
    assert len(geom.interiors) == 1
    assert geom.area == pytest.approx((42 - 9) * 400)


def test_polygonize__self_touching_ring_repaired():
    # A ring of 5s closed only through one corner: in 4-connectivity the
    # outline touches itself (invalid as traced); repaired, area unchanged.
    a = np.zeros((6, 6), np.uint8)
    a[0, 0:4] = 5
    a[0:4, 0] = 5
    a[3, 0:3] = 5
    a[1:3, 3] = 5                # ... and (3, 3) missing: (2, 3) meets (3, 2) at a corner
    for connectivity in (4, 8):
        gdf = flood.polygonize(grid(a), connectivity=connectivity)
        assert len(gdf) == 1 and gdf.is_valid.all()
        assert gdf.area.sum() == pytest.approx(a.astype(bool).sum() * 400)
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    assert not bowtie.is_valid
    fixed = repair_polygons(np.array([bowtie, box(0, 0, 1, 1)], dtype=object))
    assert shapely.is_valid(fixed).all() and fixed[0].area == pytest.approx(2.0)
    assert fixed[0].geom_type == "MultiPolygon" and fixed[1].equals(box(0, 0, 1, 1))


def test_polygonize__dask_input_and_empty_raster():
    a = random_levels(4)
    eager = flood.polygonize(grid(a), strip_rows=16)
    lazy = flood.polygonize(grid(a).chunk(16), strip_rows=16)
    assert len(eager) == len(lazy) and eager.area.sum() == pytest.approx(lazy.area.sum())
    empty = flood.polygonize(grid(np.zeros((5, 5), np.uint8)))
    assert len(empty) == 0 and empty.crs == UTM and "floodLevel" in empty.columns


def test_polygonize__no_crs_refused():
    with pytest.raises(CRSError, match="write_crs"):
        flood.polygonize(grid(np.ones((3, 3), np.uint8), crs=None))


def test_polygonize__equals_gdal_polygonize(tmp_path):
    exe = gdal_tool("gdal_polygonize")
    a = random_levels(5, shape=(120, 130), levels=7)
    a[a == 3] = 0
    da = grid(a, nodata=255)
    src, dst = tmp_path / "levels.tif", tmp_path / "gdal.gpkg"
    da.rio.to_raster(src)
    subprocess.run([exe, "-q", str(src), "-f", "GPKG", str(dst), "out", "floodLevel"],
                   check=True, capture_output=True)
    ref = gpd.read_file(dst)
    ref = ref[ref["floodLevel"] != 0]          # gdal_polygonize keeps level 0 polygons
    ours = flood.polygonize(da)
    assert len(ours) == len(ref)
    a_ours = ours.area.groupby(ours["floodLevel"]).sum()
    a_ref = ref.area.groupby(ref["floodLevel"]).sum()
    np.testing.assert_allclose(a_ours.sort_index().values, a_ref.sort_index().values, atol=1e-6)


# --- chains -----------------------------------------------------------------------------------

def scene_like():
    """Magnitude with a flood (levels 20–29), a cloud, speckle and a brightening field."""
    rng = np.random.default_rng(7)
    mag = rng.uniform(0, 3, (60, 60)).astype(np.float32)
    mag[10:40, 10:40] = rng.uniform(20, 30, (30, 30))        # flood
    mag[45:55, 45:55] = 15                                   # other change
    mag[5, 50] = 40                                          # one-pixel speck
    classes = np.zeros(mag.shape, np.uint8)
    classes[10:40, 10:40] = 1
    classes[45:55, 45:55] = 3
    classes[5, 50] = 1
    classes[30:40, 30:40] = 254                              # cloud on part of the flood
    mag[30:40, 30:40] = np.nan
    return grid(mag), grid(classes, nodata=255)


def test_flood_mask__tutorial_chain():
    mag, _ = scene_like()
    for nodata_level in (0, 255):        # NaN as gdal_calc makes it (0), or kept out (255)
        gdf = flood.flood_mask(mag, nodata_level=nodata_level)
        levels = flood.flood_levels(mag, nodata_level=nodata_level)
        assert (levels.values == nodata_level).sum() >= 100       # the cloud
        levels = flood.threshold_levels(flood.sieve(levels)).values
        count, pixels = regions(np.where(levels == 255, 0, levels))
        assert len(gdf) == count and gdf["floodLevel"].min() >= 4
        assert gdf.area.sum() == pytest.approx(sum(pixels.values()) * 400)


def test_flood_mask__equals_the_gdal_tool_chain(tmp_path):
    calc, sieve_exe = gdal_tool("gdal_calc"), gdal_tool("gdal_sieve")
    poly = gdal_tool("gdal_polygonize")
    rng = np.random.default_rng(11)
    mag = ndimage.gaussian_filter(rng.normal(size=(140, 160)), 2.0) * 40 + 6
    mag = mag.clip(0, None).astype(np.float32)
    mag[20:50, 30:90] = np.nan                               # clouds masked by the CVA
    da = grid(mag, nodata=np.nan)
    cva = tmp_path / "cva.tif"
    da.rio.to_raster(cva)
    steps = [
        [calc, "--quiet", "-A", str(cva), "--outfile", str(tmp_path / "lv.tif"), "--type",
         "Byte", "--calc", "minimum(floor(A),254)"],
        [sieve_exe, "-q", "-st", "10", str(tmp_path / "lv.tif"), str(tmp_path / "sv.tif")],
        [calc, "--quiet", "-A", str(tmp_path / "sv.tif"), "--outfile",
         str(tmp_path / "th.tif"), "--type", "Byte", "--calc", "(A>=4)*A"],
        [poly, "-q", str(tmp_path / "th.tif"), "-f", "GPKG", str(tmp_path / "gdal.gpkg"),
         "out", "floodLevel"],
    ]
    for cmd in steps:
        subprocess.run(cmd, check=True, capture_output=True)
    with rasterio.open(tmp_path / "lv.tif") as f:                # gdal_calc: NaN -> 0
        np.testing.assert_array_equal(flood.flood_levels(da, nodata_level=0).values, f.read(1))
    ref = gpd.read_file(tmp_path / "gdal.gpkg")
    ref = ref[ref["floodLevel"] != 0]
    ours = flood.flood_mask(da)
    assert len(ours) == len(ref) > 50
    a_ours = ours.area.groupby(ours["floodLevel"]).sum().sort_index()
    a_ref = ref.area.groupby(ref["floodLevel"]).sum().sort_index()
    assert list(a_ours.index) == list(a_ref.index)
    np.testing.assert_allclose(a_ours.values, a_ref.values, atol=1e-6)


def test_select_classes__float_classes_read_masked():
    lv = grid(np.array([[5, 6], [7, 8]], np.uint8), nodata=255)
    classes = grid(np.array([[1, np.nan], [254, 3]], np.float32))
    np.testing.assert_array_equal(flood.select_classes(lv, classes).values, [[5, 255], [255, 0]])


@pytest.mark.parametrize("sieve_on", ["flood", "levels"])
def test_flood_extent__class_one_only_clouds_dropped(sieve_on):
    mag, classes = scene_like()
    gdf = flood.flood_extent(mag, classes, sieve_on=sieve_on)
    assert gdf["floodLevel"].between(4, 254).all()
    burnt = flood.rasterize_like(gdf, mag).values
    truth = np.zeros(mag.shape, bool)
    truth[10:40, 10:40] = True
    truth[30:40, 30:40] = False                              # under the cloud: unknown
    assert not burnt[45:55, 45:55].any() and not burnt[5, 50]   # other change, speck
    assert not burnt[30:40, 30:40].any()
    iou = flood.accuracy(burnt, truth)["iou"]
    assert iou == 1.0 if sieve_on == "flood" else iou < 0.9    # levels 1 % wide: eroded


def test_flood_extent__classes_on_another_grid_refused():
    mag, classes = scene_like()
    with pytest.raises(RasterError, match="same grid"):
        flood.flood_extent(mag, classes.isel(x=slice(1, None)))


# --- vector files -----------------------------------------------------------------------------

def polygons():
    a = random_levels(6, shape=(30, 30))
    return flood.polygonize(grid(a))


def test_write_vectors__round_trip_shapefile_and_geopackage(tmp_path):
    gdf = polygons()
    paths = flood.write_vectors(gdf, tmp_path, "flood_mask")
    assert paths == {"shp": tmp_path / "flood_mask.shp", "gpkg": tmp_path / "flood_mask.gpkg"}
    for fmt, path in paths.items():
        back = gpd.read_file(path)
        assert list(back.columns) == ["floodLevel", "geometry"], fmt
        assert back.crs.equals(gdf.crs)
        np.testing.assert_array_equal(back["floodLevel"].values, gdf["floodLevel"].values)
        assert shapely.equals(back.geometry.values, gdf.geometry.values).all()
    assert {p.name for p in tmp_path.iterdir()} == {
        "flood_mask.shp", "flood_mask.shx", "flood_mask.dbf", "flood_mask.prj",
        "flood_mask.cpg", "flood_mask.gpkg"}


@pytest.mark.parametrize("case", ["flood", "holes_multi_and_orientation", "negative_int16"])
def test_write_vectors__shapefile_bytes_equal_gdal(tmp_path, case):
    gdf = flood.polygonize(grid(random_levels(4, shape=(50, 60), levels=6)))
    if case == "holes_multi_and_orientation":
        ring = [(290000, 6279000), (290000, 6279100), (290100, 6279100), (290100, 6279000)]
        hole = [(290020, 6279020), (290040, 6279020), (290040, 6279040), (290020, 6279040)]
        gdf.loc[0, "geometry"] = Polygon(ring[::-1], [hole])      # both rings turned wrong
        gdf.loc[1, "geometry"] = shapely.MultiPolygon([box(290000, 6279000, 290010, 6279010),
                                                       Polygon(ring)])
    if case == "negative_int16":
        gdf["floodLevel"] = (-gdf["floodLevel"] * 1000).astype(np.int16)
        gdf["other"] = np.arange(len(gdf), dtype=np.uint8)
    assert write_polygons(gdf, tmp_path / "direct.shp")       # the vectorised writer
    flood.write_vectors(gdf, tmp_path / "ours", "f", formats=("shp",))
    gdf.to_file(tmp_path / "gdal.shp", engine="pyogrio")
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        ours, ref = ((path / f"{stem}{ext}").read_bytes()
                     for path, stem in ((tmp_path / "ours", "f"), (tmp_path, "gdal")))
        if ext == ".dbf":       # bytes 1-3: the date of writing
            ours, ref = ours[:1] + ours[4:], ref[:1] + ref[4:]
        assert ours == ref, ext
    back = gpd.read_file(tmp_path / "ours" / "f.shp")
    assert shapely.equals(back.geometry.values, gdf.geometry.values).all()


def test_write_vectors__shapefile_of_other_fields_through_gdal(tmp_path):
    gdf = polygons()
    gdf["name"] = "flood"
    gdf["share"] = 0.5
    flood.write_vectors(gdf, tmp_path, "f", formats=("shp",))
    back = gpd.read_file(tmp_path / "f.shp")
    assert list(back["name"]) == ["flood"] * len(gdf) and (back["share"] == 0.5).all()
    assert not write_polygons(gdf, tmp_path / "direct.shp")    # left to GDAL


def test_write_vectors__existing_output_refused_then_overwritten(tmp_path):
    gdf = polygons()
    flood.write_vectors(gdf, tmp_path, "flood_mask", formats=("gpkg",))
    before = (tmp_path / "flood_mask.gpkg").read_bytes()
    with pytest.raises(OutputError, match="overwrite"):
        flood.write_vectors(gdf.iloc[:3], tmp_path, "flood_mask")
    assert (tmp_path / "flood_mask.gpkg").read_bytes() == before
    assert not (tmp_path / "flood_mask.shp").exists()
    flood.write_vectors(gdf.iloc[:3], tmp_path, "flood_mask", overwrite=True)
    assert len(gpd.read_file(tmp_path / "flood_mask.gpkg")) == 3


def test_write_vectors__failure_leaves_nothing(tmp_path, monkeypatch):
    gdf = polygons()
    real = gpd.GeoDataFrame.to_file

    def fail_on_gpkg(self, path, *args, **kwargs):
        if str(path).endswith(".gpkg"):
            raise RuntimeError("disk full")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", fail_on_gpkg)
    with pytest.raises(OutputError, match="disk full"):
        flood.write_vectors(gdf, tmp_path, "flood_mask")
    assert list(tmp_path.iterdir()) == []


def test_write_vectors__shapefile_field_names_and_crs(tmp_path):
    gdf = polygons().rename(columns={"floodLevel": "flood_level_pct"})
    with pytest.raises(OutputError, match="10 characters"):
        flood.write_vectors(gdf, tmp_path, "x")
    flood.write_vectors(gdf, tmp_path, "x", formats=("gpkg",))    # GeoPackage has no limit
    with pytest.raises(CRSError):
        flood.write_vectors(no_crs(polygons()), tmp_path, "y")
    empty = flood.polygonize(grid(np.zeros((3, 3), np.uint8)))
    flood.write_vectors(empty, tmp_path, "empty")
    assert len(gpd.read_file(tmp_path / "empty.shp")) == 0


def test_to_epsg4326__lonlat_valid_repaired():
    gdf = polygons()
    bowtie = Polygon([(290000, 6279000), (290100, 6279100), (290100, 6279000),
                      (290000, 6279100)])
    gdf = gpd.GeoDataFrame({"floodLevel": list(gdf["floodLevel"]) + [9]},
                           geometry=list(gdf.geometry) + [bowtie], crs=UTM)
    out = flood.to_epsg4326(gdf)
    assert out.crs.to_epsg() == 4326 and out.is_valid.all() and len(out) == len(gdf)
    minx, miny, maxx, maxy = out.total_bounds
    assert 150.0 < minx < maxx < 151.5 and -34.0 < miny < maxy < -33.0


# --- area -------------------------------------------------------------------------------------

def geodesic_km2(geom_4326) -> float:
    dense = shapely.segmentize(geom_4326, 0.0005)
    return abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(dense)[0]) / 1e6


def test_flood_area__equal_area_near_sydney_vs_utm_and_geodesic():
    square = box(151.0, -33.8, 151.1, -33.7)                  # about 9.3 x 11.1 km
    gdf = gpd.GeoDataFrame({"floodLevel": [5]}, geometry=[square], crs=4326)
    km2 = flood.flood_area(gdf)["flooded_km2"].item()
    utm = gpd.GeoSeries([shapely.segmentize(square, 0.0005)], crs=4326).to_crs(UTM).area
    assert km2 == pytest.approx(utm.item() / 1e6, rel=1e-3)
    assert km2 == pytest.approx(geodesic_km2(square), rel=1e-5)
    degrees = square.area
    assert abs(km2 - degrees) > 100                          # never in square degrees


def test_flood_area__per_level_and_total():
    a = np.zeros((20, 20), np.uint8)
    a[2:6, 2:6] = 4                                          # 16 px
    a[10:15, 10:20] = 7                                      # 50 px
    a[17:19, 0:3] = 4                                        # 6 px
    gdf = flood.polygonize(grid(a))
    per = flood.flood_area(gdf, by="floodLevel")
    assert list(per["floodLevel"]) == [4, 7] and list(per["polygons"]) == [2, 1]
    truth = {lvl: sum(geodesic_km2(g) for g in gdf[gdf.floodLevel == lvl].to_crs(4326).geometry)
             for lvl in (4, 7)}
    np.testing.assert_allclose(per["flooded_km2"], [truth[4], truth[7]], rtol=1e-5)
    total = flood.flood_area(gdf)
    assert total["flooded_km2"].item() == pytest.approx(per["flooded_km2"].sum(), rel=1e-12)
    assert total.attrs["total_flooded_km2"] == pytest.approx(total["flooded_km2"].item())
    from_raster = flood.flood_area(grid(a), by="floodLevel")
    np.testing.assert_allclose(from_raster["flooded_km2"], per["flooded_km2"], rtol=1e-12)


def test_flood_area__per_unit_two_hand_made_units():
    west, east = box(150.9, -33.8, 151.0, -33.7), box(151.0, -33.8, 151.1, -33.7)
    units = gpd.GeoDataFrame({"name": ["West", "East"], "code": ["W1", "E1"],
                              "national_level": ["3rdOrder"] * 2},
                             geometry=[west, east], crs=4326)
    lake = box(150.98, -33.76, 151.03, -33.74)               # straddles the border
    pond = box(151.05, -33.72, 151.06, -33.71)               # inside East
    far = box(152.0, -33.0, 152.01, -32.99)                  # in no unit
    dense = [shapely.segmentize(g, 0.0005) for g in (lake, pond, far)]   # keep the edges
    gdf = gpd.GeoDataFrame({"floodLevel": [6, 9, 4]}, geometry=dense, crs=4326).to_crs(UTM)
    out = flood.flood_area(gdf, by=units)
    assert list(out.columns) == ["name", "code", "national_level", "unit_km2", "flooded_km2",
                                 "flooded_share"]
    w_true = geodesic_km2(lake.intersection(west))
    e_true = geodesic_km2(lake.intersection(east)) + geodesic_km2(pond)
    np.testing.assert_allclose(out["flooded_km2"], [w_true, e_true], rtol=1e-4)
    np.testing.assert_allclose(out["unit_km2"], [geodesic_km2(west), geodesic_km2(east)],
                               rtol=1e-5)
    np.testing.assert_allclose(out["flooded_share"], out["flooded_km2"] / out["unit_km2"])
    total = out.attrs["total_flooded_km2"]
    assert total == pytest.approx(w_true + e_true + geodesic_km2(far), rel=1e-4)


def test_flood_area__bad_input():
    gdf = polygons()
    with pytest.raises(CRSError):
        flood.flood_area(no_crs(gdf))
    with pytest.raises(CRSError, match="geographic"):
        flood.flood_area(gdf, crs="EPSG:4326")
    with pytest.raises(RasterError, match="column"):
        flood.flood_area(gdf, by="depth")
    assert flood.flood_area(gdf, crs="EPSG:6933")["flooded_km2"].item() == pytest.approx(
        flood.flood_area(gdf)["flooded_km2"].item(), rel=1e-6)


# --- accuracy ---------------------------------------------------------------------------------

def test_accuracy__hand_made_masks():
    pred = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    ref = np.array([[1, 0, 0, 0], [1, 1, 0, 0]], np.uint8)
    m = flood.accuracy(pred, ref)
    assert (m["tp"], m["fp"], m["fn"], m["tn"], m["n"]) == (2, 1, 1, 4, 8)
    assert m["iou"] == pytest.approx(0.5) and m["f1"] == pytest.approx(2 / 3)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["overall_accuracy"] == pytest.approx(6 / 8)


def test_accuracy__ignore_value_mask_and_nodata():
    pred = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    ref = np.array([[1, 255, 0, 0], [1, 1, 0, 0]], np.uint8)  # the false positive is no data
    m = flood.accuracy(pred, ref, ignore=255)
    assert (m["tp"], m["fp"], m["fn"], m["ignored"]) == (2, 0, 1, 1)
    clouds = np.zeros(pred.shape, bool)
    clouds[1, 1] = True
    m = flood.accuracy(pred, np.where(ref == 255, 0, ref), ignore=clouds)
    assert (m["tp"], m["fp"], m["fn"], m["ignored"]) == (2, 1, 0, 1)
    m = flood.accuracy(grid(pred), grid(ref, nodata=255))     # the raster's own no data
    assert m["ignored"] == 1 and m["iou"] == pytest.approx(2 / 3)
    empty = flood.accuracy(np.zeros((2, 2), bool), np.zeros((2, 2), bool))
    assert np.isnan(empty["iou"]) and empty["tn"] == 4


def test_accuracy__polygons_against_raster_and_shape_mismatch():
    a = np.zeros((10, 10), np.uint8)
    a[2:5, 3:8] = 1
    truth = grid(a)
    gdf = flood.polygonize(truth).to_crs(4326)                # reprojected back on the grid
    assert flood.accuracy(gdf, truth)["iou"] == pytest.approx(1.0)
    assert flood.accuracy(truth, gdf)["f1"] == pytest.approx(1.0)
    with pytest.raises(RasterError, match="shape"):
        flood.accuracy(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
    with pytest.raises(RasterError, match="grid"):
        flood.accuracy(gdf, a)


# --- the simulated scene ----------------------------------------------------------------------

@pytest.mark.slow
def test_scene__truth_polygons_rasterize_to_truth_raster(samples_dir: Path):
    truth = rioxarray.open_rasterio(samples_dir / "flood_truth.tif").squeeze("band", drop=True)
    polys = gpd.read_file(samples_dir / "flood_truth.gpkg")
    assert flood.accuracy(flood.rasterize_like(polys, truth), truth)["iou"] > 0.99
    ours = flood.polygonize(truth.where(truth == 1, 0).astype(np.uint8))
    assert flood.accuracy(ours, truth)["iou"] == 1.0
    pixels = int((truth.values == 1).sum())
    assert ours.area.sum() == pytest.approx(pixels * 400.0)


@pytest.mark.slow
def test_scene__area_per_admin_unit_sums_to_total(samples_dir: Path):
    from eolab.io.boundaries import read_admin_units

    units = read_admin_units(samples_dir / "admin_units.gpkg")
    polys = gpd.read_file(samples_dir / "flood_truth.gpkg")
    per_unit = flood.flood_area(polys, by=units)
    total = flood.flood_area(polys)["flooded_km2"].item()
    assert per_unit["flooded_km2"].sum() == pytest.approx(total, rel=1e-9)
    assert (per_unit["flooded_km2"] > 0).sum() >= 2
    assert per_unit["flooded_share"].between(0, 1).all()
    # equal-area km² vs the UTM pixel area (scale factor about 0.9997 here): within 0.1 %
    truth = rioxarray.open_rasterio(samples_dir / "flood_truth.tif")
    utm_km2 = int((truth.values == 1).sum()) * 400.0 / 1e6
    assert total == pytest.approx(utm_km2, rel=1e-3) and total != pytest.approx(utm_km2,
                                                                                 rel=1e-5)
