"""Parcel majority vote, modal filter and the crop-map GeoTIFF, on hand-made cases."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from shapely.geometry import box

from eolab.crop.postprocess import (
    CLASS_COLORS,
    modal_filter,
    parcel_labels,
    parcel_majority,
    rasterize_parcels,
    write_crop_map,
)
from eolab.crop.predict import NODATA
from eolab.errors import CRSError, RasterError

N = NODATA


def _grid(values, *, crs="EPSG:32633"):
    """A (y, x) uint8 map on a 10 m grid with pixel (row r, col c) centred at (5+10c, 95-10r)."""
    v = np.asarray(values, dtype=np.uint8)
    ny, nx = v.shape
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": 10.0 * (ny - 1 - np.arange(ny)) + 5,
                                                  "x": 10.0 * np.arange(nx) + 5},
                      name="crop_class")
    return da.rio.write_crs(crs)


def _parcels(*boxes, crs="EPSG:32633"):
    return gpd.GeoDataFrame({"pid": range(len(boxes))}, geometry=[box(*b) for b in boxes],
                            crs=crs)


def test_rasterize_parcels__row_numbers_on_pixel_centres():
    crop = _grid(np.zeros((4, 6)))
    # grid spans x 0..60, y 0..40; left parcel x 0..30, right parcel x 30..60, top two rows
    ids = rasterize_parcels(_parcels((0, 20, 30, 40), (30, 20, 60, 40)), crop)
    expected = np.zeros((4, 6), dtype=np.int32)
    expected[:2, :3], expected[:2, 3:] = 1, 2
    np.testing.assert_array_equal(ids.values, expected)


def test_rasterize_parcels__reprojects_and_needs_crs():
    crop = _grid(np.zeros((4, 6)))
    p = _parcels((0, 20, 30, 40)).to_crs("EPSG:4326")
    ids = rasterize_parcels(p, crop)
    assert ids.values[:2, :3].min() == 1 and ids.values[2:].max() == 0
    with pytest.raises(CRSError, match="parcels have no CRS"):
        rasterize_parcels(_parcels((0, 20, 30, 40)).set_crs(None, allow_override=True), crop)


def test_parcel_majority__most_frequent_valid_class_nodata_kept():
    crop = _grid([[1, 1, 2, 5, 5, 5],
                  [N, N, N, 5, 7, N],
                  [3, 3, 3, 3, 3, 3],
                  [N, N, N, N, N, N]])
    parcels = _parcels((0, 20, 30, 40), (30, 20, 60, 40), (0, 0, 60, 10))
    out = parcel_majority(crop, parcels)
    np.testing.assert_array_equal(out.values, [[1, 1, 1, 5, 5, 5],
                                               [N, N, N, 5, 5, N],
                                               [3, 3, 3, 3, 3, 3],
                                               [N, N, N, N, N, N]])
    assert out.dtype == np.uint8 and out.rio.crs == crop.rio.crs
    out2 = parcel_majority(crop, parcels, outside="nodata")
    np.testing.assert_array_equal(out2.values[2], [N] * 6)      # row 2 is outside every parcel
    with pytest.raises(RasterError, match="outside"):
        parcel_majority(crop, parcels, outside="drop")


def test_parcel_majority__tie_broken_by_summed_probability():
    crop = _grid([[4, 4, 9, 9]])
    labels = np.array([4, 9])
    prob = np.zeros((2, 1, 4), dtype=np.float32)
    # class 4 wins its two pixels at 0.55, class 9 its two at 0.9: P(9) summed is larger
    prob[:, 0, 0] = prob[:, 0, 1] = (0.55, 0.45)
    prob[:, 0, 2] = prob[:, 0, 3] = (0.1, 0.9)
    result = xr.Dataset({"crop_class": crop,
                         "probability": (("class", "y", "x"), prob)},
                        coords={"class": labels}).rio.write_crs(crop.rio.crs)
    parcel = _parcels((0, 0, 40, 10))
    assert set(parcel_majority(result, parcel).values.ravel()) == {9}
    prob[:, 0, 2] = prob[:, 0, 3] = (0.49, 0.51)               # now P(4) sums to 2.08 > 1.92
    result["probability"] = (("class", "y", "x"), prob)
    assert set(parcel_majority(result, parcel).values.ravel()) == {4}
    # a max-probability layer: the tie goes to the class whose voters were surer
    maxp = xr.Dataset({"crop_class": crop,
                       "probability": (("y", "x"), np.array([[0.6, 0.6, 0.9, 0.9]]))})
    assert set(parcel_majority(maxp.rio.write_crs(crop.rio.crs), parcel).values.ravel()) == {9}
    # without probabilities the smaller class wins
    assert set(parcel_majority(crop, parcel).values.ravel()) == {4}


def test_parcel_majority__all_nodata_parcel_stays_nodata():
    crop = _grid([[N, N, 3, 3]])
    out = parcel_majority(crop, _parcels((0, 0, 20, 10), (20, 0, 40, 10)))
    np.testing.assert_array_equal(out.values, [[N, N, 3, 3]])


def test_parcel_labels__per_parcel_mode():
    crop = _grid([[1, 1, 2, 5], [N, 2, 2, 5]])
    parcels = _parcels((0, 0, 20, 20), (20, 0, 30, 20), (30, 0, 40, 20), (100, 100, 110, 110))
    ids = rasterize_parcels(parcels, crop)
    np.testing.assert_array_equal(parcel_labels(crop, ids)[:3], [1, 2, 5])
    # the fourth parcel is off the grid: it has no pixel, and is not in the raster's ids
    assert parcel_labels(crop, ids).size == 3


def test_modal_filter__isolated_pixels_removed_edges_and_nodata_kept():
    crop = _grid([[1, 1, 1, 1, 1],
                  [1, 1, 7, 1, 1],
                  [1, 1, 1, 1, N],
                  [2, 2, 2, 2, 2],
                  [2, 2, 2, 2, 2]])
    out = modal_filter(crop, size=3)
    np.testing.assert_array_equal(out.values, [[1, 1, 1, 1, 1],
                                               [1, 1, 1, 1, 1],
                                               [1, 1, 1, 1, N],
                                               [2, 2, 2, 2, 2],
                                               [2, 2, 2, 2, 2]])
    assert out.rio.crs == crop.rio.crs and out.dtype == np.uint8


def test_modal_filter__nodata_never_wins_and_tie_keeps_centre():
    crop = _grid([[N, N, N],
                  [3, 3, 5],
                  [3, 5, 5]])
    out = modal_filter(crop, size=3)
    # centre (1,1): counts 3 -> 3, 5 -> 3, N ignored: tie, the centre's class 3 stays
    assert out.values[1, 1] == 3
    # pixel (1, 2) = 5: its window (rows 0-2, cols 1-2) holds 3 twice and 5 three times
    assert out.values[1, 2] == 5
    # pixel (2, 0) = 3: window (rows 1-2, cols 0-1) holds 3 three times, 5 once
    assert out.values[2, 0] == 3
    np.testing.assert_array_equal(out.values[0], [N, N, N])
    allnd = modal_filter(_grid(np.full((3, 3), N)), size=3)
    assert (allnd.values == N).all()


def test_modal_filter__window_size_checked():
    crop = _grid(np.ones((3, 3)))
    for bad in (0, 2, 4, 2.5):
        with pytest.raises(RasterError, match="odd"):
            modal_filter(crop, size=bad)
    assert (modal_filter(crop, size=1).values == 1).all()


def test_modal_filter__larger_window_removes_larger_blobs():
    v = np.full((9, 9), 4)
    v[3:6, 3:6] = 8                                             # a 3x3 blob of 8
    crop = _grid(v)
    kept = modal_filter(crop, size=3).values == 8
    # 3x3 window: the centre (9 of 9) and edge pixels (6 of 9) stay, corners (4 of 9) go
    expected = np.zeros((9, 9), dtype=bool)
    expected[4, 3:6] = expected[3:6, 4] = True
    np.testing.assert_array_equal(kept, expected)
    assert (modal_filter(crop, size=5).values == 8).sum() == 0   # 5x5: at most 9 of 25


def test_write_crop_map__colours_names_nodata(tmp_path):
    crop = _grid([[1, 2, N], [12, 12, 2]])
    path = write_crop_map(crop, tmp_path / "crop_map.tif", labels=[1, 2, 12, 15])
    assert path.exists() and not list(tmp_path.glob(".*"))
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), crop.values)
        assert src.dtypes[0] == "uint8" and src.nodata == N
        assert src.crs.to_epsg() == 32633
        cmap = src.colormap(1)
        tags = src.tags()
    assert cmap[12][:3] == CLASS_COLORS[12] and cmap[12][3] == 255
    assert cmap[N][3] == 0
    assert tags["CLASS_12"] == "Winter wheat" and tags["CLASS_1"] == "Grassland"
    assert tags["CLASS_15"] == "Other crops"
    assert json.loads(tags["class_names"])["2"] == "Maize"
    with pytest.raises(CRSError):
        write_crop_map(crop.drop_vars("spatial_ref"), tmp_path / "x.tif")
