"""The strip sieve (eolab._sieve) against GDAL's sieve (rasterio.features.sieve): bit for bit on
hand-made cases (ties, chains, cycles, no data, strip seams) and on a randomised battery, eager
and lazy (dask)."""

from __future__ import annotations

import dask.array
import numpy as np
import pytest
import rasterio.features
import xarray as xr

from eolab import flood
from eolab._sieve_run import sieve_strips
from eolab.errors import RasterError


def gdal(values, size, connectivity=4, nodata=None):
    mask = None if nodata is None else values != nodata
    return rasterio.features.sieve(values, size, mask=mask, connectivity=connectivity)


def check(values, size, connectivity=4, nodata=None, strip_rows=(1, 2, 3, None)):
    values = np.asarray(values, np.uint8)
    ref = gdal(values, size, connectivity, nodata)
    for rows in strip_rows:
        out = sieve_strips(values, size=size, connectivity=connectivity, nodata=nodata,
                           strip_rows=rows)
        np.testing.assert_array_equal(out, ref, err_msg=f"strip_rows={rows}")
    return ref


def random_case(rng):
    h, w = (int(rng.choice([1, 2, 3, 5, 8, 13, 21, 34])) for _ in range(2))
    nv = int(rng.choice([2, 3, 4, 6]))
    kind = int(rng.integers(3))
    if kind == 0:                                  # salt and pepper: many ties and chains
        v = rng.integers(0, nv, (h, w))
    else:                                          # blocks or stripes with noise
        if kind == 1:
            v = rng.integers(0, nv, (h // 2 + 1, w // 2 + 1)).repeat(2, 0).repeat(2, 1)[:h, :w]
        else:
            v = (np.add.outer(np.arange(h), np.arange(w)) // int(rng.integers(1, 4))) % nv
        v = np.where(rng.random((h, w)) < 0.25, rng.integers(0, nv, (h, w)), v)
    nodata = None
    if rng.random() < 0.4:
        nodata = nv
        v = np.where(rng.random((h, w)) < 0.15, nodata, v)
    return v.astype(np.uint8), nodata


@pytest.mark.parametrize("seed", range(8))
def test_sieve_strips__random_battery_equals_gdal(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        values, nodata = random_case(rng)
        size = int(rng.integers(1, 31))
        if size >= values.size:
            continue
        rows = int(rng.integers(1, values.shape[0] + 1))
        check(values, size, int(rng.choice([4, 8])), nodata, strip_rows=(1, rows, None))


def test_sieve_strips__tie_goes_to_the_neighbour_met_first():
    # the centre pixel touches 2 and 3 (both 4 pixels) - GDAL meets 2 (above) first
    values = np.array([[2, 2, 2, 2],
                       [9, 1, 9, 9],
                       [3, 3, 3, 3]])
    ref = check(values, 2)
    assert ref[1, 1] == 2
    # left before below: the pixel's left neighbour (row 1) comes before the row below
    values = np.array([[9, 9, 9, 9, 9],
                       [9, 4, 1, 8, 9],
                       [9, 4, 5, 8, 9],
                       [9, 4, 5, 8, 9],
                       [9, 9, 9, 9, 9]])
    check(values, 2)
    check(values, 4, connectivity=8)


def test_sieve_strips__chain_of_small_regions_reaches_a_big_one():
    # 1 -> 2 (its only neighbour besides 0-sized none) -> 3 (big): both go to 3
    values = np.array([[3, 3, 3, 3, 3, 3],
                       [3, 3, 3, 3, 3, 3],
                       [5, 5, 5, 2, 2, 2],
                       [5, 5, 5, 2, 1, 2],
                       [5, 5, 5, 2, 2, 2]])
    ref = check(values, 9)
    assert (ref[2:, 3:] == 3).all()


def test_sieve_strips__cycle_of_small_regions_stays():
    # two equal small regions that are each other's only neighbours: nobody moves
    values = np.array([[1, 1, 2, 2]])
    ref = check(values, 3)
    np.testing.assert_array_equal(ref, values)


def test_sieve_strips__region_across_many_strips_counts_whole():
    # a U-shaped region of 7s joined only at the bottom: one region across every seam
    values = np.zeros((12, 9), np.uint8)
    values[:, 1] = values[:, 7] = values[11, 1:8] = 7
    values[5, 4] = 3                                  # a speck inside the big 0 region
    ref = check(values, 12, strip_rows=(1, 2, 5, None))
    assert ref[5, 4] == 0 and (ref == 7).sum() == 12 + 12 + 5


def test_sieve_strips__nodata_is_no_neighbour_and_kept():
    values = np.array([[255, 255, 255],
                       [255, 1, 255],
                       [2, 2, 2]])
    ref = check(values, 2, nodata=255)
    assert ref[1, 1] == 2 and (ref[0] == 255).all()
    isolated = np.array([[255, 255, 255], [255, 1, 255], [255, 255, 255]])
    np.testing.assert_array_equal(check(isolated, 2, nodata=255), isolated)


@pytest.mark.parametrize("shape", [(1, 40), (40, 1), (1, 1), (2, 2)])
def test_sieve_strips__one_row_and_one_column(shape):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 3, shape).astype(np.uint8)
    for size in (1, 2, 3):
        if size < values.size:
            check(values, size)
            check(values, size, connectivity=8)


def test_sieve__engines_agree_eager_and_lazy():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 4, (57, 43)).astype(np.uint8)
    values[rng.random(values.shape) < 0.05] = 255
    levels = xr.DataArray(values, dims=("y", "x"), name="floodLevel").rio.write_nodata(255)
    ref = flood.sieve(levels, size=6, engine="gdal")
    np.testing.assert_array_equal(flood.sieve(levels, size=6, engine="strips",
                                              strip_rows=7).values, ref.values)
    lazy = levels.copy(data=dask.array.from_array(values, chunks=(10, 20)))
    out = flood.sieve(lazy, size=6)
    assert isinstance(out.data, dask.array.Array) and out.data.chunks == lazy.data.chunks
    assert out.rio.nodata == 255 and out.name == "floodLevel"
    np.testing.assert_array_equal(out.values, ref.values)
    np.testing.assert_array_equal(
        flood.sieve(lazy, size=6, connectivity=8, strip_rows=4).values,
        flood.sieve(levels, size=6, connectivity=8).values)


def test_sieve_strips__forked_workers_same_result():
    rng = np.random.default_rng(9)
    values = rng.integers(0, 3, (90, 61)).astype(np.uint8)
    values[rng.random(values.shape) < 0.05] = 255
    ref = gdal(values, 7, 4, 255)
    for workers in (2, 3):
        out = sieve_strips(values, size=7, nodata=255, strip_rows=8, workers=workers)
        np.testing.assert_array_equal(out, ref)
    levels = xr.DataArray(values, dims=("y", "x")).rio.write_nodata(255)
    np.testing.assert_array_equal(
        flood.sieve(levels, size=7, engine="strips", strip_rows=16, workers=2).values, ref)


def test_sieve__bad_engine_or_strip_rows_refused():
    levels = xr.DataArray(np.zeros((3, 3), np.uint8), dims=("y", "x"))
    with pytest.raises(RasterError, match="engine"):
        flood.sieve(levels, engine="fast")
    with pytest.raises(RasterError, match="strip_rows"):
        flood.sieve(levels, engine="strips", strip_rows=0)
    with pytest.raises(RasterError, match="workers"):
        flood.sieve(levels, engine="strips", workers=0)
