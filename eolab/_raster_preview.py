"""Raster previews for maps: a georeferenced raster as an RGBA image on the Web Mercator grid.

:func:`raster_preview` (re-exported by :mod:`eolab.maps`) validates the
raster, downsamples it, warps it to EPSG:3857 and colours it;
:func:`_png_data_url` embeds the result in a page.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
import xarray as xr

from eolab._map_style import _colormap
from eolab.errors import BandError, CRSError, LayerError

_MERCATOR_MAX_LAT = 85.0511287798066


def _raster_grid(da: xr.DataArray, *, rgb: bool) -> tuple[xr.DataArray, str, str, Any]:
    """Validate a raster; return it as (band, y, x), its y/x dim names and CRS."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from rioxarray.exceptions import RioXarrayError

    if isinstance(da, xr.Dataset):
        raise LayerError("add_raster needs a DataArray; select a variable (ds['B04']) or "
                         "stack bands with ds.to_dataarray('band')")
    if not isinstance(da, xr.DataArray):
        raise LayerError(f"add_raster needs an xarray.DataArray, got {type(da).__name__}")
    try:
        xdim, ydim = da.rio.x_dim, da.rio.y_dim
    except RioXarrayError as exc:
        raise LayerError(f"the raster has no x/y dimensions (dims {da.dims}); rename them "
                         "or call da.rio.set_spatial_dims(...)") from exc
    crs = da.rio.crs
    if crs is None:
        raise CRSError("the raster has no CRS; set it with da.rio.write_crs('EPSG:...') "
                       "before mapping it")
    others = [d for d in da.dims if d not in (xdim, ydim)]
    extra = [d for d in others if da.sizes[d] != 1]
    da = da.squeeze([d for d in others if d not in extra], drop=True)
    if rgb:
        if len(extra) != 1 or da.sizes[extra[0]] != 3:
            raise BandError(f"rgb=True needs a (band, y, x) raster with exactly 3 bands (red, "
                            f"green, blue), got dims {dict(da.sizes)}; select them, e.g. "
                            "da.sel(band=['B04', 'B03', 'B02'])")
        da = da.transpose(extra[0], ydim, xdim)
    else:
        if extra:
            raise BandError(f"the raster has dims {dict(da.sizes)}; select one band "
                            "(da.isel(band=0)) or pass rgb=True with three bands")
        da = da.expand_dims("_band").transpose("_band", ydim, xdim)
    if da.sizes[ydim] == 0 or da.sizes[xdim] == 0:
        raise LayerError("the raster is empty (zero pixels)")
    return da, ydim, xdim, crs


def _warp_to_mercator(
    da: xr.DataArray, ydim: str, xdim: str, crs: Any, *, max_size: int, resampling: str
) -> tuple[np.ndarray, list[list[float]]]:
    """Downsample, then warp to EPSG:3857; return (band, y, x) float32 and lat/lon bounds."""
    from pyproj import Transformer
    from rasterio.enums import Resampling
    from rasterio.transform import Affine, array_bounds, from_bounds
    from rasterio.warp import reproject, transform_bounds

    try:
        method = Resampling[resampling]
    except KeyError as exc:
        raise LayerError(f"unknown resampling {resampling!r}; use e.g. 'nearest', "
                         "'average' or 'bilinear'") from exc
    try:
        transform = da.rio.transform(recalc=True)
    except Exception:  # 1-pixel axes: fall back to the stored transform
        transform = da.rio.transform()

    nodata = da.rio.encoded_nodata if da.rio.encoded_nodata is not None else da.rio.nodata
    ny, nx = da.sizes[ydim], da.sizes[xdim]
    fy, fx = max(1, math.ceil(ny / max_size)), max(1, math.ceil(nx / max_size))
    if fy > 1 or fx > 1:  # lazily, before loading: only the preview is read
        if method == Resampling.nearest:
            da = da.isel({ydim: slice(fy // 2, (ny // fy) * fy, fy),
                          xdim: slice(fx // 2, (nx // fx) * fx, fx)})
        else:
            valid = da if nodata is None or _isnan(nodata) else da.where(da != nodata)
            da = valid.astype("float32").coarsen({ydim: fy, xdim: fx}, boundary="trim").mean()
            nodata = None
        transform = Affine(transform.a * fx, transform.b * fy, transform.c,
                           transform.d * fx, transform.e * fy, transform.f)
    arr = np.asarray(da.values, dtype="float32")
    if nodata is not None and not _isnan(nodata):
        arr[arr == np.float32(nodata)] = np.nan
    h, w = arr.shape[1:]

    left, bottom, right, top = array_bounds(h, w, transform)
    west, south, east, north = transform_bounds(crs, "EPSG:4326", left, bottom, right, top,
                                                densify_pts=21)
    if not all(map(math.isfinite, (west, south, east, north))) or west >= east:
        raise CRSError(f"cannot place the raster on the map: its bounds in EPSG:4326 are "
                       f"{(west, south, east, north)} (outside its CRS's area of use or "
                       "across the antimeridian)")
    south, north = max(south, -_MERCATOR_MAX_LAT), min(north, _MERCATOR_MAX_LAT)
    if south >= north:
        raise CRSError("the raster lies beyond 85 degrees of latitude, which a Web Mercator "
                       "map cannot show")
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    (x0, x1), (y0, y1) = to_merc.transform([west, east], [south, north])
    aspect = (x1 - x0) / (y1 - y0)
    dst_w = max(1, round(math.sqrt(h * w * aspect)))
    dst_h = max(1, round(math.sqrt(h * w / aspect)))
    shrink = max(dst_w / max_size, dst_h / max_size, 1.0)
    dst_w, dst_h = max(1, round(dst_w / shrink)), max(1, round(dst_h / shrink))
    dst = np.full((arr.shape[0], dst_h, dst_w), np.nan, dtype="float32")
    reproject(source=arr, destination=dst, src_transform=transform, src_crs=crs,
              src_nodata=np.nan, dst_transform=from_bounds(x0, y0, x1, y1, dst_w, dst_h),
              dst_crs="EPSG:3857", dst_nodata=np.nan, resampling=method)
    return dst, [[south, west], [north, east]]


def _isnan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _limits(values: np.ndarray, vmin: float | None, vmax: float | None,
            percentiles: tuple[float, float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo = float(np.percentile(finite, percentiles[0])) if vmin is None else float(vmin)
    hi = float(np.percentile(finite, percentiles[1])) if vmax is None else float(vmax)
    if not hi > lo:  # constant data: put it mid-scale
        lo, hi = lo - 0.5, lo + 0.5
    return lo, hi


def raster_preview(
    da: xr.DataArray,
    *,
    rgb: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    percentiles: tuple[float, float] = (2.5, 97.5),
    cmap: str | Any = "viridis",
    max_size: int = 1024,
    resampling: str = "nearest",
) -> tuple[np.ndarray, list[list[float]]]:
    """Render a georeferenced raster as an RGBA image on the Web Mercator grid.

    The raster is first downsampled (lazily for dask-backed data) so that no
    side exceeds ``max_size``, then warped to EPSG:3857 (the projection of
    the map, so the image lines up exactly when Leaflet stretches it between
    its corners) and coloured.

    Parameters
    ----------
    da
        ``(y, x)`` or, with ``rgb=True``, ``(band, y, x)`` DataArray with a
        CRS (rioxarray). No-data values (``rio.nodata``/``_FillValue``) and
        NaN become transparent.
    rgb
        Treat the three bands as red, green, blue, each stretched on its own.
    vmin, vmax
        Value range of the colour scale (of every band for RGB); ``None``
        takes the ``percentiles`` of the valid pixels.
    percentiles
        Lower and upper percentiles used where ``vmin``/``vmax`` are None.
    cmap
        Matplotlib colormap (name or object) of single-band rasters.
    max_size
        Largest width/height in pixels of the image.
    resampling
        Rasterio resampling name used to downsample and warp: ``"nearest"``
        (classes, default), ``"average"`` or ``"bilinear"`` (continuous data).

    Returns
    -------
    rgba, bounds
        ``(height, width, 4)`` uint8 image, north up, and its bounds
        ``[[south, west], [north, east]]`` in degrees (EPSG:4326).

    Raises
    ------
    CRSError
        If the raster has no CRS or cannot be placed on a Web Mercator map.
    BandError
        If the band layout does not fit ``rgb``.
    LayerError
        If the raster is empty or has no valid pixel.
    """
    if max_size < 2:
        raise LayerError(f"max_size must be at least 2 pixels, got {max_size}")
    grid, ydim, xdim, crs = _raster_grid(da, rgb=rgb)
    values, bounds = _warp_to_mercator(grid, ydim, xdim, crs, max_size=max_size,
                                       resampling=resampling)
    valid = np.all(np.isfinite(values), axis=0)
    if not valid.any():
        raise LayerError("the raster has no valid pixel to show (all NaN or no-data)")
    rgba = np.zeros(values.shape[1:] + (4,), dtype="uint8")
    if rgb:
        for i in range(3):
            lo, hi = _limits(values[i][valid], vmin, vmax, percentiles)
            scaled = np.clip((values[i] - lo) / (hi - lo), 0.0, 1.0)
            rgba[..., i] = np.round(np.nan_to_num(scaled) * 255).astype("uint8")
    else:
        lo, hi = _limits(values[0][valid], vmin, vmax, percentiles)
        scaled = np.clip((np.nan_to_num(values[0], nan=lo) - lo) / (hi - lo), 0.0, 1.0)
        rgba[..., :3] = _colormap(cmap)(scaled, bytes=True)[..., :3]
    rgba[..., 3] = np.where(valid, 255, 0)
    rgba[~valid, :3] = 0
    return rgba, bounds


def _png_data_url(rgba: np.ndarray) -> str:
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, rgba, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
