import numpy as np
import pytest
import xarray as xr

from eolab.composites import rgb_composite, stretch_limits, to_bytes
from eolab.errors import BandError


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
