"""Administrative units as RDF in the tutorial's GADM vocabulary (simulated and real ABS LGAs)."""

import geopandas as gpd
import numpy as np
import pyoxigraph as ox
import pytest
import shapely

from eolab.aoi import TUTORIAL_AOI_WKT
from eolab.errors import EolabError, MappingError, OutputError, ProductError
from eolab.linked.admin import cli_admin_units, iter_admin_rdf, write_admin_units
from eolab.samples import simulated_admin_units

GEO = "http://www.opengis.net/ont/geosparql#"
# The administrative-unit part of the tutorial's Query 2a, verbatim (no spatial filter).
UNITS_QUERY = """
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX gadmr: <http://www.app-lab.eu/gadm/>
PREFIX gadmo: <http://www.app-lab.eu/gadm/ontology/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT DISTINCT ?name ?wgeo WHERE {
  ?admP rdf:type gadmr:AdministrativeUnit. ?admP gadmo:hasName ?name.
  ?admP gadmo:hasNationalLevel "3rdOrder"^^<http://www.w3.org/2001/XMLSchema#string>.
  ?admP geo:hasGeometry ?admgeo. ?admgeo geo:asWKT ?wgeo }
"""
ABS_LGAS_IN_AOI = {"Blacktown", "Blue Mountains", "Cumberland", "Hawkesbury", "Parramatta",
                   "Penrith", "The Hills"}  # stated in realdata/abs_lga_2023_simplified/SOURCE.md


def _units(path, fmt=ox.RdfFormat.N_TRIPLES):
    store = ox.Store()
    store.load(path=str(path), format=fmt)
    out = {}
    for row in store.query(UNITS_QUERY):
        wkt = row["wgeo"].value
        assert wkt.startswith("<http://www.opengis.net/def/crs/EPSG/0/4326> MULTIPOLYGON")
        out[row["name"].value] = (row["name"].language, shapely.from_wkt(wkt.split("> ", 1)[1]))
    return out


def test_write_admin_units__simulated_units_answer_the_tutorial_pattern(tmp_path):
    sim = simulated_admin_units()
    report = write_admin_units(sim, tmp_path / "admin.nt")
    assert report.features == 9 and report.triples == 9 * 6
    units = _units(tmp_path / "admin.nt")
    assert set(units) == set(sim["name"])
    for _, row in sim.iterrows():
        language, geom = units[row["name"]]
        assert language == "en"
        assert geom.equals(row.geometry)


def test_write_admin_units__turtle_and_crs84(tmp_path):
    sim = simulated_admin_units()
    write_admin_units(sim, tmp_path / "admin.ttl", crs84=True, language="en-AU")
    store = ox.Store()
    store.load(path=str(tmp_path / "admin.ttl"), format=ox.RdfFormat.TURTLE)
    inside = sim.geometry.iloc[4].representative_point()
    rows = list(store.query(f"""
        PREFIX geo: <{GEO}> PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
        PREFIX gadmo: <http://www.app-lab.eu/gadm/ontology/>
        SELECT ?name WHERE {{ ?u gadmo:hasName ?name ; geo:hasGeometry/geo:asWKT ?w .
          FILTER(geof:sfContains(?w, "{inside.wkt}"^^geo:wktLiteral)) }}"""))
    truth = sim[sim.contains(inside)]["name"].tolist()
    assert [r["name"].value for r in rows] == truth == [sim["name"].iloc[4]]
    assert rows[0]["name"].language.lower() == "en-au"      # tags are case-insensitive


@pytest.mark.realdata
def test_write_admin_units__abs_lgas(realdata, tmp_path):
    path = realdata / "abs_lga_2023_simplified" / "LGA_2023_AUST_GDA94.json"
    report = write_admin_units(path, tmp_path / "lga.nt", name_field="LGA_NAME23",
                               code_field="LGA_CODE23", level="3rdOrder")
    raw = gpd.read_file(path)
    with_geometry = raw[raw.geometry.notna() & ~raw.geometry.is_empty]
    assert report.features == len(with_geometry) and report.without_geometry == []
    units = _units(tmp_path / "lga.nt")
    assert set(units) == set(with_geometry["LGA_NAME23"].str.strip())
    aoi = shapely.from_wkt(TUTORIAL_AOI_WKT)
    assert {n for n, (_, g) in units.items() if g.intersects(aoi)} == ABS_LGAS_IN_AOI
    hawkesbury = with_geometry[with_geometry["LGA_NAME23"] == "Hawkesbury"].geometry.iloc[0]
    assert units["Hawkesbury"][1].equals(shapely.make_valid(hawkesbury))
    text = (tmp_path / "lga.nt").read_text()
    assert "<http://www.app-lab.eu/gadm/unit/13800>" in text            # LGA code of Hawkesbury


@pytest.mark.realdata
def test_iter_admin_rdf__abs_topojson_detected(realdata):
    path = realdata / "abs_lga_2023_simplified" / "LGA_2023_NSW_GDA2020.json"
    with pytest.warns(UserWarning, match="declares no CRS"):
        text = "".join(iter_admin_rdf(path))            # ABS columns and level detected
    store = ox.Store()
    store.load(text, format=ox.RdfFormat.N_TRIPLES)
    names = {r["name"].value for r in store.query(UNITS_QUERY)}
    assert ABS_LGAS_IN_AOI <= names and len(names) > 100


def test_cli_admin_units(tmp_path):
    src = tmp_path / "units.gpkg"
    gdf = gpd.GeoDataFrame({"Gemeinde": ["Wien", "Graz"], "id": ["A1", "A2"]},
                           geometry=[shapely.box(16, 48, 16.5, 48.3),
                                     shapely.box(15, 47, 15.5, 47.2)],
                           crs=4326)
    gdf.to_file(src)
    cli_admin_units(str(src), output=str(tmp_path / "a.nt"), name_field="Gemeinde",
                    code_field="id", level="3rdOrder", language="de")
    units = _units(tmp_path / "a.nt")
    assert {k: v[0] for k, v in units.items()} == {"Wien": "de", "Graz": "de"}
    with pytest.raises(OutputError, match="exists"):
        cli_admin_units(str(src), output=str(tmp_path / "a.nt"), name_field="Gemeinde",
                        level="3rdOrder")


@pytest.mark.parametrize("case, error, message", [
    ("nolevel", MappingError, "level"),
    ("duplicate", MappingError, "unique"),
    ("language", MappingError, "language tag"),
    ("nofield", EolabError, "not in"),
    ("missing", ProductError, "not found"),
])
def test_write_admin_units__bad_input(tmp_path, case, error, message):
    gdf = gpd.GeoDataFrame({"unit": ["a", "b"], "c": ["1", "1"]},
                           geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326)
    kwargs = {"name_field": "unit", "level": "3rdOrder"}
    source = gdf
    if case == "nolevel":
        kwargs.pop("level")
    elif case == "duplicate":
        kwargs["code_field"] = "c"
    elif case == "language":
        kwargs["language"] = "english please"
    elif case == "nofield":
        kwargs["name_field"] = "nom"
    elif case == "missing":
        source = tmp_path / "none.gpkg"
    with pytest.raises(error, match=message):
        write_admin_units(source, tmp_path / "a.nt", **kwargs)
    assert list(tmp_path.iterdir()) == []


PREFIXES = """PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX flo: <http://ai.di.uoa.gr/flood/ontology#>
PREFIX gadmr: <http://www.app-lab.eu/gadm/>
PREFIX gadmo: <http://www.app-lab.eu/gadm/ontology/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""
# The tutorial's queries, character for character (split only to fit the line length).
QUERY_1 = PREFIXES + (
    "SELECT ?floodLevel (count(?x) as ?amountofareas) WHERE{ ?x flo:has_floodLevel ?floodLevel."
    " ?x geo:hasGeometry ?xgeo. ?xgeo geo:asWKT ?geo. } GROUP BY ?floodLevel"
    " ORDER BY DESC(?floodLevel)")
QUERY_2A = PREFIXES + (
    "SELECT DISTINCT ?name ?wgeo WHERE{ ?x flo:has_floodLevel ?floodLevel."
    " ?x geo:hasGeometry ?xgeo. ?xgeo geo:asWKT ?geo. ?admP rdf:type gadmr:AdministrativeUnit."
    " ?admP gadmo:hasName ?name. ?admP gadmo:hasNationalLevel"
    ' "3rdOrder"^^<http://www.w3.org/2001/XMLSchema#string>. ?admP geo:hasGeometry ?admgeo.'
    " ?admgeo geo:asWKT ?wgeo FILTER(geof:sfIntersects(?geo, ?wgeo)) }")


def test_tutorial_queries_run_unmodified_on_the_exported_layers(tmp_path):
    """Flood polygons + units written with crs84=True: Oxigraph's own GeoSPARQL answers the
    tutorial's Query 1 and 2a verbatim, with the counts and names geopandas gives."""
    from eolab.linked.export import write_rdf

    units = simulated_admin_units()
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = units.total_bounds
    centres = shapely.points(rng.uniform(x0, x0 + (x1 - x0) / 3, 12),
                             rng.uniform(y0, y1, 12))                  # the western units only
    flood = gpd.GeoDataFrame({"floodLevel": rng.integers(4, 8, 12).astype("int32")},
                             geometry=shapely.buffer(centres, 0.002), crs=4326)
    write_rdf(flood, tmp_path / "flood.nt", name="flood", crs84=True)
    write_admin_units(units, tmp_path / "admin.nt", crs84=True)
    store = ox.Store()
    for name in ("flood.nt", "admin.nt"):
        store.load(path=str(tmp_path / name), format=ox.RdfFormat.N_TRIPLES)
    counts = [(int(r["floodLevel"].value), int(r["amountofareas"].value))
              for r in store.query(QUERY_1)]
    truth = flood["floodLevel"].value_counts().sort_index(ascending=False)
    assert counts == list(zip(truth.index.tolist(), truth.tolist()))
    names = {r["name"].value for r in store.query(QUERY_2A)}
    joined = gpd.sjoin(units, flood, predicate="intersects")
    assert names == set(joined["name"]) and 0 < len(names) < len(units)
