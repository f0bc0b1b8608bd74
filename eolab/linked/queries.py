"""The tutorial's GeoSPARQL queries, as written for Strabon, and their results as frames.

The three constants are the tutorial's text with its prefixes; they run unmodified on
an :class:`~eolab.linked.store.EmbeddedStore` (Query 2a's ``geof:sfIntersects`` is
answered from the store's R-tree) and on a remote store loaded with CRS84 WKT.

* :data:`QUERY_1` — how many flood polygons per flood level;
* :data:`QUERY_2A` — the 3rd-order administrative units that a flood polygon intersects;
* :data:`QUERY_2B` — 50 flood polygons with their level.

:func:`run` returns a pandas DataFrame; :func:`to_geodataframe` turns its WKT columns
into geometries (CRS IRIs read as the store reads them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import OutputError, QueryError
from . import _geosparql as gs
from .store import GeoStore, SelectResult, open_store

__all__ = [
    "PREFIXES",
    "QUERY_1",
    "QUERY_2A",
    "QUERY_2B",
    "TUTORIAL_QUERIES",
    "cli_load",
    "cli_query",
    "run",
    "to_geodataframe",
    "wkt_columns",
]

PREFIXES = """PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX flo: <http://ai.di.uoa.gr/flood/ontology#>
PREFIX gadmr: <http://www.app-lab.eu/gadm/>
PREFIX gadmo: <http://www.app-lab.eu/gadm/ontology/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""

QUERY_1 = PREFIXES + (
    "SELECT ?floodLevel (count(?x) as ?amountofareas) WHERE{ ?x flo:has_floodLevel ?floodLevel. "
    "?x geo:hasGeometry ?xgeo. ?xgeo geo:asWKT ?geo. } GROUP BY ?floodLevel "
    "ORDER BY DESC(?floodLevel)")

QUERY_2A = PREFIXES + (
    "SELECT DISTINCT ?name ?wgeo WHERE{ ?x flo:has_floodLevel ?floodLevel. "
    "?x geo:hasGeometry ?xgeo. ?xgeo geo:asWKT ?geo. ?admP rdf:type gadmr:AdministrativeUnit. "
    "?admP gadmo:hasName ?name. "
    '?admP gadmo:hasNationalLevel "3rdOrder"^^<http://www.w3.org/2001/XMLSchema#string>. '
    "?admP geo:hasGeometry ?admgeo. ?admgeo geo:asWKT ?wgeo "
    "FILTER(geof:sfIntersects(?geo, ?wgeo)) }")

QUERY_2B = PREFIXES + (
    "SELECT ?floodLevel ?geo WHERE{ ?x flo:has_floodLevel ?floodLevel. "
    "?x geo:hasGeometry ?xgeo. ?xgeo geo:asWKT ?geo. }LIMIT 50")

TUTORIAL_QUERIES = {"1": QUERY_1, "2a": QUERY_2A, "2b": QUERY_2B}


def run(store: GeoStore, query: str, *, bindings: Mapping[str, object] | None = None,
        typed: bool = True) -> pd.DataFrame:
    """Rows of a SELECT query as a DataFrame (numbers typed unless ``typed=False``)."""
    return store.select(query, bindings=bindings).to_frame(typed=typed)


def wkt_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose first non-null value looks like a WKT literal's lexical form."""
    found = []
    for name in frame.columns:
        values = frame[name].dropna()
        if len(values) and isinstance(values.iloc[0], str) and _is_wkt(values.iloc[0]):
            found.append(name)
    return found


def _is_wkt(text: str) -> bool:
    try:
        _, wkt = gs.split_wkt_literal(text)
    except ValueError:
        return False
    head = wkt.split("(", 1)[0].strip().upper().split(" ")[0]
    return head in {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING",
                    "MULTIPOLYGON", "GEOMETRYCOLLECTION"}


def to_geodataframe(frame: pd.DataFrame | SelectResult, *, geometry: str | None = None,
                    crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """A GeoDataFrame from query rows, the WKT column ``geometry`` (the first found if None)
    parsed and brought to ``crs``; other WKT columns stay text.

    EPSG:4326 and CRS84 literals are longitude first (as GeoTriples writes them), so both
    give the same geometry in ``crs="EPSG:4326"`` (which geopandas also draws lon/lat).
    """
    if isinstance(frame, SelectResult):
        frame = frame.to_frame()
    if geometry is None:
        found = wkt_columns(frame)
        if not found:
            raise QueryError(f"no WKT column among {list(frame.columns)}")
        geometry = found[0]
    if geometry not in frame.columns:
        raise QueryError(f"no column {geometry!r} among {list(frame.columns)}")
    target = _user_key(crs)
    geoms = np.empty(len(frame), dtype=object)
    for k, text in enumerate(frame[geometry].tolist()):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            geoms[k] = None
            continue
        try:
            geom, key = gs.parse_wkt_literal(text)
        except (ValueError, shapely.errors.GEOSException) as exc:
            raise QueryError(f"row {k} of {geometry!r} is not a WKT literal: {exc}") from exc
        geoms[k] = gs.to_crs(geom, key, target)
    out = frame.drop(columns=[geometry])
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=crs),
                            crs=crs)


def _user_key(crs: str) -> str:
    text = str(crs).upper()
    return "OGC:CRS84" if text in ("EPSG:4326", "OGC:CRS84", "CRS84") else str(crs)


# --- CLI-ready -------------------------------------------------------------------------


def cli_load(db: str | os.PathLike[str], file: str | os.PathLike[str], *,
             graph: str | None = None, format: str | None = None) -> int:
    """``eolab store load --db DIR file.nt [--graph IRI]``: load (replacing) a layer.

    The graph defaults to the file's ``file://`` URI, so loading a file again replaces it.
    Returns the number of triples loaded.
    """
    path = Path(file)
    iri = graph or path.resolve().as_uri()
    with open_store(db) as store:
        return store.load(path, graph=iri, format=format)


def cli_query(db: str | os.PathLike[str], query_file: str | os.PathLike[str], *,
              format: str = "csv", output: str | os.PathLike[str] | None = None) -> str:
    """``eolab store query --db DIR query.rq [--format csv|json|geojson] [-o FILE]``.

    CSV: a header of variable names and plain lexical values; JSON: SPARQL 1.1 results
    JSON; GeoJSON: a FeatureCollection from the first WKT column. Written atomically to
    ``output`` (a temporary name, then renamed) or returned for standard output.
    """
    if format not in ("csv", "json", "geojson"):
        raise QueryError(f"unknown result format {format!r}: use csv, json or geojson")
    sparql = Path(query_file).read_text(encoding="utf-8")
    location = os.fspath(db)
    options = {} if location.startswith(("http://", "https://")) else {"read_only": True}
    with open_store(location, **options) as store:
        result = store.select(sparql)
    if format == "csv":
        text = result.to_csv()
    elif format == "json":
        text = result.to_json()
    else:
        text = to_geodataframe(result).to_json()
    if output is not None:
        _write_atomic(Path(output), text)
    return text


def _write_atomic(path: Path, text: str) -> None:
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc}") from exc
