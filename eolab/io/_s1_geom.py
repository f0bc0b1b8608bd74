"""Sentinel-1 geolocation grid: parsing, burst footprints, AOI → image window.

Private helper of :mod:`eolab.io.sentinel1`. The grid is parsed with
ElementTree (fast, and it keeps the per-point azimuth time that
xarray-sentinel's ``gcp`` group replaces by the row's first time).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import shapely
import xarray as xr
from shapely.geometry.base import BaseGeometry

from eolab.errors import ProductError

_VARS = ("latitude", "longitude", "height", "incidenceAngle", "elevationAngle")


def gcp_dataset(ann: ET.Element, name: str, attrs: dict[str, object]) -> xr.Dataset:
    """Geolocation grid as a Dataset on dims (gcp_line, gcp_pixel).

    Variables: latitude, longitude, height, incidenceAngle, elevationAngle,
    azimuth_time and slant_range_time (per point); coords ``line`` and ``pixel``.
    """
    points = ann.findall(".//geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    if len(points) < 4:
        raise ProductError(f"{name}: the annotation has no usable geolocation grid "
                           f"({len(points)} points)")
    lines = np.array([int(p.findtext("line") or 0) for p in points])
    pixels = np.array([int(p.findtext("pixel") or 0) for p in points])
    ul, up = np.unique(lines), np.unique(pixels)
    shape = (ul.size, up.size)
    il, ip = np.searchsorted(ul, lines), np.searchsorted(up, pixels)
    data = {}
    for var in _VARS:
        arr = np.full(shape, np.nan)
        arr[il, ip] = [float(p.findtext(var) or "nan") for p in points]
        data[var] = (("gcp_line", "gcp_pixel"), arr)
    t = np.full(shape, np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    t[il, ip] = [np.datetime64(p.findtext("azimuthTime", "").strip(), "ns") for p in points]
    srt = np.full(shape, np.nan)
    srt[il, ip] = [float(p.findtext("slantRangeTime") or "nan") for p in points]
    data["azimuth_time"] = (("gcp_line", "gcp_pixel"), t)
    data["slant_range_time"] = (("gcp_line", "gcp_pixel"), srt)
    ds = xr.Dataset(data, coords={"line": ("gcp_line", ul), "pixel": ("gcp_pixel", up)},
                    attrs=dict(attrs))
    if np.isnan(ds["latitude"].values).any():
        raise ProductError(f"{name}: the geolocation grid is not a complete line × pixel grid")
    ds["latitude"].attrs.update(units="degrees_north", long_name="latitude")
    ds["longitude"].attrs.update(units="degrees_east", long_name="longitude")
    ds["height"].attrs.update(units="m", long_name="height above the WGS84 ellipsoid")
    ds["incidenceAngle"].attrs.update(units="degree", long_name="incidence angle")
    ds["elevationAngle"].attrs.update(units="degree", long_name="elevation (off-nadir) angle")
    return ds


def time_footprint(gcp: xr.Dataset, t_start: np.datetime64, t_end: np.datetime64
                   ) -> BaseGeometry:
    """Lon/lat polygon of the part of a swath between two azimuth times.

    Each grid column is interpolated linearly in (per-point) azimuth time;
    times outside the grid are clamped to its first/last row.
    """
    t = gcp["azimuth_time"].values.astype("datetime64[ns]").astype(np.int64)
    lat, lon = gcp["latitude"].values, gcp["longitude"].values
    ref = t.min()
    ts, te = (np.int64(np.datetime64(v, "ns").astype(np.int64)) for v in (t_start, t_end))
    top, bottom = [], []
    for j in range(t.shape[1]):
        order = np.argsort(t[:, j])
        tj = (t[order, j] - ref) / 1e9
        for tt, out in ((ts, top), (te, bottom)):
            x = (tt - ref) / 1e9
            out.append((float(np.interp(x, tj, lon[order, j])),
                        float(np.interp(x, tj, lat[order, j]))))
    poly = shapely.Polygon(top + bottom[::-1])
    return poly if poly.is_valid else shapely.make_valid(poly)


def grid_footprint(gcp: xr.Dataset) -> BaseGeometry:
    """Lon/lat polygon of the outline of the whole geolocation grid."""
    lat, lon = gcp["latitude"].values, gcp["longitude"].values
    ring = ([(lon[0, j], lat[0, j]) for j in range(lat.shape[1])]
            + [(lon[i, -1], lat[i, -1]) for i in range(1, lat.shape[0])]
            + [(lon[-1, j], lat[-1, j]) for j in range(lat.shape[1] - 2, -1, -1)]
            + [(lon[i, 0], lat[i, 0]) for i in range(lat.shape[0] - 2, 0, -1)])
    poly = shapely.Polygon(ring)
    return poly if poly.is_valid else shapely.make_valid(poly)


def aoi_window(gcp: xr.Dataset, geom: BaseGeometry, shape: tuple[int, int]
               ) -> tuple[slice, slice] | None:
    """(line, pixel) window of the image that covers ``geom`` (lon/lat); None if disjoint.

    The AOI is clipped to the grid outline, densified, and its vertices are
    mapped to (line, pixel) by linear interpolation on the triangulated grid;
    the window is the bounding box of the mapped vertices, rounded outwards.
    """
    from scipy.interpolate import LinearNDInterpolator

    inter = geom.intersection(grid_footprint(gcp))
    if inter.is_empty or inter.area == 0:
        return None
    lat, lon = gcp["latitude"].values, gcp["longitude"].values
    line = np.broadcast_to(gcp["line"].values[:, None], lat.shape)
    pixel = np.broadcast_to(gcp["pixel"].values[None, :], lat.shape)
    interp = LinearNDInterpolator(np.column_stack([lon.ravel(), lat.ravel()]),
                                  np.column_stack([line.ravel(), pixel.ravel()]))
    minx, miny, maxx, maxy = inter.bounds
    step = max(maxx - minx, maxy - miny) / 32.0
    dense = shapely.segmentize(inter, step) if step > 0 else inter
    xy = shapely.get_coordinates(dense)
    lp = interp(xy)
    lp = lp[np.isfinite(lp).all(axis=1)]
    if lp.size == 0:
        return None
    l0 = max(int(np.floor(lp[:, 0].min())), 0)
    l1 = min(int(np.ceil(lp[:, 0].max())) + 1, shape[0])
    p0 = max(int(np.floor(lp[:, 1].min())), 0)
    p1 = min(int(np.ceil(lp[:, 1].max())) + 1, shape[1])
    if l0 >= l1 or p0 >= p1:
        return None
    return slice(l0, l1), slice(p0, p1)
