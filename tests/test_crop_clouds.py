"""Cloud masks from SCL, dilation, clear fractions: checked on hand-made SCL layers."""

from __future__ import annotations

import importlib.util

import dask.array as darr
import numpy as np
import pytest
import xarray as xr

from eolab.crop.clouds import (
    DEFAULT_MASKED,
    SCL_CLASSES,
    clear_fraction,
    clear_mask,
    cloud_mask,
    s2cloudless_mask,
)
from eolab.errors import BandError, CropError, EolabError, RasterError


def _scl(values: np.ndarray) -> xr.DataArray:
    values = np.asarray(values)
    nt, ny, nx = values.shape
    return xr.DataArray(values, dims=("time", "y", "x"), name="scl",
                        coords={"time": np.arange(nt), "y": 100.0 - 10 * np.arange(ny),
                                "x": 10.0 * np.arange(nx)})


def test_cloud_mask__masks_exactly_the_unusable_classes():
    scl = _scl(np.arange(12, dtype=np.int8).reshape(1, 1, 12))
    masked = np.flatnonzero(cloud_mask(scl).values[0, 0])
    assert masked.tolist() == [0, 1, 3, 8, 9, 10] == list(DEFAULT_MASKED)
    with_snow = np.flatnonzero(cloud_mask(scl, snow=True).values[0, 0])
    assert with_snow.tolist() == [0, 1, 3, 8, 9, 10, 11]
    clear = clear_mask(scl)
    assert clear.name == "clear" and clear.dtype == bool
    assert np.flatnonzero(clear.values[0, 0]).tolist() == [2, 4, 5, 6, 7, 11]
    assert set(SCL_CLASSES) == set(range(12))


def test_cloud_mask__float_scl_nan_counts_as_no_data():
    scl = _scl(np.array([[[4.0, np.nan, 5.0]]]))
    assert cloud_mask(scl).values[0, 0].tolist() == [False, True, False]


def test_cloud_mask__dilation_grows_clouds_by_a_disk_but_not_no_data():
    v = np.full((2, 11, 11), 4, np.int8)
    v[0, 5, 5] = 9          # one cloud pixel
    v[1, 5, 5] = 0          # one no-data pixel
    m1 = cloud_mask(_scl(v), dilation=1).values
    assert m1[0].sum() == 5 and m1[0, 4, 5] and m1[0, 5, 6] and not m1[0, 4, 4]
    assert m1[1].sum() == 1                     # no data is not dilated
    m2 = cloud_mask(_scl(v), dilation=2).values
    assert m2[0].sum() == 13                    # the digital disk of radius 2
    assert cloud_mask(_scl(v)).values[0].sum() == 1


def test_cloud_mask__lazy_dilation_equals_eager_across_chunk_borders():
    rng = np.random.default_rng(3)
    v = np.where(rng.uniform(size=(4, 40, 37)) < 0.03, 8, 4).astype(np.int8)
    v[:, 19:21, 19:21] = 3                     # a shadow straddling a chunk border
    eager = cloud_mask(_scl(v), dilation=3)
    lazy_in = _scl(v).chunk({"time": 1, "y": 10, "x": 10})
    lazy = cloud_mask(lazy_in, dilation=3)
    assert isinstance(lazy.data, darr.Array)
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert eager.values.sum() > (v != 4).sum()   # it did grow


def test_clear_fraction__counts_clear_dates_per_pixel():
    v = np.full((4, 2, 2), 4, np.int8)
    v[:, 0, 0] = [9, 9, 9, 9]
    v[:, 0, 1] = [3, 4, 10, 5]
    v[:, 1, 0] = [0, 4, 4, 11]
    frac = clear_fraction(clear_mask(_scl(v)))
    assert frac.name == "clear_fraction" and frac.attrs["units"] == "1"
    np.testing.assert_allclose(frac.values, [[0.0, 0.5], [0.75, 1.0]])
    snow = clear_fraction(clear_mask(_scl(v), snow=True))
    assert snow.values[1, 0] == pytest.approx(0.5)


def test_cloud_mask__bad_input_raises_typed_errors():
    scl = _scl(np.zeros((1, 2, 2), np.int8))
    with pytest.raises(BandError, match="scl"):
        cloud_mask(xr.Dataset({"reflectance": scl}))
    with pytest.raises(RasterError, match="unknown SCL"):
        cloud_mask(scl, classes=(3, 12))
    with pytest.raises(RasterError, match="dilation"):
        cloud_mask(scl, dilation=-1)
    with pytest.raises(RasterError, match="dims"):
        cloud_mask(scl.rename(y="lat"))
    with pytest.raises(RasterError, match="boolean"):
        clear_fraction(scl)
    # a Dataset with an SCL variable (any case) works
    assert cloud_mask(xr.Dataset({"SCL": scl})).shape == (1, 2, 2)


@pytest.mark.skipif(importlib.util.find_spec("s2cloudless") is not None,
                    reason="s2cloudless is installed")
def test_s2cloudless_mask__absent_package_is_a_clear_error():
    l1c = xr.DataArray(np.zeros((1, 10, 2, 2), np.float32), dims=("time", "band", "y", "x"))
    with pytest.raises(CropError, match="pip install s2cloudless") as err:
        s2cloudless_mask(l1c)
    assert isinstance(err.value, EolabError)
