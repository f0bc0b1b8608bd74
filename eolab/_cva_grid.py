"""Bring two rasters onto one grid for change detection (private; used by :mod:`eolab.change`).

* the same grid → as they are (lazy);
* the same CRS and pixel size, pixels aligned (e.g. two AOI windows of one
  tile) → cut both to their common pixels (exact and lazy, no resampling);
* otherwise, when both have a CRS → the *after* raster is reprojected onto
  the *before* grid, cut to the overlap of the two footprints (rioxarray
  ``reproject_match``, eager: bilinear for reflectance, nearest for
  categorical variables such as SCL).
"""

from __future__ import annotations

import warnings
from collections.abc import Collection

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds

from eolab.errors import AOIError, CRSError

__all__ = ["align_pair"]


def _spacing(ds: xr.Dataset, dim: str) -> float | None:
    if dim not in ds.coords or ds.sizes[dim] < 2:
        return None
    step = np.diff(np.asarray(ds[dim].values, dtype=np.float64))
    if not np.allclose(step, step[0], rtol=1e-6, atol=0):
        return None
    return float(step[0])


def _same_grid(a: xr.Dataset, b: xr.Dataset) -> bool:
    if (a.sizes["y"], a.sizes["x"]) != (b.sizes["y"], b.sizes["x"]):
        return False
    for dim in ("y", "x"):
        has_a, has_b = dim in a.coords, dim in b.coords
        if has_a != has_b:
            return False
        if has_a:
            va, vb = np.asarray(a[dim].values, float), np.asarray(b[dim].values, float)
            step = abs(_spacing(a, dim) or 1.0)
            if not np.allclose(va, vb, rtol=0, atol=1e-6 * step):
                return False
    return True


def _aligned_subgrid(a: xr.Dataset, b: xr.Dataset) -> bool:
    """Same pixel size and pixel edges that coincide (a shift by whole pixels)."""
    for dim in ("y", "x"):
        sa, sb = _spacing(a, dim), _spacing(b, dim)
        if sa is None or sb is None or not np.isclose(sa, sb, rtol=1e-9, atol=0):
            return False
        shift = (float(b[dim].values[0]) - float(a[dim].values[0])) / sa
        if abs(shift - round(shift)) > 1e-6:
            return False
    return True


def _cut_to_common(a: xr.Dataset, b: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    sel_a, sel_b = {}, {}
    for dim in ("y", "x"):
        step = _spacing(a, dim) or 1.0
        # Pixel centres sit at (k + phase) * step, typically phase 0.5: take the phase off
        # before rounding (np.round sends halves to even, so k + 0.5 would collide).
        first = float(a[dim].values[0]) / step
        phase = first - np.floor(first)
        ka = np.round(np.asarray(a[dim].values, float) / step - phase).astype(np.int64)
        kb = np.round(np.asarray(b[dim].values, float) / step - phase).astype(np.int64)
        common = np.intersect1d(ka, kb)
        if common.size == 0:
            raise AOIError("the two rasters do not overlap (no pixel in common); use products "
                           "of the same area (tile and AOI) for change detection")
        sel_a[dim] = np.flatnonzero(np.isin(ka, common))
        sel_b[dim] = np.flatnonzero(np.isin(kb, common))
    return a.isel(sel_a), b.isel(sel_b)


def _reproject(before: xr.Dataset, after: xr.Dataset, categorical: Collection[str]
               ) -> tuple[xr.Dataset, xr.Dataset]:
    bounds = transform_bounds(after.rio.crs, before.rio.crs, *after.rio.bounds(), densify_pts=21)
    x, y = before["x"].values, before["y"].values
    in_x = np.flatnonzero((x >= bounds[0]) & (x <= bounds[2]))
    in_y = np.flatnonzero((y >= bounds[1]) & (y <= bounds[3]))
    if in_x.size == 0 or in_y.size == 0:
        foot = tuple(round(v, 1) for v in bounds)
        raise AOIError(
            f"the two rasters do not overlap: the after footprint {foot} (in {before.rio.crs}) "
            f"misses the before grid {tuple(round(v, 1) for v in before.rio.bounds())}; use "
            "products of the same area"
        )
    clip = before.isel(x=slice(in_x[0], in_x[-1] + 1), y=slice(in_y[0], in_y[-1] + 1))
    out = {}
    for name, var in after.data_vars.items():
        method = Resampling.nearest if name in categorical else Resampling.bilinear
        src = var.astype(np.float32).rio.write_nodata(np.nan, encoded=False)
        dst = src.rio.reproject_match(clip, resampling=method)
        dst = dst.assign_coords(x=clip["x"], y=clip["y"])
        dst.attrs = dict(var.attrs)
        dst.encoding = {}
        out[name] = dst.drop_vars("spatial_ref", errors="ignore")
    moved = xr.Dataset(out, attrs=dict(after.attrs)).rio.write_crs(before.rio.crs)
    return clip, moved


def align_pair(before: xr.Dataset, after: xr.Dataset, *, categorical: Collection[str] = ("SCL",)
               ) -> tuple[xr.Dataset, xr.Dataset]:
    """Return ``(before, after)`` on one grid (see the module docstring).

    Raises
    ------
    AOIError
        When the two rasters do not overlap.
    CRSError
        When the grids differ and a CRS is missing, so they cannot be matched.
    """
    for name, ds in (("before", before), ("after", after)):
        if "y" not in ds.dims or "x" not in ds.dims:
            raise CRSError(f"the {name} Dataset has dims {tuple(ds.dims)}; change detection needs "
                           "rasters with dims ('y', 'x')")
    crs_a, crs_b = before.rio.crs, after.rio.crs
    if _same_grid(before, after) and (crs_a is None or crs_b is None or crs_a == crs_b):
        return before, after
    same_crs = crs_a == crs_b  # also when both are None
    if same_crs and _aligned_subgrid(before, after):
        return _cut_to_common(before, after)
    if crs_a is None or crs_b is None:
        missing = "before" if crs_a is None else "after"
        raise CRSError(f"the two rasters are on different grids and the {missing} one has no CRS, "
                       "so they cannot be brought onto one grid; write one with "
                       ".rio.write_crs(...) or give rasters on the same grid")
    warnings.warn("the two rasters are on different grids: the after raster is reprojected onto "
                  "the before grid (bilinear; nearest for SCL) over their overlap",
                  UserWarning, stacklevel=3)
    return _reproject(before, after, categorical)
