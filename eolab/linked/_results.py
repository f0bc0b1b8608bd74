"""SELECT results shared by both store back ends: terms, frames, CSV and SPARQL JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyoxigraph as ox
from shapely.geometry.base import BaseGeometry

from ..errors import QueryError
from ._geosparql import CRS84, WKT_LITERAL

Term = ox.NamedNode | ox.BlankNode | ox.Literal
XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGERS = {XSD + t for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger",
                               "positiveInteger", "negativeInteger", "nonPositiveInteger",
                               "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte")}
_FLOATS = {XSD + "double", XSD + "float", XSD + "decimal"}
_PLAIN = {XSD + "string", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"}


@dataclass
class SelectResult:
    """Rows of a SELECT query: ``variables`` (names without ``?``) and term tuples.

    An unbound value is ``None``. ``to_frame`` gives a pandas DataFrame,
    ``to_csv``/``to_json`` the SPARQL 1.1 CSV and JSON result formats.
    """

    variables: list[str]
    rows: list[tuple[Term | None, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self, *, typed: bool = True) -> pd.DataFrame:
        """One column per variable: numbers and booleans as Python values when ``typed``,
        everything else (IRIs, strings, WKT) as its lexical form; unbound as None."""
        convert = python_value if typed else lexical

        def value(term: Term | None) -> Any:
            return None if term is None else convert(term)

        data = {v: [value(r[k]) for r in self.rows] for k, v in enumerate(self.variables)}
        return pd.DataFrame(data, columns=self.variables)

    def to_csv(self) -> str:
        """SPARQL 1.1 Query Results CSV: header of variable names, plain lexical values."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.variables)
        for row in self.rows:
            writer.writerow(["" if t is None else lexical(t) for t in row])
        return buffer.getvalue()

    def to_json(self) -> str:
        """SPARQL 1.1 Query Results JSON."""
        bindings = [{v: term_json(t) for v, t in zip(self.variables, row) if t is not None}
                    for row in self.rows]
        return json.dumps({"head": {"vars": self.variables}, "results": {"bindings": bindings}},
                          ensure_ascii=False)


def lexical(term: Term) -> str:
    """IRI, ``_:label`` or a literal's lexical form."""
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    return str(term.value)


def python_value(term: Term) -> Any:
    """A Python number/bool for numeric and boolean literals, else the lexical form."""
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        try:
            if datatype in _INTEGERS:
                return int(term.value)
            if datatype in _FLOATS:
                return float(term.value)
        except ValueError:
            return term.value
        if datatype == XSD + "boolean":
            return term.value in ("true", "1")
    return lexical(term)


def term_json(term: Term) -> dict[str, str]:
    """One RDF term in the SPARQL 1.1 JSON results format."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value not in _PLAIN:
        out["datatype"] = term.datatype.value
    return out


def term_from_json(value: Mapping[str, str]) -> Term:
    """Inverse of :func:`term_json` (``typed-literal`` of SPARQL 1.0 accepted too)."""
    kind = value.get("type")
    if kind == "uri":
        return ox.NamedNode(value["value"])
    if kind == "bnode":
        return ox.BlankNode(value["value"])
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in value:
            return ox.Literal(value["value"], language=value["xml:lang"])
        if "datatype" in value:
            return ox.Literal(value["value"], datatype=ox.NamedNode(value["datatype"]))
        return ox.Literal(value["value"])
    raise QueryError(f"unknown term type in SPARQL JSON results: {kind!r}")


def to_term(value: object) -> Term:
    """An RDF term for a value bound into a query (never pasted into the text).

    pyoxigraph terms pass through; bool, int, float and str become xsd:boolean, xsd:integer,
    xsd:double and xsd:string literals; a shapely geometry becomes a CRS84 ``geo:wktLiteral``
    (coordinates longitude first). Use ``pyoxigraph.NamedNode(iri)`` for an IRI.
    """
    if isinstance(value, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        return value
    if isinstance(value, (bool, int, float, str)):
        return ox.Literal(value)
    if isinstance(value, BaseGeometry):
        return ox.Literal(f"<{CRS84}> {value.wkt}", datatype=ox.NamedNode(WKT_LITERAL))
    raise QueryError(f"cannot bind a {type(value).__name__} into a query: give a pyoxigraph "
                     "term, a bool, int, float, str or a shapely geometry")


def substitutions(bindings: Mapping[str, object] | None) -> dict[str, Term]:
    """Variable name (with or without ``?``) -> term, names checked."""
    out: dict[str, Term] = {}
    for name, value in (bindings or {}).items():
        bare = name[1:] if name[:1] in "?$" else name
        try:
            ox.Variable(bare)
        except ValueError as exc:
            raise QueryError(f"invalid SPARQL variable name {name!r}: {exc}") from exc
        out[bare] = to_term(value)
    return out
