"""RDF terms as N-Triples text: IRIs, escaped literals, WKT literals (shared helpers).

The exporters write RDF by plain string formatting (no rdflib graph), so the
escaping rules live here, in one place, and are tested against two parsers
(pyoxigraph, rdflib):

* literals follow the N-Triples ``STRING_LITERAL_QUOTE`` rule: ``"`` and
  ``\\`` are escaped, newline, carriage return and tab become ``\\n``,
  ``\\r``, ``\\t``, every other control character (U+0000–U+001F, U+007F)
  becomes ``\\u00XX`` (as pyoxigraph writes them). ``\\u`` is never used for
  a quote: rdflib expands ``\\u0022`` before parsing SPARQL.
* values placed in IRIs (template placeholders such as ``{gid}`` or
  ``{name}``) are made *IRI-safe* as R2RML prescribes (§7.3): every
  character but ASCII letters, digits and ``-._~`` is percent-encoded as
  UTF-8 (non-ASCII too, see :func:`iri_safe`);
  whole IRIs are checked with pyoxigraph's ``NamedNode`` (which refuses
  spaces, ``<>"{}|^`\\``, control characters and relative IRIs).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyoxigraph

from eolab.errors import MappingError

__all__ = [
    "CRS84",
    "EPSG_CRS",
    "GADMO",
    "GADMR",
    "GEO",
    "GEOF",
    "RDF",
    "RDFS",
    "RDF_TYPE",
    "SF",
    "XSD",
    "check_iri",
    "check_language",
    "epsg_iri",
    "escape_string",
    "fill_template",
    "iri_safe",
    "lang_literal",
    "lexical",
    "nt_iri",
    "template_columns",
    "typed_literal",
    "wkt_literal",
]

GEO = "http://www.opengis.net/ont/geosparql#"
GEOF = "http://www.opengis.net/def/function/geosparql/"
SF = "http://www.opengis.net/ont/sf#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
RDF_TYPE = RDF + "type"
GADMR = "http://www.app-lab.eu/gadm/"
GADMO = "http://www.app-lab.eu/gadm/ontology/"
EPSG_CRS = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

_ESCAPES = {i: f"\\u{i:04X}" for i in (*range(0x20), 0x7F)}
_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f]')
_SURROGATE = re.compile("[\ud800-\udfff]")
_SAFE_ASCII = re.compile(r"[A-Za-z0-9\-._~]*\Z")
_PLACEHOLDER = re.compile(r"(?<!\\)\{([^{}]*)\}")
_LANG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*\Z")


def epsg_iri(code: int | str) -> str:
    """The OGC IRI of an EPSG CRS: ``http://www.opengis.net/def/crs/EPSG/0/<code>``."""
    return f"{EPSG_CRS}{int(code)}"


def escape_string(text: str) -> str:
    """``text`` escaped for the inside of an N-Triples/Turtle ``"..."`` literal."""
    if _SURROGATE.search(text):
        raise MappingError(f"the value {text!r} holds a lone surrogate code point, which "
                           "UTF-8 RDF cannot carry; clean the attribute first")
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return text.translate(_ESCAPES)


def iri_safe(value: Any) -> str:
    """``value`` (as text) percent-encoded for use inside an IRI, like R2RML's IRI-safe form.

    ASCII letters, digits and ``-._~`` are kept; everything else (``/``,
    ``#``, spaces, ``%``, and every non-ASCII character, as UTF-8 bytes)
    becomes ``%XX``, so distinct values give distinct IRIs and
    :func:`urllib.parse.unquote` gives the value back. R2RML keeps non-ASCII
    ``ucschar`` characters; they are encoded here too because some parsers
    (rdflib's N-Triples reader) refuse Unicode spaces such as U+00A0 in IRIs.
    """
    text = value if isinstance(value, str) else str(value)
    if _SAFE_ASCII.match(text):
        return text
    if _SURROGATE.search(text):
        raise MappingError(f"the value {text!r} holds a lone surrogate code point and cannot "
                           "be part of an IRI")
    return quote(text, safe="-._~")


def check_iri(iri: str, *, what: str = "IRI") -> str:
    """``iri`` if it is an absolute IRI that N-Triples can carry, else :class:`MappingError`."""
    try:
        pyoxigraph.NamedNode(iri)
    except (ValueError, TypeError) as exc:
        raise MappingError(f"{what} {iri!r} is not a valid absolute IRI ({exc}); use an "
                           "http(s) IRI without spaces or any of <>\"{}|^`\\") from exc
    return iri


def nt_iri(iri: str) -> str:
    """``<iri>`` (``iri`` already checked)."""
    return f"<{iri}>"


def typed_literal(lexical_form: str, datatype: str) -> str:
    """``"lexical"^^<datatype>`` with the lexical form escaped."""
    return f'"{escape_string(lexical_form)}"^^<{datatype}>'


def check_language(tag: str) -> str:
    """``tag`` if it is a well-formed BCP 47 language tag (``en``, ``de-AT``), else an error."""
    if not isinstance(tag, str) or not _LANG.match(tag):
        raise MappingError(f"{tag!r} is not a language tag; use one such as 'en' or 'de-AT'")
    return tag


def lang_literal(text: str, language: str) -> str:
    """``"text"@language`` with the text escaped (``language`` already checked)."""
    return f'"{escape_string(text)}"@{language}'


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        result = pd.isna(value)              # NaN, NaT, pandas.NA
    except (TypeError, ValueError):
        return False
    return bool(result) if isinstance(result, (bool, np.bool_)) else False


def _double(value: Any) -> str:
    number = float(value)
    if math.isinf(number):
        return "INF" if number > 0 else "-INF"
    return repr(number)


def _integer(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return str(int(number))


def _boolean(value: Any) -> str:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in {"true", "1"}:
            return "true"
        if low in {"false", "0"}:
            return "false"
        raise ValueError(f"{value!r} is not a boolean")
    return "true" if bool(value) else "false"


def _date(value: Any) -> str:
    if hasattr(value, "date") and callable(value.date):
        value = value.date()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return _dt.date.fromisoformat(str(value)).isoformat()


def _datetime(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


_LEXICAL = {
    XSD + "integer": _integer, XSD + "long": _integer, XSD + "int": _integer,
    XSD + "short": _integer, XSD + "byte": _integer,
    XSD + "nonNegativeInteger": _integer, XSD + "unsignedInt": _integer,
    XSD + "double": _double, XSD + "float": _double,
    XSD + "decimal": lambda v: str(v),
    XSD + "boolean": _boolean,
    XSD + "date": _date, XSD + "dateTime": _datetime, XSD + "datetime": _datetime,
}


def lexical(value: Any, datatype: str | None) -> str | None:
    """The lexical form of ``value`` for ``datatype``; ``None`` for a null value.

    Null values (``None``, NaN, NaT, ``pandas.NA``) give no triple, as NULL
    does in R2RML. Raises ``ValueError`` when ``value`` does not fit the
    datatype (e.g. 2.5 as ``xsd:integer``).
    """
    if _is_null(value):
        return None
    convert = _LEXICAL.get(datatype or "")
    if convert is None:
        return value if isinstance(value, str) else str(value)
    return convert(value)


def wkt_literal(wkt: str, crs_iri: str | None) -> str:
    """A ``geo:wktLiteral`` in N-Triples: ``"<crs> WKT"^^<...#wktLiteral>`` (no IRI if None)."""
    body = f"<{crs_iri}> {wkt}" if crs_iri else wkt
    return f'"{body}"^^<{GEO}wktLiteral>'


def template_columns(template: str) -> list[str]:
    """The column names of the ``{...}`` placeholders of an R2RML template, in order."""
    return [_strip_quotes(m.group(1)) for m in _PLACEHOLDER.finditer(template)]


def _strip_quotes(name: str) -> str:
    """A column name without the ```...``` or ``"..."`` quoting GeoTriples writes."""
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "`\"'":
        return name[1:-1]
    return name


def fill_template(template: str, values: Iterable[Any], *, iri: bool) -> str:
    """``template`` with its placeholders replaced by ``values`` (IRI-safe when ``iri``)."""
    it = iter(values)

    def _sub(_: re.Match[str]) -> str:
        value = next(it)
        return iri_safe(value) if iri else str(value)

    text = _PLACEHOLDER.sub(_sub, template)
    return text.replace("\\{", "{").replace("\\}", "}")
