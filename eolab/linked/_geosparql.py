"""GeoSPARQL functions over WKT literals, CRS-aware, as pyoxigraph custom functions.

Oxigraph's built-in ``geof:`` functions accept only WKT with no CRS IRI or with
``<http://www.opengis.net/def/crs/OGC/1.3/CRS84>``; for the EPSG:4326 IRI that
GeoTriples writes they return unbound, and a FILTER silently drops every row.
These replacements read the CRS IRI of each literal:

* no IRI, CRS84 (``OGC/1.3`` or ``OGC/0``) and ``EPSG/0/4326`` are longitude/latitude,
  as Strabon reads them (GeoTriples writes coordinates as stored, longitude first);
  other geographic EPSG codes are read longitude first as well, for the same reason;
* projected EPSG codes are read as stored (easting, northing).

Two literals in different CRSs are compared in the first one's CRS (the second is
transformed with pyproj). ``distance`` and ``area`` in metres or kilometres are
geodesic (WGS 84 ellipsoid) for geographic CRSs and planar for projected ones.

A custom function must return a term: any failure (not a ``geo:wktLiteral``, WKT that
does not parse, an unknown unit) returns ``None``, an unbound value, which is what a
SPARQL function error is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pyoxigraph as ox
import shapely
import shapely.errors
import shapely.ops
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

GEO = "http://www.opengis.net/ont/geosparql#"
GEOF = "http://www.opengis.net/def/function/geosparql/"
WKT_LITERAL = GEO + "wktLiteral"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_PREFIX = "http://www.opengis.net/def/crs/EPSG/0/"
UOM = "http://www.opengis.net/def/uom/OGC/1.0/"

#: Topological relations: name -> shapely predicate (DE-9IM, GEOS).
RELATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "sfIntersects": shapely.intersects,
    "sfContains": shapely.contains,
    "sfWithin": shapely.within,
    "sfOverlaps": shapely.overlaps,
    "sfTouches": shapely.touches,
    "sfEquals": shapely.equals,
    "sfCrosses": shapely.crosses,
    "sfDisjoint": shapely.disjoint,
}
#: Relations whose truth implies that the two envelopes intersect (index-backed).
INDEXABLE = frozenset(RELATIONS) - {"sfDisjoint"}

_LENGTH_UNITS = {
    UOM + "metre": 1.0, UOM + "meter": 1.0, UOM + "kilometre": 1e-3, UOM + "kilometer": 1e-3,
    "http://qudt.org/vocab/unit/M": 1.0, "http://qudt.org/vocab/unit/KiloM": 1e-3,
}
_AREA_UNITS = {
    UOM + "square_metre": 1.0, UOM + "square_meter": 1.0,
    UOM + "square_kilometre": 1e-6, UOM + "square_kilometer": 1e-6,
    "http://qudt.org/vocab/unit/M2": 1.0, "http://qudt.org/vocab/unit/KiloM2": 1e-6,
}
_DEGREE_UNITS = {UOM + "degree", "http://qudt.org/vocab/unit/DEG"}
_GEOD = Geod(ellps="WGS84")
_LONLAT = "OGC:CRS84"


def crs_key(iri: str | None) -> str:
    """Normalised CRS of a WKT literal's IRI: ``"OGC:CRS84"`` or ``"EPSG:<code>"``.

    Raises ``ValueError`` for an IRI that is not a CRS eolab knows how to read.
    """
    if iri is None:
        return _LONLAT
    iri = iri.replace("https://", "http://", 1)
    if iri in (CRS84, "http://www.opengis.net/def/crs/OGC/0/CRS84"):
        return _LONLAT
    if iri.startswith(EPSG_PREFIX):
        code = iri[len(EPSG_PREFIX):].strip("/")
        if not code.isdigit():
            raise ValueError(f"not an EPSG CRS IRI: {iri}")
        return _LONLAT if code == "4326" else f"EPSG:{code}"
    raise ValueError(f"unsupported CRS IRI in a WKT literal: {iri}")


def split_wkt_literal(value: str) -> tuple[str | None, str]:
    """Split a ``geo:wktLiteral`` lexical form into (CRS IRI or None, WKT text)."""
    text = value.strip()
    if text.startswith("<"):
        end = text.find(">")
        if end < 0:
            raise ValueError("unterminated CRS IRI in a WKT literal")
        return text[1:end], text[end + 1:].strip()
    return None, text


@lru_cache(maxsize=65536)
def parse_wkt_literal(value: str) -> tuple[BaseGeometry, str]:
    """(prepared shapely geometry, CRS key) of a WKT literal's lexical form, cached."""
    iri, wkt = split_wkt_literal(value)
    key = crs_key(iri)
    geom = shapely.from_wkt(wkt)
    shapely.prepare(geom)
    return geom, key


@lru_cache(maxsize=256)
def _crs(key: str) -> CRS:
    return CRS.from_user_input(key)


@lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(_crs(src), _crs(dst), always_xy=True)


def to_crs(geom: BaseGeometry, src: str, dst: str) -> BaseGeometry:
    """``geom`` from CRS key ``src`` to ``dst`` (longitude/easting first)."""
    if src == dst:
        return geom
    return shapely.transform(geom, lambda xy: _stack(_transformer(src, dst).transform(*xy.T)))


def _stack(xy: tuple[Any, Any]) -> Any:
    return np.column_stack(xy)


def _metres_per_unit(key: str) -> float:
    axes = _crs(key).axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


def is_geographic(key: str) -> bool:
    """Whether coordinates under this CRS key are longitude/latitude degrees."""
    return key == _LONLAT or bool(_crs(key).is_geographic)


def literal_geometry(term: object) -> tuple[BaseGeometry, str] | None:
    """(geometry, CRS key) of a ``geo:wktLiteral`` term, or None for anything else."""
    if not isinstance(term, ox.Literal) or term.datatype.value != WKT_LITERAL:
        return None
    try:
        return parse_wkt_literal(term.value)
    except (ValueError, shapely.errors.GEOSException):
        return None


def relate(name: str, a: tuple[BaseGeometry, str], b: tuple[BaseGeometry, str]) -> bool:
    """Relation ``name`` (a key of RELATIONS) between a and b, in a's CRS."""
    gb = to_crs(b[0], b[1], a[1])
    return bool(RELATIONS[name](a[0], gb))


def distance(a: tuple[BaseGeometry, str], b: tuple[BaseGeometry, str], uom: str) -> float | None:
    """Shortest distance between a and b in ``uom``; None for an unsupported unit."""
    gb = to_crs(b[0], b[1], a[1])
    if uom in _DEGREE_UNITS:
        return float(shapely.distance(a[0], gb)) if is_geographic(a[1]) else None
    scale = _LENGTH_UNITS.get(uom)
    if scale is None:
        return None
    if not is_geographic(a[1]):
        return float(shapely.distance(a[0], gb)) * _metres_per_unit(a[1]) * scale
    if shapely.intersects(a[0], gb):
        return 0.0
    pa, pb = shapely.ops.nearest_points(a[0], gb)
    _, _, metres = _GEOD.inv(pa.x, pa.y, pb.x, pb.y)
    return float(metres) * scale


def area(a: tuple[BaseGeometry, str], uom: str) -> float | None:
    """Area of a in ``uom`` (geodesic on WGS 84 for geographic CRSs); None if unsupported."""
    scale = _AREA_UNITS.get(uom)
    if scale is None:
        return None
    if is_geographic(a[1]):
        value, _ = _GEOD.geometry_area_perimeter(a[0])
        return abs(float(value)) * scale
    return float(shapely.area(a[0])) * _metres_per_unit(a[1]) ** 2 * scale


def _relation_function(name: str) -> Callable[..., ox.Literal | None]:
    def function(left: object, right: object) -> ox.Literal | None:
        a, b = literal_geometry(left), literal_geometry(right)
        if a is None or b is None:
            return None
        try:
            return ox.Literal(relate(name, a, b))
        except Exception:  # noqa: BLE001 - GEOS topology errors, failed transforms: unbound
            return None

    function.__name__ = name
    return function


def _distance_function(left: object, right: object, uom: object) -> ox.Literal | None:
    a, b = literal_geometry(left), literal_geometry(right)
    if a is None or b is None or not isinstance(uom, ox.NamedNode):
        return None
    try:
        value = distance(a, b, uom.value)
    except Exception:  # noqa: BLE001 - any failure is a SPARQL error (unbound)
        return None
    return None if value is None else ox.Literal(value)


def _area_function(geom: object, uom: object) -> ox.Literal | None:
    a = literal_geometry(geom)
    if a is None or not isinstance(uom, ox.NamedNode):
        return None
    try:
        value = area(a, uom.value)
    except Exception:  # noqa: BLE001 - any failure is a SPARQL error (unbound)
        return None
    return None if value is None else ox.Literal(value)


def custom_functions() -> dict[ox.NamedNode, Callable[..., Any]]:
    """The ``geof:`` functions as pyoxigraph ``custom_functions`` (they override built-ins)."""
    functions: dict[ox.NamedNode, Callable[..., Any]] = {
        ox.NamedNode(GEOF + name): _relation_function(name) for name in RELATIONS
    }
    functions[ox.NamedNode(GEOF + "distance")] = _distance_function
    functions[ox.NamedNode(GEOF + "area")] = _area_function
    return functions
