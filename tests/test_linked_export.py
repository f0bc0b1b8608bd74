"""Streamed RDF export: parsed back by pyoxigraph and rdflib to the same values and geometries."""

import datetime
import gc
import math
import os
import tracemalloc
import warnings
from urllib.parse import unquote

import geopandas as gpd
import numpy as np
import pandas as pd
import pyoxigraph as ox
import pytest
import rdflib
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eolab.errors import CRSError, MappingError, OutputError
from eolab.linked.export import iter_rdf, to_rdf, write_rdf
from eolab.linked.mapping import generate_mapping

BASE = "http://ai.di.uoa.gr/flood/"
FLO = BASE + "ontology#"
GEO = "http://www.opengis.net/ont/geosparql#"
XSD = "http://www.w3.org/2001/XMLSchema#"
EPSG4326 = "<http://www.opengis.net/def/crs/EPSG/0/4326> "
CRS84 = "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> "
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _utm_layer(n=5):
    """Boxes near the tutorial AOI in UTM 56S (EPSG:32756), with a flood level."""
    x0, y0 = 300_000.0, 6_280_000.0
    geoms = [shapely.box(x0 + 700 * i, y0, x0 + 700 * i + 500, y0 + 300 + 10 * i)
             for i in range(n)]
    return gpd.GeoDataFrame({"floodLevel": np.arange(4, 4 + n, dtype="int32")},
                            geometry=geoms, crs=32756)


def _triples(text, fmt=ox.RdfFormat.N_TRIPLES):
    return [(q.subject, q.predicate, q.object) for q in ox.parse(text, format=fmt)]


def _geom(literal):
    """shapely geometry of a wktLiteral value, CRS IRI stripped."""
    text = literal.value if hasattr(literal, "value") else str(literal)
    if text.startswith("<"):
        text = text.split(">", 1)[1]
    return shapely.from_wkt(text.strip())


def test_write_rdf__tutorial_naming_order_and_wkt(tmp_path):
    gdf = _utm_layer()
    before = gdf.copy()
    report = write_rdf(gdf, tmp_path / "flood.nt", name="flood")
    assert gdf.equals(before) and (gdf.geom_type == "Polygon").all()    # input left alone
    text = (tmp_path / "flood.nt").read_text()
    triples = _triples(text)
    assert report.features == 5 and report.triples == len(triples) == 5 * 5
    levels = {s.value: o.value for s, p, o in triples if p.value == FLO + "has_floodLevel"}
    assert levels == {f"{BASE}flood/id/{i + 1}": str(4 + i) for i in range(5)}
    first_subjects = list(dict.fromkeys(s.value for s, _, _ in triples if "/id/" in s.value))
    assert first_subjects == [f"{BASE}flood/id/{i}" for i in range(1, 6)]   # layer order
    link = {s.value: o.value for s, p, o in triples if p.value == GEO + "hasGeometry"}
    assert link[BASE + "flood/id/3"] == BASE + "flood/Geometry/3"
    types = {(s.value, o.value) for s, p, o in triples if p.value == RDF_TYPE}
    assert (BASE + "flood/id/1", FLO + "flood") in types
    assert (BASE + "flood/Geometry/1", GEO + "Geometry") in types
    wkts = {s.value: o for s, p, o in triples if p.value == GEO + "asWKT"}
    truth = gdf.to_crs(4326).geometry
    for i in range(5):
        lit = wkts[f"{BASE}flood/Geometry/{i + 1}"]
        assert lit.datatype.value == GEO + "wktLiteral"
        assert lit.value.startswith(EPSG4326 + "MULTIPOLYGON (((")
        geom = _geom(lit)
        assert geom.equals(truth.iloc[i]) and geom.equals_exact(
            shapely.MultiPolygon([truth.iloc[i]]), tolerance=0)
        lon, lat = geom.centroid.x, geom.centroid.y
        assert 150.0 < lon < 151.5 and -34.0 < lat < -33.0              # longitude first


def test_write_rdf__values_round_trip_in_both_parsers(tmp_path):
    gdf = gpd.GeoDataFrame({
        "i": pd.array([1, None, -3], dtype="Int64"), "f": [0.1 + 0.2, math.inf, float("nan")],
        "b": [True, False, True], "s": ["plain", 'qu"ote\\', None],
        "d": [datetime.date(2021, 3, 15), datetime.date(2021, 3, 25), None],
        "t": pd.to_datetime(["2021-03-15T10:20:30", "2021-03-25T00:00:01", None])},
        geometry=[shapely.Point(150.7, -33.6)] * 3, crs=4326)
    write_rdf(gdf, tmp_path / "v.nt", name="v")
    text = (tmp_path / "v.nt").read_text()
    ox_values = {(s.value, p.value.rsplit("#has_", 1)[1]): o for s, p, o in _triples(text)
                 if "#has_" in p.value}
    g = rdflib.Graph().parse(data=text, format="nt")
    rdflib_values = {(str(s), str(p).rsplit("#has_", 1)[1]): o.toPython()
                     for s, p, o in g if "#has_" in str(p)}
    sub = BASE + "v/id/"
    assert rdflib_values[(sub + "1", "i")] == 1 and rdflib_values[(sub + "3", "i")] == -3
    assert rdflib_values[(sub + "1", "f")] == 0.1 + 0.2
    assert rdflib_values[(sub + "2", "f")] == math.inf
    assert rdflib_values[(sub + "2", "b")] is False
    assert rdflib_values[(sub + "2", "s")] == 'qu"ote\\'
    assert rdflib_values[(sub + "2", "d")] == datetime.date(2021, 3, 25)
    assert rdflib_values[(sub + "1", "t")] == datetime.datetime(2021, 3, 15, 10, 20, 30)
    assert ox_values[(sub + "1", "f")].datatype.value == XSD + "double"
    assert ox_values[(sub + "1", "i")].datatype.value == XSD + "integer"
    # nulls give no triple (R2RML's NULL), nothing else is missing
    missing = {(sub + "2", "i"), (sub + "3", "f"), (sub + "3", "s"), (sub + "3", "d"),
               (sub + "3", "t")}
    expected = {(sub + str(r), c) for r in (1, 2, 3) for c in "ifbsdt"} - missing
    assert set(rdflib_values) == set(ox_values) == expected


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
_NASTY = st.lists(st.sampled_from(['"', "\\", "\n", "\r", "\t", ">", "<", "\x00", "\x07",
                                   "\x1f", "\x7f", "\u0085", "é", "水", "😀", "{", "}", "%",
                                   "/", "#", " ", "\\u0022", "^^", "@en"]), max_size=12
                  ).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.one_of(_TEXT, _NASTY), min_size=1, max_size=4, unique=True))
def test_export__any_string_round_trips_as_literal_and_in_iris(values):
    gdf = gpd.GeoDataFrame({"name": values}, geometry=[shapely.Point(1, 2)] * len(values),
                           crs=4326)
    text = generate_mapping(gdf, base_iri=BASE, name="odd").replace(
        f"{BASE}odd/id/{{gid}}", "http://example.org/unit/{name}")
    for fmt, oxfmt, rdfmt in (("nt", ox.RdfFormat.N_TRIPLES, "nt"),
                              ("ttl", ox.RdfFormat.TURTLE, "turtle")):
        rdf = to_rdf(gdf, mapping=text, format=fmt)
        names = {s.value: o.value for s, p, o in _triples(rdf, oxfmt)
                 if p.value == FLO + "has_name"}
        g = rdflib.Graph().parse(data=rdf, format=rdfmt)
        rdflib_names = {str(s): str(o) for s, p, o in g if str(p) == FLO + "has_name"}
        assert names == rdflib_names
        assert sorted(names.values()) == sorted(values)
        for iri, value in names.items():
            assert iri.startswith("http://example.org/unit/")
            assert unquote(iri[len("http://example.org/unit/"):]) == value
            ox.NamedNode(iri)                       # valid IRI for the strict parser


@settings(max_examples=30, deadline=None)
@given(coords=st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=1,
                       max_size=5))
def test_export__coordinates_come_back_bit_for_bit(coords):
    gdf = gpd.GeoDataFrame({"k": range(len(coords))},
                           geometry=[shapely.Point(x, y) for x, y in coords], crs=4326)
    rdf = to_rdf(gdf, name="p")
    wkts = [o for _, p, o in _triples(rdf) if p.value == GEO + "asWKT"]
    back = np.array([shapely.get_coordinates(_geom(w))[0] for w in wkts])
    np.testing.assert_array_equal(back, np.array(coords, dtype=float))


def test_write_rdf__deterministic_and_chunk_size_independent(tmp_path):
    gdf = _utm_layer(7)
    a = to_rdf(gdf, name="flood", chunk_size=1)
    b = to_rdf(gdf, name="flood", chunk_size=3)
    c = to_rdf(gdf, name="flood")
    assert a == b == c
    write_rdf(gdf, tmp_path / "1.nt", name="flood")
    write_rdf(gdf, tmp_path / "2.nt", name="flood")
    assert (tmp_path / "1.nt").read_bytes() == (tmp_path / "2.nt").read_bytes() == c.encode()


@pytest.mark.parametrize("suffix", [".shp", ".gpkg"])
def test_write_rdf__from_a_file_path_read_in_chunks(tmp_path, suffix):
    gdf = _utm_layer(6)
    gdf["name"] = [f"zone {i}" for i in range(6)]
    path = tmp_path / f"flood{suffix}"
    gdf.to_file(path)
    report = write_rdf(path, tmp_path / "out.nt", chunk_size=4)
    assert report.features == 6 and report.without_geometry == [] and report.repaired == []
    triples = _triples((tmp_path / "out.nt").read_text())
    names = {s.value: o.value for s, p, o in triples if p.value == FLO + "has_name"}
    assert names == {f"{BASE}flood/id/{i + 1}": f"zone {i}" for i in range(6)}
    wkts = {s.value: _geom(o) for s, p, o in triples if p.value == GEO + "asWKT"}
    truth = gdf.to_crs(4326).geometry
    for i in range(6):
        assert wkts[f"{BASE}flood/Geometry/{i + 1}"].equals(truth.iloc[i])


_WORKERS_SCRIPT = """
import json, sys, warnings
import geopandas as gpd, shapely
from eolab.errors import MappingError
from eolab.linked.export import iter_rdf, write_rdf
bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
geoms = [shapely.box(i, 0, i + 0.5, 0.5) for i in range(40)]
geoms[3], geoms[17], geoms[31] = bowtie, None, shapely.Polygon()
gdf = gpd.GeoDataFrame({"floodLevel": list(range(40))}, geometry=geoms, crs=4326)
out = {}
for workers in (1, 2):
    stream = iter_rdf(gdf, name="flood", chunk_size=6, workers=workers)
    out[f"forked{workers}"] = stream._forkable()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = "".join(stream)
    r = stream.report
    out[str(workers)] = [text, r.features, r.triples, r.repaired, r.without_geometry,
                         sorted(str(w.message)[:20] for w in caught)]
bad = gdf.astype({"floodLevel": float})
bad.loc[33, "floodLevel"] = 2.5
try:
    write_rdf(bad, sys.argv[1], chunk_size=6, workers=2, mapping=sys.argv[2])
except MappingError as exc:
    out["error"] = str(exc)
print(json.dumps(out))
"""


def test_write_rdf__worker_processes_give_the_same_bytes_and_report(tmp_path):
    """Forked workers (run in a fresh single-threaded process, where they are used)."""
    import json
    import subprocess
    import sys

    mapping = tmp_path / "m.ttl"
    mapping.write_text(generate_mapping(_utm_layer(2), base_iri=BASE, name="flood"))
    done = subprocess.run([sys.executable, "-c", _WORKERS_SCRIPT, str(tmp_path / "x.nt"),
                           str(mapping)], capture_output=True, text=True, timeout=120,
                          check=True)
    out = json.loads(done.stdout)
    assert out["forked1"] is False and out["forked2"] is True
    assert out["1"] == out["2"]
    text, features, triples, repaired, without, warned = out["2"]
    assert features == 40 and repaired == [4] and without == [18, 32] and len(warned) == 2
    assert triples == len(_triples(text))
    assert "feature 34" in out["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ttl"]      # nothing half-written


def test_write_rdf__turtle_is_the_same_graph(tmp_path):
    gdf = _utm_layer(3)
    nt = set(_triples(to_rdf(gdf, name="flood")))
    write_rdf(gdf, tmp_path / "flood.ttl", name="flood")
    text = (tmp_path / "flood.ttl").read_text()
    ttl = set(_triples(text, ox.RdfFormat.TURTLE))
    assert nt == ttl and len(nt) == 15
    assert "@prefix flo: <http://ai.di.uoa.gr/flood/ontology#> ." in text
    assert "flo:has_floodLevel" in text
    odd = generate_mapping(gdf, base_iri=BASE, name="flood").replace(
        "vocab:has_floodLevel", "<urn:x-level>").replace("rr:class vocab:flood;", "")
    assert set(_triples(to_rdf(gdf, mapping=odd, format="ttl"), ox.RdfFormat.TURTLE)) == set(
        _triples(to_rdf(gdf, mapping=odd)))


def test_write_rdf__crs84_works_with_native_geosparql(tmp_path):
    """Oxigraph's own geof:sfIntersects answers on CRS84 literals: same features as geopandas."""
    gdf = _utm_layer(5).to_crs(4326)
    probe = shapely.box(*gdf.geometry.iloc[1].bounds).union(
        shapely.box(*gdf.geometry.iloc[3].bounds)).buffer(0.0001)
    store = ox.Store()
    store.load(to_rdf(gdf, name="flood", crs84=True), format=ox.RdfFormat.N_TRIPLES)
    rows = store.query(f"""
        PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
        SELECT ?x WHERE {{ ?x geo:hasGeometry/geo:asWKT ?w .
          FILTER(geof:sfIntersects(?w, "{probe.wkt}"^^geo:wktLiteral)) }}""")
    found = sorted(int(r["x"].value.rsplit("/", 1)[1]) for r in rows)
    truth = sorted(int(i) + 1 for i in np.flatnonzero(gdf.intersects(probe)))
    assert found == truth == [2, 4]


def test_write_rdf__keeps_the_native_crs_when_asked():
    rdf = to_rdf(_utm_layer(1), name="flood", reproject=False, multi=False)
    wkt = next(o for _, p, o in _triples(rdf) if p.value == GEO + "asWKT")
    assert wkt.value.startswith("<http://www.opengis.net/def/crs/EPSG/0/32756> POLYGON ((")
    assert _geom(wkt).equals(_utm_layer(1).geometry.iloc[0])


def test_write_rdf__geotriples_naming_options():
    gdf = _utm_layer(1)
    r2rml = to_rdf(gdf, name="flood", style="geotriples")
    assert "<http://ai.di.uoa.gr/floodontology#has_floodLevel>" in r2rml
    rml = to_rdf(gdf, name="flood", style="geotriples", kind="rml")
    assert "<http://ai.di.uoa.gr/flood/ontology#hasFloodLevel>" in rml
    assert f"<{BASE}flood/id/1>" in rml


def test_write_rdf__invalid_geometries_repaired_and_reported(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    gdf = gpd.GeoDataFrame({"floodLevel": [4, 5, 6]},
                           geometry=[shapely.box(2, 2, 3, 3), bowtie, None], crs=4326)
    with pytest.warns(UserWarning) as caught:
        report = write_rdf(gdf, tmp_path / "f.nt", name="flood")
    messages = " ".join(str(w.message) for w in caught)
    assert "repaired" in messages and "no geometry" in messages
    assert report.repaired == [2] and report.without_geometry == [3] and report.features == 3
    assert not gdf.geometry.iloc[1].is_valid                       # the layer is not modified
    triples = _triples((tmp_path / "f.nt").read_text())
    wkts = {s.value: _geom(o) for s, p, o in triples if p.value == GEO + "asWKT"}
    fixed = wkts[BASE + "flood/Geometry/2"]
    assert fixed.is_valid and fixed.area == pytest.approx(0.5)     # two triangles of 0.25
    assert fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    levels = {s.value: o.value for s, p, o in triples if p.value == FLO + "has_floodLevel"}
    assert levels[BASE + "flood/id/3"] == "6"                      # kept, without geometry
    assert BASE + "flood/Geometry/3" not in {s.value for s, _, _ in triples}
    with pytest.raises(MappingError, match=r"\[2\]"):
        to_rdf(gdf, name="flood", invalid="raise")


def test_write_rdf__edited_mapping_is_applied(tmp_path):
    gdf = _utm_layer(2)
    text = generate_mapping(gdf, base_iri=BASE, name="flood").replace(
        "vocab:has_floodLevel", "<http://example.org/level>").replace(
        "xsd:integer", "xsd:decimal")
    (tmp_path / "m.ttl").write_text(text)
    for mapping in (text, tmp_path / "m.ttl", str(tmp_path / "m.ttl")):
        rdf = to_rdf(gdf, mapping=mapping)
        levels = [o for _, p, o in _triples(rdf) if p.value == "http://example.org/level"]
        assert [o.value for o in levels] == ["4", "5"]
        assert {o.datatype.value for o in levels} == {XSD + "decimal"}


def test_write_rdf__quotes_in_mapping_terms_are_data_not_code():
    """The N-Triples rows come from a generated comprehension: terms reach it as values."""
    gdf = _utm_layer(3)
    odd = "http://example.org/it's%7B0%7D'''x"
    text = generate_mapping(gdf, base_iri=BASE, name="flood").replace(
        "vocab:has_floodLevel", f"<{odd}/level>").replace("vocab:flood", f"<{odd}/Class>")
    triples = _triples(to_rdf(gdf, mapping=text))
    levels = sorted(int(o.value) for _, p, o in triples if p.value == odd + "/level")
    assert levels == [4, 5, 6]
    classes = [o.value for _, p, o in triples if p.value == RDF_TYPE and "Class" in o.value]
    assert classes == [odd + "/Class"] * 3


def test_write_rdf__mapping_that_does_not_fit_the_layer(tmp_path):
    gdf = _utm_layer(2)
    other = generate_mapping(gdf.rename(columns={"floodLevel": "depth"}), base_iri=BASE)
    with pytest.raises(MappingError, match="depth"):
        write_rdf(gdf, tmp_path / "x.nt", mapping=other)
    gdf["floodLevel"] = [4.0, 4.5]
    with pytest.raises(MappingError, match="feature 2"):
        write_rdf(gdf, tmp_path / "x.nt", mapping=generate_mapping(
            _utm_layer(2), base_iri=BASE))
    assert list(tmp_path.iterdir()) == []             # nothing half-written


def test_write_rdf__failure_midway_leaves_nothing(tmp_path):
    gdf = _utm_layer(30).astype({"floodLevel": float})
    gdf.loc[25, "floodLevel"] = 2.5                      # in the last chunk
    mapping = generate_mapping(_utm_layer(30), base_iri=BASE, name="flood")
    (tmp_path / "old.nt").write_text("previous")
    with pytest.raises(MappingError):
        write_rdf(gdf, tmp_path / "old.nt", mapping=mapping, chunk_size=10, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["old.nt"]
    assert (tmp_path / "old.nt").read_text() == "previous"


@pytest.mark.parametrize("case, error, message", [
    ("exists", OutputError, "already exists"),
    ("suffix", OutputError, "format"),
    ("folder", OutputError, "does not exist"),
    ("nocrs", CRSError, "no CRS"),
    ("format", OutputError, "format"),
    ("invalid", MappingError, "invalid"),
    ("chunk", MappingError, "chunk_size"),
    ("workers", MappingError, "workers"),
    ("nofile", MappingError, "not found"),
    ("crs84", CRSError, "crs84"),
    ("mapping", MappingError, "cannot read the mapping file"),
])
def test_write_rdf__bad_input(tmp_path, case, error, message):
    gdf, dest, kwargs = _utm_layer(1), tmp_path / "out.nt", {}
    if case == "exists":
        dest.write_text("keep")
    elif case == "suffix":
        dest = tmp_path / "out.rdf"
    elif case == "folder":
        dest = tmp_path / "missing" / "out.nt"
    elif case == "nocrs":
        gdf = gdf.set_crs(None, allow_override=True)
    elif case == "format":
        kwargs["format"] = "xml"
    elif case == "invalid":
        kwargs["invalid"] = "drop"
    elif case == "chunk":
        kwargs["chunk_size"] = 0
    elif case == "workers":
        kwargs["workers"] = 0
    elif case == "nofile":
        gdf = tmp_path / "none.shp"
    elif case == "crs84":
        kwargs.update(reproject=False, crs84=True)
    elif case == "mapping":
        kwargs["mapping"] = str(tmp_path / "mistyped.ttl")
    with pytest.raises(error, match=message):
        write_rdf(gdf, dest, name="flood", **kwargs)
    if case == "exists":
        assert dest.read_text() == "keep"
    assert [p for p in tmp_path.iterdir() if p.name != "out.nt"] == []


def test_write_rdf__lone_surrogate_is_refused(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["ok", "bad \ud800"]}, geometry=[shapely.Point(0, 0)] * 2,
                           crs=4326)
    with pytest.raises(MappingError, match="surrogate"):
        write_rdf(gdf, tmp_path / "s.nt")
    assert list(tmp_path.iterdir()) == []


def _peak_while_streaming(gdf, chunk_size):
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    total = 0
    for text in iter_rdf(gdf, name="flood", chunk_size=chunk_size):
        total += len(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, total


def test_iter_rdf__memory_is_bounded_by_the_chunk():
    rng = np.random.default_rng(0)
    centres = shapely.points(rng.uniform(150, 151, (8_000, 2)) * [1, -0.2])
    polys = shapely.buffer(centres, 0.001, quad_segs=2)
    small = gpd.GeoDataFrame({"floodLevel": np.full(2_000, 5)}, geometry=polys[:2_000], crs=4326)
    large = gpd.GeoDataFrame({"floodLevel": np.full(8_000, 5)}, geometry=polys, crs=4326)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        peak_small, total_small = _peak_while_streaming(small, 250)
        peak_large, total_large = _peak_while_streaming(large, 250)
    assert total_large > 3.9 * total_small
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)     # does not grow
    assert peak_large < total_large / 4, (peak_large, total_large)


def test_cli_helpers__geotriples_workflow(tmp_path):
    """generate_mapping -o mapping.ttl -b BASE flood.shp; dump_rdf -sh flood.shp mapping.ttl."""
    from eolab.linked.export import cli_dump_rdf
    from eolab.linked.mapping import cli_generate_mapping

    shp = tmp_path / "flood.shp"
    _utm_layer(3).to_file(shp)
    cli_generate_mapping(str(shp), output=str(tmp_path / "mapping.ttl"), base_iri=BASE)
    with pytest.raises(OutputError, match="exists"):
        cli_generate_mapping(str(shp), output=str(tmp_path / "mapping.ttl"), base_iri=BASE)
    report = cli_dump_rdf(str(tmp_path / "mapping.ttl"), output=str(tmp_path / "out.nt"),
                          base_iri=BASE, shapefile=str(shp))
    assert report.features == 3 and report.path == tmp_path / "out.nt"
    levels = sorted(int(o.value) for _, p, o in _triples((tmp_path / "out.nt").read_text())
                    if p.value == FLO + "has_floodLevel")
    assert levels == [4, 5, 6]
    mask = os.umask(0)
    os.umask(mask)
    for name in ("out.nt", "mapping.ttl"):          # not the 0600 of a temporary file
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
    rml = cli_generate_mapping(str(shp), output=None, base_iri=BASE, rml=True,
                               style="geotriples")
    assert "rml:logicalSource" in rml and "hasFloodLevel" in rml
