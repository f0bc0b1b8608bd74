"""Backward geocoding: map grids, and the real product's geolocation grid points."""

import warnings

import numpy as np
import pyproj
import pytest
import xarray as xr
from scipy.interpolate import griddata

from eolab.aoi import TUTORIAL_AOI_WKT
from eolab.errors import AOIError, RasterError
from eolab.s1.geocode import geocode, map_grid, radar_coordinates, utm_crs
from eolab.s1.geometry import RadarGrid, orbit_from_dataset


def test_map_grid__utm_of_the_aoi_aligned_like_sentinel2():
    grid = map_grid(TUTORIAL_AOI_WKT, resolution=20)
    assert grid.rio.crs.to_epsg() == 32756
    # edges on multiples of 20 m, as the T56HKH tile (origin 199980, 6300040)
    assert (grid.x.values[0] - 10) % 20 == 0 and (grid.y.values[0] - 10) % 20 == 0
    assert grid.shape == (1724, 1547)   # the S2 outputs clipped to the AOI have 1724 rows
    assert utm_crs(150.8, -33.6).to_epsg() == 32756 and utm_crs(11.5, 46.5).to_epsg() == 32632
    with pytest.raises(RasterError, match="positive"):
        map_grid(TUTORIAL_AOI_WKT, resolution=0)


def test_geocode__interpolates_looks_and_refuses_no_overlap():
    like = xr.Dataset({"line": (("y", "x"), np.array([[1.5, 3.0], [10.0, 100.0]])),
                       "pixel": (("y", "x"), np.array([[2.0, 4.5], [0.0, 1.0]]))},
                      coords={"y": [1.0, 0.0], "x": [0.0, 1.0]}).rio.write_crs(32756)
    radar = xr.DataArray(np.add.outer(np.arange(20.0) * 100, np.arange(10.0)), dims=("l", "p"),
                         name="sigma0", attrs={"units": "1"})
    out = geocode(radar, like)
    np.testing.assert_allclose(out.values[0], [152.0, 304.5])
    assert out.values[1, 0] == 1000.0 and np.isnan(out.values[1, 1])   # line 100: outside
    assert out.name == "sigma0" and out.attrs["units"] == "1" and out.rio.crs.to_epsg() == 32756
    looked = geocode(radar, like, looks=(2, 1))   # line 3 full-res = (3 - 0.5) / 2 = 1.25
    np.testing.assert_allclose(looked.values[0, 1], 125.0 + 4.5)
    far = like.assign(line=like.line + 1e6)
    with pytest.raises(AOIError, match="does not overlap"):
        geocode(radar, far)


@pytest.mark.realdata
def test_radar_coordinates__real_geolocation_grid_within_one_output_pixel(realdata):
    """Geocode burst 3 of the real S1B IW1 product: at each of its geolocation grid points,
    the map pixel holding the point looks up a radar position within one 20 m output pixel
    of the point's own (line, pixel), with the heights of the grid as the DEM."""
    from eolab.io.sentinel1 import open_slc

    safe = next((realdata / "s1_safe_xarray_sentinel").glob("S1B_IW_SLC__1SDV_*.SAFE"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = open_slc(safe, pol="VV", swaths=["IW1"])
    swath = tree["IW1"]
    burst = next(swath[name] for name in swath.children if name.isdigit() and int(name) == 3)
    attrs = burst.ds.attrs
    first_line = int(burst.ds["line"].values[0])
    orbit = orbit_from_dataset(swath["orbit"].ds)
    grid = RadarGrid(first_line_time=float(orbit.seconds(np.datetime64(attrs["burst_start_time"]))),
                     azimuth_time_interval=attrs["azimuth_time_interval"],
                     slant_range_time=attrs["slant_range_time"],
                     range_sampling_rate=attrs["range_sampling_rate"])
    gcp = swath["gcp"].ds
    rows = np.flatnonzero((gcp["line"].values >= first_line)
                          & (gcp["line"].values <= first_line + attrs["lines_per_burst"]))
    assert rows.size >= 2
    lat = gcp["latitude"].values[rows].ravel()
    lon = gcp["longitude"].values[rows].ravel()
    hgt = gcp["height"].values[rows].ravel()
    inc = gcp["incidenceAngle"].values[rows].ravel()
    # the grid's rows sit at burst starts, by time: the row at burst 4's first line is
    # about 1342 lines (not 1501) after burst 3's start, as bursts overlap
    g_line = grid.line(orbit.seconds(gcp["azimuth_time"].values[rows].ravel()))
    g_pixel = np.tile(gcp["pixel"].values, rows.size)
    aoi = f"POLYGON(({lon.min()} {lat.min()}, {lon.max()} {lat.min()}, {lon.max()} {lat.max()}, " \
          f"{lon.min()} {lat.max()}, {lon.min()} {lat.min()}))"
    like = map_grid(aoi, resolution=20.0)
    to_map = pyproj.Transformer.from_crs(4326, like.rio.crs, always_xy=True)
    gx, gy = to_map.transform(lon, lat)
    xx, yy = np.meshgrid(like.x.values, like.y.values)
    dem = griddata((gx, gy), hgt, (xx, yy), method="linear")
    dem = np.where(np.isfinite(dem), dem, griddata((gx, gy), hgt, (xx, yy), method="nearest"))
    coords = radar_coordinates(like, orbit, grid,
                               height=xr.DataArray(dem, dims=("y", "x"), coords=like.coords))
    col = np.clip(np.floor((gx - like.x.values[0] + 10) / 20).astype(int), 0, like.sizes["x"] - 1)
    row = np.clip(np.floor((like.y.values[0] + 10 - gy) / 20).astype(int), 0, like.sizes["y"] - 1)
    d_az = (coords["line"].values[row, col] - g_line) * attrs["azimuth_pixel_spacing"]
    d_rg = (coords["pixel"].values[row, col] - g_pixel) * attrs["range_pixel_spacing"] \
        / np.sin(np.radians(inc))
    print(f"max |d_az| {np.abs(d_az).max():.1f} m, max |d_rg| {np.abs(d_rg).max():.1f} m")
    # the pixel centre is at most 10 m from the point in x and y; one output pixel more allowed
    assert np.abs(d_az).max() <= 20.0 + 10 * np.sqrt(2), np.abs(d_az).max()
    assert np.abs(d_rg).max() <= 20.0 + 10 * np.sqrt(2), np.abs(d_rg).max()


def test_geocode__row_blocks_equal_one_map_coordinates_call():
    """A grid of several row blocks, the raster seen by part of each row: the same values as
    one plain ``map_coordinates`` over the whole grid, NaN outside (real and complex)."""
    from scipy.ndimage import map_coordinates

    ny, nx = 600, 300
    yy, xx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    line = 0.4 * yy + 0.15 * xx - 20.0          # a rotated footprint, partly outside
    pixel = 0.9 * xx - 0.3 * yy + 60.0
    coords = xr.Dataset({"line": (("y", "x"), line), "pixel": (("y", "x"), pixel)},
                        coords={"y": np.arange(ny)[::-1] * 20.0, "x": np.arange(nx) * 20.0}
                        ).rio.write_crs(32756)
    rng = np.random.default_rng(0)
    real = rng.random((120, 200)).astype(np.float32)
    real[50:60, 80:90] = np.nan
    cplx = (rng.standard_normal((240, 200)) + 1j * rng.standard_normal((240, 200))).astype(
        np.complex64)
    for data, looks in ((real, (2, 1)), (cplx, (1, 1))):
        la, lr = looks
        ln, px = (line - (la - 1) / 2) / la, (pixel - (lr - 1) / 2) / lr
        inside = (ln >= -0.5) & (ln <= data.shape[0] - 0.5) & (px >= -0.5) & (
            px <= data.shape[1] - 0.5)
        assert 0.2 < inside.mean() < 0.8

        def plain(v):
            return np.where(inside, map_coordinates(v.astype(np.float64), [ln, px], order=1,
                                                    mode="nearest", prefilter=False), np.nan)

        expect = plain(data.real) if data.dtype.kind == "f" else plain(data.real) + 1j * plain(
            data.imag)
        out = geocode(data, coords, looks=looks)
        assert out.dtype == data.dtype
        np.testing.assert_array_equal(np.isnan(out.values), np.isnan(expect))
        np.testing.assert_allclose(out.values, expect.astype(data.dtype), rtol=1e-6)


def test_radar_coordinates__lattice_expansion_is_bilinear():
    """The separable expansion of the solved lattice equals bilinear interpolation."""
    from scipy.ndimage import map_coordinates

    from eolab.s1.geocode import _expand, _lattice

    rng = np.random.default_rng(1)
    for ny, nx, step in ((700, 90, 16), (1, 40, 16), (33, 1, 4)):
        iy, ix = _lattice(ny, step), _lattice(nx, step)
        values = rng.standard_normal((iy.size, ix.size)) * 100
        fy = np.interp(np.arange(ny), iy, np.arange(iy.size))
        fx = np.interp(np.arange(nx), ix, np.arange(ix.size))
        expect = map_coordinates(values, np.meshgrid(fy, fx, indexing="ij"), order=1,
                                 mode="nearest")
        np.testing.assert_allclose(_expand(values, iy, ix, (ny, nx)), expect, atol=1e-9)
