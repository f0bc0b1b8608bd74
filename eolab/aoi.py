"""Areas of interest: parse, validate and reproject.

An AOI can be given as a WKT string, a GeoJSON string or mapping (a geometry,
a Feature or a FeatureCollection), a shapely geometry, a ``(minx, miny, maxx,
maxy)`` bounding box, or a GeoSeries / GeoDataFrame carrying its own CRS.
Everything except the GeoPandas objects is taken to be in EPSG:4326
(longitude, latitude).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Union

import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from eolab.errors import AOIError, CRSError

__all__ = ["TUTORIAL_AOI_WKT", "AOILike", "parse_aoi", "aoi_to_crs", "aoi_bounds"]

#: The AOI of exercise 1 (March 2021 flood north-west of Sydney), EPSG:4326.
TUTORIAL_AOI_WKT = (
    "POLYGON((150.6266 -33.49, 150.952 -33.49, 150.952 -33.795, "
    "150.6266 -33.795, 150.6266 -33.49))"
)

AOILike = Union[str, Mapping[str, Any], BaseGeometry, Sequence[float], Any]

_WGS84 = CRS.from_epsg(4326)


def _from_geojson(obj: Mapping[str, Any]) -> BaseGeometry:
    kind = obj.get("type")
    if kind == "FeatureCollection":
        geoms = [_from_geojson(f) for f in obj.get("features", [])]
        if not geoms:
            raise AOIError("the GeoJSON FeatureCollection given as AOI has no features")
        return shapely.union_all(geoms)
    if kind == "Feature":
        geom = obj.get("geometry")
        if geom is None:
            raise AOIError("the GeoJSON Feature given as AOI has no geometry")
        return _from_geojson(geom)
    try:
        return shapely.geometry.shape(obj)
    except Exception as exc:  # shapely raises several types here
        raise AOIError(f"invalid GeoJSON geometry for the AOI: {exc}") from exc


def _parse_string(text: str) -> BaseGeometry:
    stripped = text.strip()
    if not stripped:
        raise AOIError("the AOI is an empty string; give a WKT polygon such as "
                       "'POLYGON((lon lat, ...))'")
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise AOIError(f"the AOI looks like GeoJSON but is not valid JSON: {exc}") from exc
        return _from_geojson(obj)
    try:
        return shapely.from_wkt(stripped)
    except shapely.errors.GEOSException as exc:
        short = stripped if len(stripped) < 80 else stripped[:77] + "..."
        raise AOIError(
            f"invalid WKT for the AOI ({short!r}): {exc}. Expected e.g. "
            "'POLYGON((150.6 -33.5, 150.9 -33.5, 150.9 -33.8, 150.6 -33.8, 150.6 -33.5))'"
        ) from exc


def parse_aoi(aoi: AOILike) -> tuple[BaseGeometry, CRS]:
    """Parse an AOI into a valid polygonal shapely geometry and its CRS.

    Parameters
    ----------
    aoi
        WKT or GeoJSON string, GeoJSON mapping, shapely geometry, bounding box
        ``(minx, miny, maxx, maxy)`` in EPSG:4326, or a GeoSeries/GeoDataFrame
        with a CRS (all its geometries are united).

    Returns
    -------
    geometry, crs
        The (repaired) polygonal geometry and the CRS it is expressed in.

    Raises
    ------
    AOIError
        If the AOI cannot be parsed, is empty, is not polygonal or has
        longitude/latitude values out of range.
    CRSError
        If a GeoPandas object has no CRS.
    """
    crs = _WGS84
    if hasattr(aoi, "geometry") and hasattr(aoi, "crs"):  # GeoSeries / GeoDataFrame
        if aoi.crs is None:
            raise CRSError("the GeoSeries/GeoDataFrame given as AOI has no CRS; set one "
                           "with .set_crs(...)")
        crs = CRS.from_user_input(aoi.crs)
        geoms = list(getattr(aoi, "geometry"))
        if not geoms:
            raise AOIError("the GeoSeries/GeoDataFrame given as AOI is empty")
        geom = shapely.union_all(geoms)
    elif isinstance(aoi, BaseGeometry):
        geom = aoi
    elif isinstance(aoi, str):
        geom = _parse_string(aoi)
    elif isinstance(aoi, Mapping):
        geom = _from_geojson(aoi)
    elif isinstance(aoi, Sequence) and len(aoi) == 4:
        try:
            minx, miny, maxx, maxy = (float(v) for v in aoi)
        except (TypeError, ValueError) as exc:
            raise AOIError(f"a bounding-box AOI needs four numbers, got {aoi!r}") from exc
        if not (minx < maxx and miny < maxy):
            raise AOIError(f"the bounding box {aoi!r} is not (minx, miny, maxx, maxy)")
        geom = shapely.box(minx, miny, maxx, maxy)
    else:
        raise AOIError(f"cannot use an object of type {type(aoi).__name__} as AOI; give WKT, "
                       "GeoJSON, a shapely geometry or a bounding box")

    if geom is None or geom.is_empty:
        raise AOIError("the AOI geometry is empty")
    if not isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
        if isinstance(geom, shapely.GeometryCollection):
            polys = [g for g in geom.geoms if isinstance(g, (shapely.Polygon, shapely.MultiPolygon))]
            if polys:
                geom = shapely.union_all(polys)
        if not isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
            raise AOIError(f"the AOI must be a polygon or multipolygon, got a {geom.geom_type}")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        if geom.is_empty or geom.area == 0:
            raise AOIError("the AOI polygon is invalid and cannot be repaired (zero area)")
    if geom.area == 0:
        raise AOIError("the AOI polygon has zero area")
    if crs.is_geographic:
        minx, miny, maxx, maxy = geom.bounds
        if miny < -90 or maxy > 90 or minx < -180 or maxx > 360:
            raise AOIError(
                f"AOI coordinates {geom.bounds} are out of range for longitude/latitude; is it "
                "in a projected CRS? Pass a GeoSeries with its CRS instead"
            )
    return geom, crs


def aoi_to_crs(aoi: AOILike, crs: Any) -> BaseGeometry:
    """Return the AOI as a shapely geometry in ``crs``.

    Densifies the geometry before transforming so that straight edges in
    longitude/latitude stay close to their true shape in a projected CRS.
    """
    geom, src = parse_aoi(aoi)
    try:
        dst = CRS.from_user_input(crs)
    except Exception as exc:
        raise CRSError(f"invalid target CRS {crs!r}: {exc}") from exc
    if src == dst:
        return geom
    transformer = Transformer.from_crs(src, dst, always_xy=True)
    minx, miny, maxx, maxy = geom.bounds
    step = max(maxx - minx, maxy - miny) / 64.0
    dense = shapely.segmentize(geom, step) if step > 0 else geom
    out = shapely.transform(dense, lambda xy: _transform_xy(transformer, xy))
    if not out.is_valid:
        out = shapely.make_valid(out)
    return out


def _transform_xy(transformer: Transformer, xy: Any) -> Any:
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise AOIError("the AOI cannot be transformed to the target CRS (outside its area of use)")
    return np.column_stack([x, y])


def aoi_bounds(aoi: AOILike, crs: Any) -> tuple[float, float, float, float]:
    """Bounding box ``(minx, miny, maxx, maxy)`` of the AOI in ``crs``."""
    return tuple(aoi_to_crs(aoi, crs).bounds)  # type: ignore[return-value]
