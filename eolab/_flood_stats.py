"""Flooded area (equal-area, in km²) and accuracy against a reference.

Private module; the public names are re-exported by :mod:`eolab.flood`.
Areas are never measured in degrees nor in the raster's map projection
(UTM scale errors reach 0.1–0.2 % away from the central meridian): the
polygons are projected onto a Lambert azimuthal equal-area (LAEA) plane
centred on the data, on the data's own datum, which keeps areas exact.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from pyproj.crs.coordinate_operation import LambertAzimuthalEqualAreaConversion

from eolab.errors import CRSError, RasterError
from eolab.io.rasters import transform_of

__all__ = ["equal_area_crs", "flood_area", "accuracy", "rasterize_like"]

Vectors: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries


def equal_area_crs(*layers: Vectors) -> pyproj.CRS:
    """A LAEA CRS centred on the bounds of ``layers`` (on the first layer's datum)."""
    crs = next((lay.crs for lay in layers if lay.crs is not None), None)
    if crs is None:
        raise CRSError("the polygons have no CRS; set it with gdf.set_crs(...) first")
    boxes = [lay.to_crs(4326).total_bounds for lay in layers if len(lay)]
    if boxes:
        minx, miny, maxx, maxy = np.array(boxes).T
        lon, lat = (np.min(minx) + np.max(maxx)) / 2, (np.min(miny) + np.max(maxy)) / 2
    else:
        lon, lat = 0.0, 0.0
    base = pyproj.CRS.from_user_input(crs).geodetic_crs or pyproj.CRS.from_epsg(4326)
    conversion = LambertAzimuthalEqualAreaConversion(latitude_natural_origin=round(lat, 6),
                                                     longitude_natural_origin=round(lon, 6))
    return pyproj.crs.ProjectedCRS(conversion=conversion, geodetic_crs=base,
                                   name=f"LAEA {lat:.4f} {lon:.4f} (eolab equal-area)")


def _as_polygons(flood: Any, field: str) -> gpd.GeoDataFrame:
    if isinstance(flood, gpd.GeoSeries):
        return gpd.GeoDataFrame(geometry=flood)
    if isinstance(flood, gpd.GeoDataFrame):
        return flood
    if isinstance(flood, xr.DataArray):
        from eolab.flood import polygonize

        return polygonize(flood, field=field)
    raise RasterError(f"expected polygons (GeoDataFrame) or a mask/levels DataArray, got "
                      f"{type(flood).__name__}")


def _segmentized(units: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Unit outlines with added vertices, so that their edges survive reprojection."""
    step = 0.002 if units.crs.is_geographic else 200.0
    return gpd.GeoSeries(shapely.segmentize(units.geometry.values, step), crs=units.crs)


def flood_area(flood: Any, *, by: str | gpd.GeoDataFrame | None = None,
               field: str = "floodLevel", crs: Any = None) -> pd.DataFrame:
    """Flooded area in km², in total, per value of a column, or per administrative unit.

    Parameters
    ----------
    flood
        Flood polygons (e.g. :func:`eolab.flood.flood_mask`), or a boolean
        mask or levels raster with a CRS (polygonized first, values in
        ``field``). Polygons are assumed not to overlap.
    by
        ``None``: one row, the total. A column name (``"floodLevel"``): one
        row per value. A GeoDataFrame of units (:func:`eolab.io.boundaries.
        read_admin_units`): one row per unit, with the flood inside it.
    field
        Column of the values when ``flood`` is a raster.
    crs
        Equal-area CRS to measure in (default: :func:`equal_area_crs` of
        the data, a LAEA plane centred on it; e.g. ``"EPSG:6933"``).

    Returns
    -------
    pandas.DataFrame
        Total: ``flooded_km2``, ``polygons``. Per value: the column,
        ``flooded_km2``, ``polygons``. Per unit: ``name``, ``code`` (and
        ``national_level`` when the units have them), ``unit_km2`` (area of
        the whole unit), ``flooded_km2``, ``flooded_share`` (0–1). The
        per-unit rows sum to the total when the units cover the flood
        without overlapping. ``attrs`` hold ``total_flooded_km2`` and
        ``crs`` (the equal-area CRS, as WKT).
    """
    gdf = _as_polygons(flood, field)
    if gdf.crs is None:
        raise CRSError("the flood polygons have no CRS; set it with gdf.set_crs(...) first")
    units = by if isinstance(by, gpd.GeoDataFrame) else None
    if units is not None and units.crs is None:
        raise CRSError("the units have no CRS; read them with eolab.io.boundaries."
                       "read_admin_units(...) or set it with units.set_crs(...)")
    target = pyproj.CRS.from_user_input(crs) if crs is not None else \
        equal_area_crs(*([gdf] + ([units] if units is not None else [])))
    if target.is_geographic:
        raise CRSError(f"areas cannot be measured in a geographic CRS ({target.name}); "
                       "give an equal-area projected CRS such as 'EPSG:6933'")
    geoms = gdf.geometry.to_crs(target).values
    areas = shapely.area(geoms) / 1e6
    total = float(areas.sum())
    if units is None and by is None:
        out = pd.DataFrame({"flooded_km2": [total], "polygons": [len(gdf)]}, index=["total"])
    elif units is None:
        column = str(by)
        if column not in gdf.columns:
            raise RasterError(f"column {column!r} is not in the polygons ({list(gdf.columns)})")
        out = (pd.DataFrame({column: gdf[column].values, "flooded_km2": areas})
               .groupby(column, sort=True).agg(flooded_km2=("flooded_km2", "sum"),
                                               polygons=("flooded_km2", "size")).reset_index())
    else:
        shapes = _segmentized(units).to_crs(target).values
        shapely.prepare(shapes)
        u_i, f_i = shapely.STRtree(geoms).query(shapes, predicate="intersects")
        inside = shapely.contains_properly(shapes[u_i], geoms[f_i])
        part = np.where(inside, areas[f_i] * 1e6, 0.0)
        cut = ~inside
        part[cut] = shapely.area(shapely.intersection(shapes[u_i[cut]], geoms[f_i[cut]]))
        flooded = np.bincount(u_i, weights=part, minlength=len(units)) / 1e6
        unit_km2 = shapely.area(shapes) / 1e6
        cols = [c for c in ("name", "code", "national_level") if c in units.columns]
        out = pd.DataFrame({c: units[c].values for c in cols})
        out["unit_km2"], out["flooded_km2"] = unit_km2, flooded
        out["flooded_share"] = np.divide(flooded, unit_km2, out=np.zeros_like(flooded),
                                         where=unit_km2 > 0)
    out.attrs = {"total_flooded_km2": total, "crs": target.to_wkt()}
    return out


def rasterize_like(polygons: Vectors, like: xr.DataArray, *,
                   all_touched: bool = False) -> xr.DataArray:
    """Burn polygons onto the grid of ``like``: True inside (pixel centre rule, as GDAL)."""
    if like.rio.crs is None:
        raise CRSError("the raster has no CRS to rasterize the polygons on; write one with "
                       ".rio.write_crs(...)")
    if polygons.crs is None:
        raise CRSError("the polygons have no CRS; set it with gdf.set_crs(...) first")
    geoms = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    geoms = geoms.to_crs(like.rio.crs)
    shape = (like.sizes["y"], like.sizes["x"])
    burnt = rasterio.features.rasterize(
        [g for g in geoms.values if g is not None and not g.is_empty], out_shape=shape,
        transform=transform_of(like), fill=0, default_value=1, dtype="uint8",
        all_touched=all_touched) if len(geoms) else np.zeros(shape, np.uint8)
    out = xr.DataArray(burnt.astype(bool), coords={"y": like.y, "x": like.x}, dims=("y", "x"),
                       name="rasterized", attrs={"long_name": "inside the polygons"})
    return out.rio.write_crs(like.rio.crs)


def _pixels(data: Any, grid: xr.DataArray | None, ignore: Any) -> tuple[np.ndarray, np.ndarray]:
    """(flooded, ignored) boolean arrays of a mask, raster or polygons."""
    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if grid is None:
            raise RasterError("polygons can only be compared with a raster that has a grid "
                              "(a DataArray with x/y coordinates and a CRS)")
        data = rasterize_like(data, grid)
    values = np.asarray(data.values if isinstance(data, xr.DataArray) else data)
    if values.ndim != 2:
        raise RasterError(f"masks must be 2-D (y, x), got shape {values.shape}")
    bad = np.zeros(values.shape, bool)
    if values.dtype == bool:
        return values, bad
    if values.dtype.kind == "f":
        bad |= ~np.isfinite(values)
    nodata = data.rio.nodata if isinstance(data, xr.DataArray) else None
    if nodata is not None and not np.isnan(nodata):
        bad |= values == nodata
    if ignore is not None and np.isscalar(ignore):
        bad |= values == ignore
    return (values != 0) & ~bad, bad


def accuracy(mask: Any, reference: Any, *, ignore: Any = None) -> dict[str, float]:
    """IoU, F1, precision and recall of a flood mask against a reference.

    Parameters
    ----------
    mask, reference
        Each a boolean or integer raster (DataArray or ndarray; non-zero =
        flooded) or polygons (GeoDataFrame/GeoSeries), rasterized on the
        grid of the other (pixel-centre rule), which must then be a
        DataArray with a CRS. Rasters must have the same shape.
    ignore
        Pixels left out of the counts: a value (pixels of an integer mask or
        reference equal to it, e.g. 254 for clouds or 255) or a boolean
        array (True = ignore, e.g. a cloud mask). NaN and the rasters'
        own no-data values are always left out.

    Returns
    -------
    dict
        ``tp``, ``fp``, ``fn``, ``tn``, ``n`` (pixels compared),
        ``ignored``, ``iou``, ``f1``, ``precision``, ``recall``,
        ``overall_accuracy``; a ratio with a zero denominator is NaN.
    """
    grid = next((d for d in (mask, reference) if isinstance(d, xr.DataArray)), None)
    if grid is not None and set(grid.dims) != {"y", "x"}:
        raise RasterError(f"masks must have dims (y, x), got {grid.dims}")
    pred, bad_p = _pixels(mask, grid, ignore)
    ref, bad_r = _pixels(reference, grid, ignore)
    if pred.shape != ref.shape:
        raise RasterError(f"mask {pred.shape} and reference {ref.shape} differ in shape; put "
                          "them on one grid first (rio.reproject_match or rasterize_like)")
    skip = bad_p | bad_r
    if ignore is not None and not np.isscalar(ignore):
        extra = np.asarray(ignore.values if isinstance(ignore, xr.DataArray) else ignore)
        if extra.shape != skip.shape:
            raise RasterError(f"ignore mask {extra.shape} does not match the mask {skip.shape}")
        skip |= extra.astype(bool)
    use = ~skip
    tp = int(np.count_nonzero(pred & ref & use))
    fp = int(np.count_nonzero(pred & ~ref & use))
    fn = int(np.count_nonzero(~pred & ref & use))
    n = int(np.count_nonzero(use))
    tn = n - tp - fp - fn

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": n, "ignored": int(skip.sum()),
            "iou": ratio(tp, tp + fp + fn), "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn),
            "overall_accuracy": ratio(tp + tn, n)}
