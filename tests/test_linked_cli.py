"""The GeoTriples/Strabon-style commands end to end, against geopandas."""

from __future__ import annotations

import csv
import io
import json

import geopandas as gpd
import numpy as np
import shapely

from eolab.cli import main
from eolab.linked import QUERY_1, QUERY_2A


def _layers(tmp_path):
    rng = np.random.default_rng(5)
    polys, levels = [], []
    for _ in range(40):
        x, y = 150.63 + rng.random() * 0.3, -33.79 + rng.random() * 0.28
        polys.append(shapely.box(x, y, x + 0.004, y + 0.003))
        levels.append(int(rng.integers(4, 9)))
    flood = gpd.GeoDataFrame({"floodLevel": levels}, geometry=polys, crs="EPSG:4326")
    flood.to_file(tmp_path / "flood_mask.shp")
    units = gpd.GeoDataFrame(
        {"name": ["Hawkesbury", "Penrith", "Blacktown", "Far away"]},
        geometry=[shapely.box(150.60, -33.65, 150.80, -33.48), shapely.box(150.60, -33.80,
                  150.80, -33.65), shapely.box(150.80, -33.80, 150.96, -33.48),
                  shapely.box(151.5, -34.0, 151.6, -33.9)], crs="EPSG:4326")
    units.to_file(tmp_path / "units.gpkg", layer="units")
    return flood, units


def test_geotriples_admin_store_commands_answer_the_tutorials_queries(tmp_path, capsys):
    flood, units = _layers(tmp_path)
    base = "http://ai.di.uoa.gr/flood/"
    assert main(["geotriples", "generate_mapping", "-o", str(tmp_path / "mapping.ttl"), "-b",
                 base, str(tmp_path / "flood_mask.shp")]) == 0
    assert "has_floodLevel" in (tmp_path / "mapping.ttl").read_text()
    assert main(["geotriples", "dump_rdf", "-o", str(tmp_path / "flood.nt"), "-b", base, "-sh",
                 str(tmp_path / "flood_mask.shp"), str(tmp_path / "mapping.ttl")]) == 0
    nt = (tmp_path / "flood.nt").read_text()
    assert "<http://ai.di.uoa.gr/flood/ontology#has_floodLevel>" in nt
    assert "<http://www.opengis.net/def/crs/EPSG/0/4326> MULTIPOLYGON" in nt
    assert main(["admin-units", "-i", str(tmp_path / "units.gpkg"), "--name-field", "name",
                 "--level", "3rdOrder", "-o", str(tmp_path / "admin.nt")]) == 0
    db = str(tmp_path / "db")
    assert main(["store", "load", "--db", db, str(tmp_path / "flood.nt")]) == 0
    assert main(["store", "load", "--db", db, str(tmp_path / "admin.nt")]) == 0
    assert main(["store", "load", "--db", db, str(tmp_path / "flood.nt")]) == 0  # replaces
    (tmp_path / "q1.rq").write_text(QUERY_1)
    (tmp_path / "q2a.rq").write_text(QUERY_2A)
    capsys.readouterr()
    assert main(["store", "query", "--db", db, str(tmp_path / "q1.rq")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    got = {int(r["floodLevel"]): int(r["amountofareas"]) for r in rows}
    assert got == flood["floodLevel"].value_counts().to_dict()  # nothing doubled by reloading
    out = tmp_path / "q2a.json"
    assert main(["store", "query", "--db", db, str(tmp_path / "q2a.rq"), "--format", "json",
                 "-o", str(out)]) == 0
    names = {b["name"]["value"] for b in json.loads(out.read_text())["results"]["bindings"]}
    expected = set(gpd.sjoin(units, flood, predicate="intersects")["name"])
    assert names == expected and "Far away" not in names
    assert main(["store", "query", "--db", db, str(tmp_path / "q2a.rq"), "--format",
                 "geojson", "-o", str(tmp_path / "q2a.geojson")]) == 0
    assert len(gpd.read_file(tmp_path / "q2a.geojson")) == len(expected)
    capsys.readouterr()
    assert main(["store", "query", "--db", db, str(tmp_path / "missing.rq")]) == 1
    assert "not found" in capsys.readouterr().err
