"""R2RML/RML mappings: structure of the generated Turtle (read with rdflib), parsing, errors."""

import datetime

import geopandas as gpd
import pandas as pd
import pytest
import rdflib
import shapely

from eolab.errors import MappingError
from eolab.linked.mapping import (
    GeometryMap,
    Mapping,
    PropertyMap,
    generate_mapping,
    mapping_for,
    parse_mapping,
    read_mapping,
)

BASE = "http://ai.di.uoa.gr/flood/"
XSD = "http://www.w3.org/2001/XMLSchema#"
GEO = "http://www.opengis.net/ont/geosparql#"
RR = rdflib.Namespace("http://www.w3.org/ns/r2rml#")
RML = rdflib.Namespace("http://semweb.mmlab.be/ns/rml#")


@pytest.fixture()
def layer():
    return gpd.GeoDataFrame(
        {"floodLevel": [4, 7], "name": ["a", "b"], "area": [1.5, 2.0], "wet": [True, False],
         "day": pd.to_datetime(["2021-03-15", "2021-03-25"])},
        geometry=[shapely.box(150.7, -33.6, 150.8, -33.5), shapely.box(150.8, -33.6, 150.9, -33.5)],
        crs=4326)


def _graph(text):
    return rdflib.Graph().parse(data=text, format="turtle")


def _attributes(g, kind="r2rml"):
    """predicate IRI -> (column, datatype) read with SPARQL from the mapping graph."""
    ref = "rr:column" if kind == "r2rml" else "rml:reference"
    rows = g.query(f"""
        PREFIX rr: <http://www.w3.org/ns/r2rml#> PREFIX rml: <http://semweb.mmlab.be/ns/rml#>
        SELECT ?p ?col ?dt WHERE {{ ?tm rr:predicateObjectMap ?pom . ?pom rr:predicate ?p .
            ?pom rr:objectMap ?om . ?om {ref} ?col . ?om rr:datatype ?dt }}""")
    return {str(p): (str(c), str(d)) for p, c, d in rows}


def test_generate_mapping__tutorial_naming_structure(layer):
    g = _graph(generate_mapping(layer, base_iri=BASE, name="flood"))
    voc = BASE + "ontology#"
    assert _attributes(g) == {
        voc + "has_floodLevel": ("floodLevel", XSD + "integer"),
        voc + "has_name": ("name", XSD + "string"),
        voc + "has_area": ("area", XSD + "double"),
        voc + "has_wet": ("wet", XSD + "boolean"),
        voc + "has_day": ("day", XSD + "date"),          # all at midnight
    }
    rows = list(g.query("""
        PREFIX rr: <http://www.w3.org/ns/r2rml#>
        PREFIX rrx: <http://www.w3.org/ns/r2rml-ext#>
        SELECT ?cls ?tpl ?gcls ?gtpl ?wktdt ?link WHERE {
          ?tm rr:subjectMap [ rr:class ?cls; rr:template ?tpl ] ;
              rr:logicalTable [ rr:tableName "flood" ] ;
              rr:predicateObjectMap [ rr:predicate ?link;
                                      rr:objectMap [ rr:parentTriplesMap ?gm ] ] .
          ?gm rr:subjectMap [ rr:class ?gcls; rr:template ?gtpl ] ;
              rr:predicateObjectMap [ rr:predicate <http://www.opengis.net/ont/geosparql#asWKT> ;
                                      rr:objectMap [ rr:datatype ?wktdt ] ] . }"""))
    assert len(rows) == 1
    cls, tpl, gcls, gtpl, wktdt, link = map(str, rows[0])
    assert cls == voc + "flood" and tpl == BASE + "flood/id/{gid}"
    assert gcls == GEO + "Geometry" and gtpl == BASE + "flood/Geometry/{gid}"
    assert wktdt == GEO + "wktLiteral" and link == GEO + "hasGeometry"


def test_generate_mapping__geotriples_r2rml_strips_the_slash(layer):
    g = _graph(generate_mapping(layer, base_iri=BASE, name="flood", style="geotriples"))
    assert "http://ai.di.uoa.gr/floodontology#has_floodLevel" in _attributes(g)
    assert (None, RR["class"], rdflib.URIRef("http://ai.di.uoa.gr/floodontology#flood")) in g


def test_generate_mapping__geotriples_rml(layer, tmp_path):
    path = tmp_path / "flood.shp"
    layer[["floodLevel", "name", "geometry"]].to_file(path)
    text = generate_mapping(path, base_iri="http://ai.di.uoa.gr/flood", kind="rml",
                            style="geotriples")
    g = _graph(text)
    attrs = _attributes(g, "rml")
    assert attrs["http://ai.di.uoa.gr/flood/ontology#hasFloodLevel"] == ("floodLevel",
                                                                         XSD + "integer")
    assert attrs["http://ai.di.uoa.gr/flood/ontology#hasName"] == ("name", XSD + "string")
    assert (None, RML.source, rdflib.Literal(str(path))) in g
    assert (None, RR.template, rdflib.Literal(BASE + "flood/id/{GeoTriplesID}")) in g
    assert (None, RR.template, rdflib.Literal(BASE + "flood/Geometry/{GeoTriplesID}")) in g


def test_generate_mapping__columns_and_geometry_properties(layer):
    m = mapping_for(layer, base_iri=BASE, name="flood", columns=["name"],
                    geometry_properties=True)
    assert [p.column for p in m.properties] == ["name"]
    assert {f for _, f in m.geometry.functions} == {"isSimple", "isEmpty", "is3D",
                                                     "spatialDimension", "dimension",
                                                     "coordinateDimension"}


@pytest.mark.parametrize("kind", ["r2rml", "rml"])
@pytest.mark.parametrize("style", ["tutorial", "geotriples"])
def test_parse_mapping__reads_back_what_was_generated(layer, kind, style):
    m = mapping_for(layer, base_iri=BASE, name="flood", kind=kind, style=style,
                    geometry_properties=True)
    back = parse_mapping(m.to_turtle())
    assert back == m


def test_parse_mapping__edited_text(layer, tmp_path):
    text = generate_mapping(layer, base_iri=BASE, name="flood", columns=["floodLevel", "name"])
    text = text.replace("vocab:has_floodLevel", "<http://example.org/level>")
    text = text.replace('rr:column "name"; rr:datatype xsd:string', 'rr:column "name"; '
                        'rr:language "de-AT"')
    text = text.replace("rr:class vocab:flood;", "rr:class vocab:flood; rr:class "
                        "<http://example.org/Flooded>;")
    (tmp_path / "m.ttl").write_text(text)
    m = read_mapping(tmp_path / "m.ttl")
    assert m.classes == (BASE + "ontology#flood", "http://example.org/Flooded")
    assert m.properties[0] == PropertyMap("http://example.org/level", column="floodLevel",
                                          datatype=XSD + "integer")
    assert m.properties[1].language == "de-AT" and m.properties[1].datatype is None


GEOTRIPLES_STYLE = """@prefix map: <#>.
@prefix ogc: <http://www.opengis.net/ont/geosparql#>.
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#>.
@prefix rr: <http://www.w3.org/ns/r2rml#>.
@prefix rrx: <http://www.w3.org/ns/r2rml-ext#>.
@prefix rrxf: <http://www.w3.org/ns/r2rml-ext/functions/def/>.
@prefix vocab: <ontology#>.
@prefix xsd: <http://www.w3.org/2001/XMLSchema#>.

map:flood_geometry
    rr:logicalTable [ rr:tableName "`flood`"; ];
    rr:subjectMap [ rr:class ogc:Geometry;
        rr:template "http://ai.di.uoa.gr/flood/flood/Geometry/{`gid`}"; ];
    rr:predicateObjectMap [ rr:predicate rdfs:label; rr:objectMap [ rr:termType rr:Literal;
        rr:template "flood_geometry #{`gid`}"; ]; ];
    rr:predicateObjectMap [ rr:predicate ogc:dimension; rr:objectMap [ rr:datatype xsd:integer;
        rrx:function rrxf:dimension; rrx:argumentMap ( [ rr:column "`the_geom`"; ] ) ]; ];
    rr:predicateObjectMap [ rr:predicate ogc:asWKT; rr:objectMap [ rr:datatype ogc:wktLiteral;
        rrx:function rrxf:asWKT; rrx:argumentMap ( [ rr:column "`the_geom`"; ] ) ]; ];
    .
map:flood
    rr:logicalTable [ rr:tableName "`flood`"; ];
    rr:subjectMap [ rr:class vocab:flood;
        rr:template "http://ai.di.uoa.gr/flood/flood/id/{`gid`}"; ];
    rr:predicateObjectMap [ rr:predicate vocab:has_floodLevel; rr:objectMap [
        rr:datatype xsd:integer; rr:column "`floodLevel`"; ]; ];
    rr:predicateObjectMap [ rr:predicate rdfs:label; rr:objectMap [ rr:termType rr:Literal;
        rr:template "flood #{`gid`}"; ]; ];
    rr:predicateObjectMap [ rr:predicate ogc:hasGeometry; rr:objectMap [
        rr:parentTriplesMap map:flood_geometry;
        rr:joinCondition [ rr:child "gid"; rr:parent "gid"; ]; ]; ];
    .
"""


def test_parse_mapping__geotriples_own_style():
    """Backquoted columns; relative prefixes resolve against base_iri (RFC 3986)."""
    m = parse_mapping(GEOTRIPLES_STYLE, base_iri=BASE)
    assert m.layer == "flood" and m.kind == "r2rml"
    assert m.classes == (BASE + "ontology#flood",)
    assert m.subject_template == BASE + "flood/id/{`gid`}"
    assert m.columns() == ["floodLevel"]
    level, label = m.properties
    assert (level.predicate, level.column, level.datatype) == (
        BASE + "ontology#has_floodLevel", "floodLevel", XSD + "integer")
    assert label.template == "flood #{`gid`}"
    assert m.geometry.column == "the_geom" and m.geometry.wkt_predicate == GEO + "asWKT"
    assert m.geometry.functions == ((GEO + "dimension", "dimension"),)


_GOOD = generate_mapping(
    gpd.GeoDataFrame({"v": [1]}, geometry=[shapely.Point(0, 0)], crs=4326),
    base_iri=BASE, name="flood")


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("this is not turtle", "not valid Turtle"),
    ("@prefix rr: <http://www.w3.org/ns/r2rml#> . <http://x/a> rr:logicalTable [] .",
     "no triples map"),
    (_GOOD.replace('rr:column "v"; ', ""), "exactly one of"),
    (_GOOD.replace("rrxf:asWKT", "rrxf:asGML"), "asGML"),
    (_GOOD.replace("flood/id/{gid}", "flood/id/{gid"), "template"),
    (_GOOD.replace("flood/id/{gid}", "flood id/{gid}"), "not a valid absolute IRI"),
    (_GOOD.replace('rr:column "v"; rr:datatype xsd:integer',
                   'rr:column "v"; rr:termType rr:IRI'), "only literal objects"),
    (_GOOD.replace('rr:column "v"; rr:datatype xsd:integer',
                   'rr:column "v"; rr:language "not a tag"'), "language tag"),
    (_GOOD + _GOOD.replace("map:flood ", "map:other ").replace("map:flood;", "map:other;")
     .replace("map:flood_geometry", "map:other_geometry").split("\n\n", 1)[1],
     "one mapping per layer"),
])
def test_parse_mapping__malformed_is_refused(text, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(text)


def test_parse_mapping__without_geometry_map():
    text = _GOOD.split("\n\nmap:flood_geometry")[0]
    text = text.rsplit("    rr:predicateObjectMap [\n        rr:predicate ogc:hasGeometry", 1)[0]
    text = text.rstrip().rstrip(";") + " .\n"
    m = parse_mapping(text)
    assert m.geometry is None and [p.column for p in m.properties] == ["v"]


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "xml"}, "kind"),
    ({"style": "strabon"}, "style"),
    ({"base_iri": "not an iri"}, "base IRI"),
    ({"columns": ["nope"]}, "nope"),
])
def test_generate_mapping__bad_options(layer, kwargs, message):
    options = {"base_iri": BASE, "name": "flood", **kwargs}
    with pytest.raises(MappingError, match=message):
        generate_mapping(layer, **options)


def test_generate_mapping__missing_file(tmp_path):
    with pytest.raises(MappingError, match="not found"):
        generate_mapping(tmp_path / "none.shp", base_iri=BASE)


def test_mapping__odd_layer_and_field_names_stay_valid_iris():
    gdf = gpd.GeoDataFrame({"water level (m)": [1.0], "naïve": ["x"]},
                           geometry=[shapely.Point(0, 0)], crs=4326)
    m = mapping_for(gdf, base_iri=BASE, name="my flood/2021")
    assert m.subject_template == BASE + "my%20flood%2F2021/id/{gid}"
    assert m.properties[0].predicate == BASE + "ontology#has_water%20level%20%28m%29"
    assert m.properties[1].predicate == BASE + "ontology#has_na%C3%AFve"
    assert parse_mapping(m.to_turtle()) == m


def test_mapping__object_date_column_is_xsd_date():
    gdf = gpd.GeoDataFrame({"d": [datetime.date(2021, 3, 15)]}, geometry=[shapely.Point(0, 0)],
                           crs=4326)
    assert mapping_for(gdf, base_iri=BASE).properties[0].datatype == XSD + "date"


def test_mapping_dataclass_is_usable_directly():
    m = Mapping(layer="x", subject_template="http://e.org/x/{gid}", classes=(),
                properties=(), geometry=GeometryMap("http://e.org/g/{gid}"))
    assert m.columns() == [] and parse_mapping(m.to_turtle()) == m
