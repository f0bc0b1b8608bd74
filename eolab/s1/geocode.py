"""Backward geocoding of radar-geometry rasters onto a map grid.

For every pixel centre of the output grid (UTM of the AOI by default, aligned
on multiples of the resolution, so a 20 m grid is the Sentinel-2 tile's grid
and layers stack), the zero-Doppler time and slant range of the ground point
are solved (:func:`eolab.s1.geometry.ground_to_radar`) and turned into a
fractional (line, pixel) of the radar raster, which is then interpolated
there. The geometry is smooth, so it is solved on a coarse lattice of the
output grid (every ``step`` pixels) and interpolated bilinearly in between.
Terrain: a constant ellipsoidal height (default 0 m) or a DEM on the output
grid (``height=``), since a point 1 km higher is seen about 1 km / tan θ
closer in range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyproj
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from scipy import ndimage

from eolab.aoi import aoi_to_crs
from eolab.errors import AOIError, RasterError
from eolab.s1.geometry import Orbit, RadarGrid, ground_to_radar

__all__ = ["map_grid", "radar_coordinates", "geocode", "utm_crs"]

_BLOCK = 256  # output rows per block


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 UTM CRS of the zone holding ``(lon, lat)``."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def map_grid(aoi: Any, *, resolution: float, crs: Any = None) -> xr.DataArray:
    """An empty (NaN) output grid covering ``aoi``: pixel centres, CRS, ``resolution`` metres.

    The grid is in ``crs`` (default: the UTM zone of the AOI's centre) and its
    edges are multiples of ``resolution``, as Sentinel-2 tiles' are.
    """
    if not np.isfinite(resolution) or resolution <= 0:
        raise RasterError(f"resolution must be a positive number of metres, got {resolution!r}")
    centre = aoi_to_crs(aoi, 4326).centroid
    target = pyproj.CRS.from_user_input(crs) if crs is not None else utm_crs(centre.x, centre.y)
    x0, y0, x1, y1 = aoi_to_crs(aoi, target).bounds
    r = float(resolution)
    x0, y0 = np.floor(x0 / r) * r, np.floor(y0 / r) * r
    x1, y1 = np.ceil(x1 / r) * r, np.ceil(y1 / r) * r
    xs = x0 + r * (np.arange(int(round((x1 - x0) / r))) + 0.5)
    ys = y1 - r * (np.arange(int(round((y1 - y0) / r))) + 0.5)
    grid = xr.DataArray(np.full((ys.size, xs.size), np.nan, np.float32), dims=("y", "x"),
                        coords={"y": ys, "x": xs}, name="grid")
    return grid.rio.write_crs(target, inplace=True)


def _lattice(n: int, step: int) -> np.ndarray:
    idx = np.arange(0, n, step)
    return idx if idx[-1] == n - 1 else np.r_[idx, n - 1]


def _expand(values: np.ndarray, iy: np.ndarray, ix: np.ndarray, shape: tuple[int, int]
            ) -> np.ndarray:
    """Bilinear interpolation of a lattice (rows iy × columns ix) to every pixel, float64.

    Separable: each lattice row is interpolated along x once, then rows are
    blended along y block by block (no full-size coordinate arrays).
    """
    ny, nx = shape
    cols = np.arange(nx, dtype=np.float64)
    rows = np.stack([np.interp(cols, ix, r) for r in values])  # (lattice rows, nx)
    if iy.size == 1:
        return np.repeat(rows, ny, axis=0)
    fy = np.interp(np.arange(ny, dtype=np.float64), iy, np.arange(iy.size, dtype=np.float64))
    i0 = np.minimum(np.floor(fy).astype(np.intp), iy.size - 2)
    w = (fy - i0)[:, None]
    out = np.empty((ny, nx))
    for r in range(0, ny, _BLOCK):
        s = slice(r, r + _BLOCK)
        lo = rows[i0[s]]
        np.subtract(rows[i0[s] + 1], lo, out=out[s])
        out[s] *= w[s]
        out[s] += lo
    return out


def radar_coordinates(like: xr.DataArray, orbit: Orbit, grid: RadarGrid, *,
                      height: float | xr.DataArray = 0.0, step: int = 16) -> xr.Dataset:
    """Fractional radar ``line`` and ``pixel`` of every pixel centre of ``like``.

    Parameters
    ----------
    like
        Output grid (y, x) with a CRS, e.g. from :func:`map_grid`.
    orbit, grid
        The acquisition's orbit and the radar raster's line/pixel grid.
    height
        Ellipsoidal height in metres: a constant or a DEM on the grid of ``like``.
    step
        Lattice spacing (output pixels) on which the geometry is solved.
    """
    if like.rio.crs is None:
        raise RasterError("the output grid has no CRS; build it with map_grid(aoi, resolution=)")
    ny, nx = like.sizes["y"], like.sizes["x"]
    iy, ix = _lattice(ny, max(1, int(step))), _lattice(nx, max(1, int(step)))
    xx, yy = np.meshgrid(like.x.values[ix], like.y.values[iy])
    to_lonlat = pyproj.Transformer.from_crs(like.rio.crs, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(xx, yy)
    if isinstance(height, xr.DataArray):
        if height.shape != like.shape:
            raise RasterError(f"the DEM {height.shape} is not on the output grid {like.shape}; "
                              "bring it there with dem.rio.reproject_match(grid)")
        h = np.asarray(height.values, dtype=np.float64)[np.ix_(iy, ix)]
    else:
        h = np.full(lon.shape, float(height))
    rc = ground_to_radar(orbit, lon, lat, h, grid=grid)
    out = {name: (("y", "x"), _expand(np.asarray(values), iy, ix, (ny, nx)))
           for name, values in (("line", rc.line), ("pixel", rc.pixel))}
    ds = xr.Dataset(out, coords={"y": like.y, "x": like.x})
    ds["line"].attrs = {"long_name": "radar line (azimuth) of the pixel centre", "units": "1"}
    ds["pixel"].attrs = {"long_name": "radar pixel (range) of the pixel centre", "units": "1"}
    return ds.rio.write_crs(like.rio.crs, inplace=True)  # no copy of the fields


def geocode(data: xr.DataArray | np.ndarray, coords: xr.Dataset, *,
            looks: tuple[int, int] = (1, 1), order: int = 1) -> xr.DataArray:
    """Interpolate a radar raster (line, pixel) at the positions in ``coords``.

    Parameters
    ----------
    data
        2-D radar raster (first axis line, second pixel), real or complex; NaN
        (or 0 for complex) marks no data.
    coords
        :func:`radar_coordinates` on the output grid (full-resolution lines and pixels).
    looks
        Multilook factors (azimuth, range) of ``data``: multilooked sample i
        is centred on full-resolution line ``L·i + (L−1)/2``.
    order
        0 nearest, 1 bilinear (default).

    Returns
    -------
    xr.DataArray
        On the output grid, NaN outside the raster, same name and attrs; CRS.
    """
    values = np.asarray(data.values if isinstance(data, xr.DataArray) else data)
    if values.ndim != 2:
        raise RasterError(f"geocode needs a 2-D radar raster, got shape {values.shape}")
    la, lr = (int(v) for v in looks)
    nl, ns = values.shape
    line_full, pixel_full = coords["line"].values, coords["pixel"].values
    parts = ([values.real.astype(np.float64), values.imag.astype(np.float64)]
             if np.iscomplexobj(values) else [values.astype(np.float64)])
    dtype = (np.complex64 if np.iscomplexobj(values)
             else values.dtype if values.dtype.kind == "f" else np.float32)
    fill = complex(np.nan, np.nan) if np.iscomplexobj(values) else np.nan
    result = np.full(line_full.shape, fill, dtype)
    overlap = False
    for r in range(0, line_full.shape[0], _BLOCK):  # row blocks: bounded temporaries
        line = (line_full[r:r + _BLOCK] - (la - 1) / 2.0) / la
        pixel = (pixel_full[r:r + _BLOCK] - (lr - 1) / 2.0) / lr
        inside = (line >= -0.5) & (line <= nl - 0.5) & (pixel >= -0.5) & (pixel <= ns - 0.5)
        cols = np.flatnonzero(inside.any(axis=0))
        if cols.size == 0:
            continue
        overlap = True
        c = slice(int(cols[0]), int(cols[-1]) + 1)  # only the columns that see the raster
        where = [line[:, c], pixel[:, c]]
        sampled = [ndimage.map_coordinates(v, where, order=order, mode="nearest",
                                           prefilter=False) for v in parts]
        block = sampled[0] if len(sampled) == 1 else sampled[0] + 1j * sampled[1]
        result[r:r + _BLOCK, c] = np.where(inside[:, c], block, fill)
    if not overlap:
        raise AOIError("the output grid does not overlap the radar raster; check the AOI and "
                       "the bursts")
    name = data.name if isinstance(data, xr.DataArray) else "value"
    attrs = dict(data.attrs) if isinstance(data, xr.DataArray) else {}
    out = xr.DataArray(result, dims=("y", "x"), coords={"y": coords.y, "x": coords.x},
                       name=name, attrs=attrs)
    return out.rio.write_crs(coords.rio.crs, inplace=True)
