"""The Turtle form of a :class:`~eolab.linked.mapping.Mapping`, both ways.

:func:`to_turtle` writes R2RML or RML as GeoTriples does (prefixes ``rr:``,
``rml:``, ``ql:``, ``rrx:``, ``rrxf:``, ``ogc:``, one triples map for the features
and one for their geometry); :func:`from_turtle` reads such a mapping back,
GeoTriples' own included (see :func:`eolab.linked.mapping.parse_mapping`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyoxigraph

from eolab.errors import MappingError
from eolab.linked._terms import (
    GEO,
    RDF,
    RDFS,
    XSD,
    check_language,
    escape_string,
    iri_safe,
    template_columns,
)
from eolab.linked.mapping import (
    GEOMETRY_FUNCTIONS,
    QL,
    RML,
    RR,
    RRX,
    RRXF,
    GeometryMap,
    Mapping,
    PropertyMap,
    _check_template,
)

__all__ = ["from_turtle", "to_turtle"]


def from_turtle(text: str, *, base_iri: str | None = None) -> Mapping:
    """The :class:`Mapping` of an R2RML/RML text (see :func:`~eolab.linked.mapping.parse_mapping`)."""
    if not isinstance(text, str) or not text.strip():
        raise MappingError("the mapping text is empty")
    try:
        quads = list(pyoxigraph.parse(text, format=pyoxigraph.RdfFormat.TURTLE,
                                      base_iri=base_iri))
    except (SyntaxError, ValueError) as exc:
        raise MappingError(f"the mapping is not valid Turtle: {exc} (relative IRIs such as "
                           "<ontology#> need base_iri=...)") from exc
    return _Reader(quads).mapping()


# --- writing -----------------------------------------------------------------------------

_MAP_NS = "urn:eolab:mapping#"
_PN_LOCAL = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")


def _namespace_of(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[:cut + 1]


class _Writer:
    def __init__(self, mapping: Mapping) -> None:
        self.m = mapping
        self.rml = mapping.kind == "rml"
        vocab = mapping.vocabulary or (_namespace_of(mapping.classes[0]) if mapping.classes
                                       else None)
        self.prefixes = [("rr", RR)] + ([("rml", RML), ("ql", QL)] if self.rml else []) + [
            ("rrx", RRX), ("rrxf", RRXF), ("ogc", GEO), ("xsd", XSD), ("rdfs", RDFS),
            ("map", _MAP_NS)] + ([("vocab", vocab)] if vocab else [])

    def term(self, iri: str) -> str:
        for prefix, ns in self.prefixes:
            if iri.startswith(ns) and _PN_LOCAL.match(iri[len(ns):]):
                return f"{prefix}:{iri[len(ns):]}"
        return f"<{iri}>"

    def source(self) -> str:
        table = f'"{escape_string(self.m.layer)}"'
        if not self.rml:
            return f"    rr:logicalTable [ rr:tableName {table} ];"
        src = f'"{escape_string(self.m.source or self.m.layer)}"'
        return (f"    rml:logicalSource [ rml:source {src}; rml:referenceFormulation ql:SHP; "
                f"rml:iterator {table} ];")

    def ref(self, column: str) -> str:
        return f'{"rml:reference" if self.rml else "rr:column"} "{escape_string(column)}"'

    def subject(self, template: str, classes: Sequence[str]) -> str:
        cls = "".join(f" rr:class {self.term(c)};" for c in classes)
        return f'    rr:subjectMap [{cls} rr:template "{escape_string(template)}" ];'

    def pom(self, predicate: str, object_map: str) -> str:
        return (f"    rr:predicateObjectMap [\n        rr:predicate {self.term(predicate)};\n"
                f"        rr:objectMap [ {object_map} ]\n    ];")

    def prop(self, p: PropertyMap) -> str:
        parts = [self.ref(p.column) if p.column else
                 f'rr:termType rr:Literal; rr:template "{escape_string(p.template or "")}"']
        if p.language:
            parts.append(f'rr:language "{p.language}"')
        elif p.datatype:
            parts.append(f"rr:datatype {self.term(p.datatype)}")
        return self.pom(p.predicate, "; ".join(parts))

    def function(self, predicate: str, name: str, column: str | None) -> str:
        datatype = GEOMETRY_FUNCTIONS[name] or GEO + "wktLiteral"
        return self.pom(predicate, f"rr:datatype {self.term(datatype)}; rrx:function rrxf:{name};"
                                   f" rrx:argumentMap ( [ {self.ref(column or 'geometry')} ] )")

    def text(self) -> str:
        m = self.m
        out = [f"@prefix {p}: <{ns}> ." for p, ns in self.prefixes] + [""]
        name = iri_safe(m.layer)
        geo_map = self.term(_MAP_NS + name + "_geometry")
        out += [f"{self.term(_MAP_NS + name)} a rr:TriplesMap;", self.source(),
                self.subject(m.subject_template, m.classes)]
        out += [self.prop(p) for p in m.properties]
        g = m.geometry
        if g is not None:
            row = (template_columns(g.template) or ["gid"])[0]
            join = f'rr:child "{escape_string(row)}"; rr:parent "{escape_string(row)}"'
            out.append(self.pom(g.link, f"rr:parentTriplesMap {geo_map}; "
                                        f"rr:joinCondition [ {join} ]"))
        out[-1] = out[-1][:-1] + "."
        if g is not None:
            out += ["", f"{geo_map} a rr:TriplesMap;", self.source(),
                    self.subject(g.template, g.classes),
                    self.function(g.wkt_predicate, "asWKT", g.column)]
            out += [self.function(p, f, g.column) for p, f in g.functions]
            out[-1] = out[-1][:-1] + "."
        return "\n".join(out) + "\n"


def to_turtle(mapping: Mapping) -> str:
    return _Writer(mapping).text()


# --- reading -----------------------------------------------------------------------------

Term = Any


class _Reader:
    def __init__(self, quads: list[Any]) -> None:
        self.index: dict[Term, list[tuple[str, Term]]] = defaultdict(list)
        for q in quads:
            self.index[q.subject].append((q.predicate.value, q.object))

    def all(self, node: Term, predicate: str) -> list[Term]:
        return [o for p, o in self.index.get(node, ()) if p == predicate]

    def one(self, node: Term, predicate: str) -> Term | None:
        found = self.all(node, predicate)
        if len(found) > 1:
            raise MappingError(f"{node} has {len(found)} values of <{predicate}>, expected one")
        return found[0] if found else None

    def text(self, node: Term, predicate: str) -> str | None:
        value = self.one(node, predicate)
        if value is None:
            return None
        if not isinstance(value, pyoxigraph.Literal):
            raise MappingError(f"<{predicate}> of {node} must be a string, got {value}")
        return value.value

    def iri(self, node: Term, predicate: str) -> str | None:
        value = self.one(node, predicate)
        if value is not None and not isinstance(value, pyoxigraph.NamedNode):
            raise MappingError(f"<{predicate}> of {node} must be an IRI, got {value}")
        return None if value is None else value.value

    def items(self, node: Term) -> list[Term]:
        out = []
        while node is not None and node != pyoxigraph.NamedNode(RDF + "nil"):
            first = self.one(node, RDF + "first")
            if first is None:
                break
            out.append(first)
            node = self.one(node, RDF + "rest")
        return out

    def column(self, node: Term) -> str | None:
        name = self.text(node, RR + "column") or self.text(node, RML + "reference")
        return None if name is None else _unquote(name)

    def predicates(self, pom: Term) -> list[str]:
        preds = [p.value for p in self.all(pom, RR + "predicate")]
        for pm in self.all(pom, RR + "predicateMap"):
            const = self.iri(pm, RR + "constant")
            if const is None:
                raise MappingError("only constant predicates (rr:predicate) are supported")
            preds.append(const)
        if not preds:
            raise MappingError(f"the predicate-object map {pom} has no rr:predicate")
        return preds

    def function_of(self, om: Term) -> tuple[str | None, Term | None]:
        """(function local name, argument map node) of a GeoTriples geometry object map."""
        fn, args = self.iri(om, RRX + "function"), self.one(om, RRX + "argumentMap")
        transformation = self.one(om, RR + "transformation")
        if fn is None and transformation is not None:
            fn = self.iri(transformation, RR + "function")
            args = self.one(transformation, RR + "argumentMap")
        if fn is None:
            return None, None
        return fn.rsplit("/", 1)[-1].rsplit("#", 1)[-1], args

    def source(self, tm: Term) -> tuple[str, str | None, str]:
        table = self.one(tm, RR + "logicalTable")
        if table is not None:
            name = self.text(table, RR + "tableName") or self.text(table, RR + "sqlQuery")
            return _unquote(name or "layer"), None, "r2rml"
        src = self.one(tm, RML + "logicalSource")
        if src is None:
            raise MappingError(f"the triples map {tm} has no rr:logicalTable or "
                               "rml:logicalSource")
        path = self.text(src, RML + "source")
        it = self.text(src, RML + "iterator")
        return (it or Path(path or "layer").stem), path, "rml"

    def subject(self, tm: Term) -> tuple[str, tuple[str, ...]]:
        sm = self.one(tm, RR + "subjectMap")
        template = self.text(sm, RR + "template") if sm is not None else None
        if template is None:
            raise MappingError(f"the triples map {tm} needs a rr:subjectMap with rr:template")
        _check_template(template)
        classes = tuple(c.value for c in self.all(sm, RR + "class"))
        return template, classes

    def mapping(self) -> Mapping:
        maps = [s for s, pos in self.index.items() if any(p == RR + "subjectMap" for p, _ in pos)]
        if not maps:
            raise MappingError("no triples map (rr:subjectMap) found: is this an R2RML/RML "
                               "mapping?")
        parents = {o for tm in maps for pom in self.all(tm, RR + "predicateObjectMap")
                   for om in self.all(pom, RR + "objectMap")
                   for o in self.all(om, RR + "parentTriplesMap")}
        geo_maps = [tm for tm in maps if tm in parents
                    or GEO + "Geometry" in self.subject(tm)[1]]
        features = [tm for tm in maps if tm not in geo_maps]
        if len(features) != 1 or len(geo_maps) > 1:
            raise MappingError(f"expected one triples map for the features and at most one for "
                               f"their geometry, found {len(features)} and {len(geo_maps)}; "
                               "write one mapping per layer")
        tm = features[0]
        layer, source, kind = self.source(tm)
        template, classes = self.subject(tm)
        props: list[PropertyMap] = []
        link = None
        for pom in self.all(tm, RR + "predicateObjectMap"):
            preds = self.predicates(pom)
            for om in self.all(pom, RR + "objectMap"):
                if self.one(om, RR + "parentTriplesMap") is not None:
                    link = preds[0]
                    continue
                props += [self.prop(om, p) for p in preds]
        geometry = self.geometry(geo_maps[0], link or GEO + "hasGeometry") if geo_maps else None
        return Mapping(layer=layer, subject_template=template, classes=classes,
                       properties=tuple(props), geometry=geometry, kind=kind, source=source)

    def prop(self, om: Term, predicate: str) -> PropertyMap:
        term_type = self.iri(om, RR + "termType")
        column, template = self.column(om), self.text(om, RR + "template")
        language = self.text(om, RR + "language")
        datatype = self.iri(om, RR + "datatype")
        if self.function_of(om)[0] is not None:
            raise MappingError(f"functions are only supported in the geometry map (<{predicate}>)")
        if term_type not in (None, RR + "Literal") or (template is not None
                                                       and term_type is None):
            raise MappingError(f"<{predicate}>: only literal objects are supported (rr:column/"
                               "rml:reference, or rr:template with rr:termType rr:Literal)")
        if (column is None) == (template is None):
            raise MappingError(f"<{predicate}> needs exactly one of rr:column (rml:reference) "
                               "and rr:template")
        if language is not None:
            check_language(language)
            datatype = None
        elif datatype is None:
            datatype = XSD + "string"
        return PropertyMap(predicate, column=column, template=template, datatype=datatype,
                           language=language)

    def geometry(self, tm: Term, link: str) -> GeometryMap:
        template, classes = self.subject(tm)
        wkt: str | None = None
        column: str | None = None
        functions: list[tuple[str, str]] = []
        for pom in self.all(tm, RR + "predicateObjectMap"):
            preds = self.predicates(pom)
            for om in self.all(pom, RR + "objectMap"):
                name, args = self.function_of(om)
                if name is None and self.iri(om, RR + "datatype") == GEO + "wktLiteral":
                    name, args = "asWKT", None
                if name is None:
                    if self.text(om, RR + "template") is not None:
                        continue        # a label ("layer_geometry #{gid}"): not needed
                    raise MappingError(f"<{preds[0]}> in the geometry map must be a GeoTriples "
                                       "function (rrxf:asWKT, isSimple, ...)")
                if name not in GEOMETRY_FUNCTIONS:
                    raise MappingError(f"geometry function {name!r} is not supported (supported:"
                                       f" {sorted(GEOMETRY_FUNCTIONS)}); remove that "
                                       "predicate-object map")
                arg_items = self.items(args) if args is not None else []
                column = column or next((c for a in arg_items if (c := self.column(a))),
                                        None) or self.column(om)
                for p in preds:
                    if name == "asWKT" and wkt is None:
                        wkt = p
                    else:
                        functions.append((p, name))
        if wkt is None:
            raise MappingError("the geometry map has no asWKT predicate-object map")
        return GeometryMap(template=template, column=column, classes=classes, link=link,
                           wkt_predicate=wkt, functions=tuple(functions))


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "`\"'":
        return name[1:-1]
    return name
