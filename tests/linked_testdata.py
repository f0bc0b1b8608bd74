"""Small GeoTriples-style flood layers and GADM-style units for the linked-data tests.

Geometries are built here with shapely, written as N-Triples the way GeoTriples and
eolab's admin-unit export write them, and kept as shapely objects so that every query can
be checked against geopandas computing the same thing.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyoxigraph as ox
import shapely

EPSG4326 = "<http://www.opengis.net/def/crs/EPSG/0/4326> "
CRS84 = "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> "
GEO = "http://www.opengis.net/ont/geosparql#"
WKT = f"<{GEO}wktLiteral>"
FLOOD = "http://ai.di.uoa.gr/flood/"
FLO = "http://ai.di.uoa.gr/flood/ontology#"
GADM = "http://www.app-lab.eu/gadm/"
GADMO = "http://www.app-lab.eu/gadm/ontology/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
FLOOD_G, UNITS_G = "http://example.org/graph/flood", "http://example.org/graph/units"


def units_grid(nx=3, ny=3, x0=150.6, y0=-33.8, size=0.1):
    """nx*ny square units (lon/lat), named "Unit r-c"; the last one is 2ndOrder."""
    units, names, levels = [], [], []
    for r in range(ny):
        for c in range(nx):
            units.append(shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size,
                                     y0 + (r + 1) * size))
            names.append(f"Unit {r}-{c}")
            levels.append("3rdOrder")
    levels[-1] = "2ndOrder"
    return units, names, levels


def floods(n=14, seed=5, x0=150.55, y0=-33.85, width=0.2):
    """n flood boxes (lon/lat), kept at least 2e-4 degrees away from the unit grid lines
    (so that the CRS-transform tests have no borderline pairs), plus fixed cases:
    one box touching a unit edge from outside, one inside a unit, one over a corner."""
    rng = np.random.default_rng(seed)
    boxes = []
    while len(boxes) < n:
        cx, cy = rng.uniform(x0, x0 + width), rng.uniform(y0, y0 + width)
        s = rng.uniform(0.002, 0.03)
        b = shapely.box(cx - s, cy - s, cx + s, cy + s)
        edges = [150.6 + 0.1 * k for k in range(4)] + [-33.8 + 0.1 * k for k in range(4)]
        xs, ys = b.bounds[0::2], b.bounds[1::2]
        if min(abs(v - e) for v in xs + ys for e in edges) < 2e-4:
            continue
        boxes.append(b)
    boxes.append(shapely.box(150.55, -33.75, 150.6, -33.72))   # touches Unit 0-0 at x=150.6
    boxes.append(shapely.box(150.71, -33.69, 150.72, -33.68))  # inside Unit 1-1
    boxes.append(shapely.box(150.79, -33.61, 150.81, -33.59))  # over the corner of 4 units
    levels = [int(v) for v in rng.integers(1, 6, len(boxes))]
    return boxes, levels


def wkt(geom, crs=EPSG4326, multi=True):
    if multi and geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return f'"{crs}{geom.wkt}"^^{WKT}'


def flood_nt(boxes, levels, *, layer="flood", crs=EPSG4326, transform=None):
    """GeoTriples-style N-Triples: feature, has_floodLevel, hasGeometry, asWKT."""
    lines = []
    for i, (g, lvl) in enumerate(zip(boxes, levels), 1):
        f, gg = f"<{FLOOD}{layer}/id/{i}>", f"<{FLOOD}{layer}/Geometry/{i}>"
        if transform is not None:
            g = transform(g)
        lines += [f"{f} {RDF_TYPE} <{FLO}{layer}> .",
                  f'{f} <{FLO}has_floodLevel> "{lvl}"^^<{XSD}integer> .',
                  f"{f} <{GEO}hasGeometry> {gg} .",
                  f"{gg} {RDF_TYPE} <{GEO}Geometry> .",
                  f"{gg} <{GEO}asWKT> {wkt(g, crs)} ."]
    return ("\n".join(lines) + "\n").encode()


def units_nt(units, names, levels, *, crs=EPSG4326, transform=None):
    """GADM-vocabulary N-Triples, as eolab's admin-unit export writes them."""
    lines = []
    for i, (g, name, level) in enumerate(zip(units, names, levels), 1):
        u, gg = f"<{GADM}unit/{i}>", f"<{GADM}unit/{i}/geometry>"
        if transform is not None:
            g = transform(g)
        lines += [f"{u} {RDF_TYPE} <{GADM}AdministrativeUnit> .",
                  f"{u} <{GADMO}hasName> {ox.Literal(name, language='en')} .",
                  f'{u} <{GADMO}hasNationalLevel> "{level}"^^<{XSD}string> .',
                  f"{u} <{GEO}hasGeometry> {gg} .",
                  f"{gg} <{GEO}asWKT> {wkt(g, crs, multi=False)} ."]
    return ("\n".join(lines) + "\n").encode()


@contextmanager
def loaded_store():
    """An in-memory store holding :func:`floods` in ``FLOOD_G`` and :func:`units_grid` in
    ``UNITS_G`` (the default sizes and seed), closed on exit."""
    from eolab.linked.store import open_store

    store = open_store(None)
    try:
        store.load(flood_nt(*floods()), graph=FLOOD_G)
        store.load(units_nt(*units_grid()), graph=UNITS_G)
        yield store
    finally:
        store.close()


def utm56s(geom):
    """``geom`` (lon/lat) in UTM zone 56S (EPSG:32756), the Sydney zone."""
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", "EPSG:32756", always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
