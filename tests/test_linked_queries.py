"""The tutorial's queries, result frames and formats, safe binding, the CLI-ready functions."""

from __future__ import annotations

import csv
import io
import json

import geopandas as gpd
import linked_testdata as td
import pandas as pd
import pyoxigraph as ox
import pytest
import shapely

from eolab.errors import OutputError, QueryError
from eolab.linked import queries
from eolab.linked.queries import PREFIXES, QUERY_1, QUERY_2A, QUERY_2B
from eolab.linked.store import open_store

UNITS, NAMES, LEVELS = td.units_grid()
BOXES, FLOOD_LEVELS = td.floods()
FLOOD_G, UNITS_G = td.FLOOD_G, td.UNITS_G


@pytest.fixture()
def store():
    with td.loaded_store() as s:
        yield s


def test_query_text__as_the_tutorial_wrote_it():
    assert QUERY_1.endswith("SELECT ?floodLevel (count(?x) as ?amountofareas) WHERE{ ?x flo:has_floodLevel "
                            "?floodLevel. ?x geo:hasGeometry ?xgeo. ?xgeo geo:asWKT ?geo. } GROUP BY "
                            "?floodLevel ORDER BY DESC(?floodLevel)")
    assert 'gadmo:hasNationalLevel "3rdOrder"^^<http://www.w3.org/2001/XMLSchema#string>.' in QUERY_2A
    assert QUERY_2A.endswith("?admgeo geo:asWKT ?wgeo FILTER(geof:sfIntersects(?geo, ?wgeo)) }")
    assert QUERY_2B.endswith("?xgeo geo:asWKT ?geo. }LIMIT 50")
    for q in (QUERY_1, QUERY_2A, QUERY_2B):
        assert q.startswith("PREFIX geo: <http://www.opengis.net/ont/geosparql#>\n")
        assert "PREFIX flo: <http://ai.di.uoa.gr/flood/ontology#>" in q


def test_query_1__counts_per_level_descending(store):
    df = queries.run(store, QUERY_1)
    truth = pd.Series(FLOOD_LEVELS).value_counts().sort_index(ascending=False)
    assert df["floodLevel"].tolist() == truth.index.tolist()
    assert df["amountofareas"].tolist() == truth.tolist()


def test_query_2a__geodataframe_matches_geopandas(store):
    gdf = queries.to_geodataframe(queries.run(store, QUERY_2A))
    fl = gpd.GeoDataFrame(geometry=BOXES, crs=4326)
    un = gpd.GeoDataFrame({"name": NAMES, "level": LEVELS}, geometry=UNITS, crs=4326)
    truth = un[un.level == "3rdOrder"].sjoin(fl, predicate="intersects").drop_duplicates("name")
    assert gdf.crs == "EPSG:4326" and sorted(gdf["name"]) == sorted(truth["name"])
    merged = gdf.merge(truth[["name", "geometry"]], on="name")
    assert all(a.equals(b) for a, b in zip(merged["geometry_x"], merged["geometry_y"]))


def test_query_2b__fifty_rows_of_real_features(store):
    gdf = queries.to_geodataframe(queries.run(store, QUERY_2B))
    assert len(gdf) == min(50, len(BOXES))
    truth = {(lvl, shapely.MultiPolygon([b]).wkt) for b, lvl in zip(BOXES, FLOOD_LEVELS)}
    assert {(lvl, g.wkt) for lvl, g in zip(gdf["floodLevel"], gdf.geometry)} <= truth
    utm = queries.to_geodataframe(queries.run(store, QUERY_2B), crs="EPSG:32756")
    assert utm.geometry.iloc[0].equals_exact(td.utm56s(gdf.geometry.iloc[0]), 1e-6)


def test_injection__values_are_bound_as_terms(store):
    q = PREFIXES + "SELECT ?u ?name WHERE { ?u gadmo:hasName ?name }"
    for evil in ['Unit 0-0"@en } ; DELETE WHERE { ?s ?p ?o } #',
                 'x" } UNION { ?u ?p ?name } #', "Unit 0-0\n> <", "Unit 0-0"]:
        assert len(store.select(q, bindings={"name": evil})) == 0      # str: an xsd:string, no match
    hit = store.select(q, bindings={"?name": ox.Literal("Unit 0-0", language="en")}).to_frame()
    assert hit["u"].tolist() == [f"{td.GADM}unit/1"]
    with pytest.raises(ValueError):
        ox.NamedNode("http://ex/> } ; DROP ALL ; <x")
    assert len(store) == 5 * len(BOXES) + 5 * len(UNITS)                  # nothing changed


def test_formats__csv_json_and_cli(store, tmp_path):
    result = store.select(QUERY_1)
    rows = list(csv.reader(io.StringIO(result.to_csv())))
    assert rows[0] == ["floodLevel", "amountofareas"]
    assert rows[1] == [str(max(FLOOD_LEVELS)), str(FLOOD_LEVELS.count(max(FLOOD_LEVELS)))]
    body = json.loads(result.to_json())
    assert body["head"]["vars"] == ["floodLevel", "amountofareas"]
    first = body["results"]["bindings"][0]["floodLevel"]
    assert first == {"type": "literal", "value": str(max(FLOOD_LEVELS)),
                     "datatype": "http://www.w3.org/2001/XMLSchema#integer"}
    names = json.loads(store.select(QUERY_2A).to_json())["results"]["bindings"][0]["name"]
    assert names["xml:lang"] == "en" and "datatype" not in names


def test_cli_load_and_query__files_and_formats(tmp_path):
    nt_f, nt_u = tmp_path / "flood.nt", tmp_path / "admin.nt"
    nt_f.write_bytes(td.flood_nt(BOXES, FLOOD_LEVELS))
    nt_u.write_bytes(td.units_nt(UNITS, NAMES, LEVELS))
    db = tmp_path / "db"
    assert queries.cli_load(db, nt_f) == 5 * len(BOXES)
    assert queries.cli_load(db, nt_f) == 5 * len(BOXES)                 # replaced, not added
    queries.cli_load(db, nt_u, graph=UNITS_G)
    rq = tmp_path / "q2a.rq"
    rq.write_text(QUERY_2A)
    text = queries.cli_query(db, rq)
    assert text.splitlines()[0] == "name,wgeo" and len(text.splitlines()) == 7
    out = tmp_path / "q2a.geojson"
    queries.cli_query(db, rq, format="geojson", output=out)
    fc = json.loads(out.read_text())
    assert len(fc["features"]) == 6 and fc["features"][0]["geometry"]["type"] == "Polygon"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(QueryError, match="unknown result format"):
        queries.cli_query(db, rq, format="xml")
    with pytest.raises(OutputError, match="does not exist"):
        queries.cli_query(db, rq, output=tmp_path / "no" / "x.csv")
    with open_store(db) as s:
        assert s.graphs() == sorted([nt_f.resolve().as_uri(), UNITS_G])


def test_to_geodataframe__errors():
    with pytest.raises(QueryError, match="no WKT column"):
        queries.to_geodataframe(pd.DataFrame({"a": [1]}))
    with pytest.raises(QueryError, match="not a WKT literal"):
        queries.to_geodataframe(pd.DataFrame({"g": ["POLYGON ((0 0, 1"]}), geometry="g")


@pytest.mark.realdata
def test_real_lga_boundaries__aoi_query_finds_the_documented_units(realdata):
    """ABS LGA 2023 (566 real units) as GADM RDF: the LGAs meeting the eolab AOI are the
    seven that SOURCE.md lists (verified there with geopandas), by a bound constant and by a
    spatial join with a flood layer inside the AOI."""
    lga = gpd.read_file(realdata / "abs_lga_2023_simplified" / "LGA_2023_AUST_GDA94.json")
    lga = lga[~lga.geometry.is_empty & lga.geometry.notna()].reset_index(drop=True)
    s = open_store(None)
    s.load(td.units_nt(list(lga.geometry), list(lga["LGA_NAME23"]), ["3rdOrder"] * len(lga)),
           graph=UNITS_G)
    aoi = shapely.box(150.6266, -33.795, 150.952, -33.49)
    q = PREFIXES + """SELECT ?name ?aoi WHERE { ?u gadmo:hasName ?name ; geo:hasGeometry ?g .
        ?g geo:asWKT ?w . FILTER(geof:sfIntersects(?w, ?aoi)) }"""
    assert s.rewritten(q, bindings={"aoi": aoi}) != q
    names = sorted(s.select(q, bindings={"aoi": aoi}).to_frame()["name"])
    expected = ["Blacktown", "Blue Mountains", "Cumberland", "Hawkesbury", "Parramatta",
                "Penrith", "The Hills"]
    assert names == expected
    s.load(td.flood_nt([aoi], [1]), graph=FLOOD_G)
    assert sorted(queries.run(s, QUERY_2A)["name"]) == expected


def test_pipeline__eolab_export_and_admin_units_feed_the_queries():
    """From GeoDataFrames through eolab.linked.export / admin (GeoTriples naming) to the
    tutorial's queries: the same counts and units as geopandas."""
    from eolab.linked.admin import iter_admin_rdf
    from eolab.linked.export import to_rdf

    fl = gpd.GeoDataFrame({"floodLevel": FLOOD_LEVELS}, geometry=BOXES, crs=4326)
    un = gpd.GeoDataFrame({"name": NAMES, "level": LEVELS,
                           "code": [f"U{i}" for i in range(len(NAMES))]}, geometry=UNITS, crs=4326)
    s = open_store(None)
    s.load(to_rdf(fl, name="flood").encode(), graph=FLOOD_G)
    third = un[un.level == "3rdOrder"]
    s.load("".join(iter_admin_rdf(third, name_field="name", code_field="code",
                                  level="3rdOrder")).encode(), graph=UNITS_G)
    q1 = queries.run(s, QUERY_1)
    assert dict(zip(q1["floodLevel"], q1["amountofareas"])) == fl["floodLevel"].value_counts().to_dict()
    truth = third.sjoin(fl, predicate="intersects")["name"].unique()
    assert sorted(queries.run(s, QUERY_2A)["name"]) == sorted(truth)
    assert s.rewritten(QUERY_2A) != QUERY_2A
