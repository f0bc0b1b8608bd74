"""Sigma0 of Ground Range Detected (GRD) products on a map grid (no phase: no coherence).

A GRD image is already detected, multilooked (IW: 5 × 1 looks, 10 m pixels)
and projected to ground range on the ellipsoid, so what change detection
from backscatter (the ACD composite, the SAR flood) needs is calibration and
geocoding. Geocoding uses the product's geolocation grid (line, pixel →
longitude, latitude at the processor's terrain height): the grid points are
triangulated in the output CRS and the fractional (line, pixel) of every
output pixel interpolated linearly from them (on a coarse lattice, then
bilinearly, as :func:`eolab.s1.geocode.radar_coordinates` does for SLC).
The grid is smooth, so this is good to a fraction of a pixel where the
terrain is near the heights of the grid; no DEM correction is applied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyproj
import xarray as xr
from scipy import ndimage
from scipy.interpolate import LinearNDInterpolator

from eolab.aoi import AOILike
from eolab.errors import AOIError, ProductTypeError, RasterError

__all__ = ["grd_coordinates", "grd_to_map"]


def _lattice(n: int, step: int) -> np.ndarray:
    idx = np.arange(0, n, step)
    return idx if idx[-1] == n - 1 else np.r_[idx, n - 1]


def grd_coordinates(like: xr.DataArray, gcp: xr.Dataset, *, step: int = 16) -> xr.Dataset:
    """Fractional GRD ``line`` and ``pixel`` (full image) of every pixel centre of ``like``.

    NaN outside the geolocation grid's footprint.
    """
    if like.rio.crs is None:
        raise RasterError("the output grid has no CRS; build it with map_grid(aoi, resolution=)")
    lines, pixels = np.meshgrid(gcp["line"].values.astype(np.float64),
                                gcp["pixel"].values.astype(np.float64), indexing="ij")
    to_map = pyproj.Transformer.from_crs(4326, like.rio.crs, always_xy=True)
    gx, gy = to_map.transform(gcp["longitude"].values, gcp["latitude"].values)
    interp = LinearNDInterpolator(np.column_stack([np.ravel(gx), np.ravel(gy)]),
                                  np.column_stack([lines.ravel(), pixels.ravel()]))
    ny, nx = like.sizes["y"], like.sizes["x"]
    iy, ix = _lattice(ny, max(1, int(step))), _lattice(nx, max(1, int(step)))
    xx, yy = np.meshgrid(like.x.values[ix], like.y.values[iy])
    coarse = interp(xx, yy)  # (len(iy), len(ix), 2)
    fy = np.interp(np.arange(ny), iy, np.arange(iy.size))
    fx = np.interp(np.arange(nx), ix, np.arange(ix.size))
    where = np.meshgrid(fy, fx, indexing="ij")
    out = {}
    for i, name in enumerate(("line", "pixel")):
        full = ndimage.map_coordinates(coarse[..., i], where, order=1, mode="nearest",
                                       cval=np.nan)
        out[name] = (("y", "x"), full)
    ds = xr.Dataset(out, coords={"y": like.y, "x": like.x})
    return ds.rio.write_crs(like.rio.crs)


def grd_to_map(product: Any, *, aoi: AOILike, resolution: float = 20.0, pol: str = "VV",
               speckle_window: int | None = 5, noise: bool = False) -> xr.DataArray:
    """Sigma0 (linear) of a GRD product on the map grid of ``resolution`` metres over ``aoi``.

    Parameters
    ----------
    product
        A GRD SAFE zip or folder, or an :func:`eolab.io.sentinel1.open_grd` tree.
    aoi, resolution
        The output grid (:func:`eolab.s1.geocode.map_grid`); pixels outside
        the AOI polygon or the image are NaN.
    pol
        Polarisation.
    speckle_window
        Lee filter box after multilooking to the resolution (None: none).
    noise
        Subtract the annotated thermal noise.

    Returns
    -------
    xr.DataArray
        ``sigma0`` float32, units "1", with CRS; attrs ``datetime``,
        ``product``, ``polarisation``, ``looks``.

    Raises
    ------
    ProductTypeError
        The product is not a GRD.
    AOIError
        The AOI misses the image.
    """
    from eolab.io.sentinel1 import calibrate, open_grd
    from eolab.s1.chain import _aoi_mask
    from eolab.s1.geocode import geocode, map_grid
    from eolab.s1.multilook import lee_filter, looks_for, multilook

    tree = product if isinstance(product, xr.DataTree) else open_grd(product, pol=pol, aoi=aoi)
    if "image" not in tree.children:
        raise ProductTypeError(f"{tree.attrs.get('product_name')} is not an open_grd tree")
    image = tree["image"].to_dataset()["measurement"]
    if "calibration" not in tree.children:
        from eolab.errors import ProductError

        raise ProductError(f"{tree.attrs.get('product_name')} has no calibration annotation; "
                           "sigma0 cannot be computed")
    grid = map_grid(aoi, resolution=resolution)
    nz = tree["noise"].to_dataset() if noise and "noise" in tree.children else None
    s0 = calibrate(image, tree["calibration"].to_dataset(), noise=nz).values
    looks = looks_for(resolution, azimuth_spacing=float(image.attrs["azimuth_pixel_spacing"]),
                      ground_range_spacing=float(image.attrs["range_pixel_spacing"]))
    s0 = multilook(s0, looks)
    if speckle_window:
        s0 = lee_filter(s0, window=speckle_window, looks=5.0 * looks[0] * looks[1])
    coords = grd_coordinates(grid, tree["gcp"].to_dataset())
    # coordinates relative to the AOI crop of the image
    line0, pixel0 = int(image["line"].values[0]), int(image["pixel"].values[0])
    coords = coords.assign(line=coords["line"] - line0, pixel=coords["pixel"] - pixel0)
    coords = coords.fillna(-1e9)
    try:
        out = geocode(s0, coords, looks=looks)
    except AOIError:
        raise AOIError(f"the AOI misses the image of {tree.attrs.get('product_name')}") from None
    values = out.values
    values[~_aoi_mask(grid, aoi)] = np.nan
    da = xr.DataArray(values.astype(np.float32), dims=("y", "x"),
                      coords={"y": grid.y, "x": grid.x}, name="sigma0")
    da.attrs = {"long_name": f"sigma0 {pol}", "units": "1", "polarisation": pol,
                "datetime": str(tree.attrs.get("start_time")),
                "product": str(tree.attrs.get("product_name")), "looks": list(looks)}
    return da.rio.write_crs(grid.rio.crs)
