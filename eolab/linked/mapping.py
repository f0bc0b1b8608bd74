"""R2RML/RML mappings of a vector layer, as GeoTriples' ``generate_mapping`` writes them.

A mapping says how each feature of a layer becomes RDF: its subject IRI
(a template such as ``http://ai.di.uoa.gr/flood/flood/id/{gid}``), its class,
one ``has_<attribute>`` predicate per attribute with an XSD datatype, and a
geometry node (``.../flood/Geometry/{gid}``, ``geo:Geometry``) linked by
``geo:hasGeometry`` and carrying ``geo:asWKT``. :func:`generate_mapping`
writes it as Turtle for the user to read and edit; :func:`parse_mapping`
reads such a text back (also GeoTriples' own mappings) into a
:class:`Mapping` that :func:`eolab.linked.export.write_rdf` applies.

Naming (``style``):

* ``"tutorial"`` (default): vocabulary ``<base>ontology#`` and ``has_<field>``,
  the ``flo:`` prefix of the tutorial's queries
  (``http://ai.di.uoa.gr/flood/ontology#has_floodLevel``);
* ``"geotriples"``: what GeoTriples itself writes. R2RML strips one trailing
  ``/`` from the base (``http://ai.di.uoa.gr/floodontology#has_floodLevel``);
  RML writes ``has`` + the capitalised field name without dots
  (``http://ai.di.uoa.gr/flood/ontology#hasFloodLevel``).

The placeholders ``{gid}`` (R2RML) and ``{GeoTriplesID}`` (RML) are the
feature's number in the layer, counted from 1 as GeoTriples does; other
placeholders name columns, whose values are made IRI-safe in subject IRIs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from eolab.errors import MappingError
from eolab.linked._terms import GEO, XSD, check_iri, iri_safe, template_columns

__all__ = [
    "GEOMETRY_FUNCTIONS",
    "ROW_NUMBER_COLUMNS",
    "GeometryMap",
    "Mapping",
    "PropertyMap",
    "cli_generate_mapping",
    "generate_mapping",
    "mapping_for",
    "parse_mapping",
    "predicate_iri",
    "read_mapping",
    "vocabulary_iri",
    "write_mapping",
    "xsd_type",
]

RR = "http://www.w3.org/ns/r2rml#"
RML = "http://semweb.mmlab.be/ns/rml#"
QL = "http://semweb.mmlab.be/ns/ql#"
RRX = "http://www.w3.org/ns/r2rml-ext#"
RRXF = "http://www.w3.org/ns/r2rml-ext/functions/def/"
ROW_NUMBER_COLUMNS = frozenset({"gid", "GeoTriplesID"})
#: Geometry functions of GeoTriples' mappings that the exporter computes (rrxf:<name>).
GEOMETRY_FUNCTIONS = {
    "asWKT": None, "hasSerialization": None, "isSimple": XSD + "boolean",
    "isEmpty": XSD + "boolean", "is3D": XSD + "boolean", "spatialDimension": XSD + "integer",
    "dimension": XSD + "integer", "coordinateDimension": XSD + "integer",
}
_KINDS = ("r2rml", "rml")
_STYLES = ("tutorial", "geotriples")
_OGR_XSD = {"OFTInteger": "integer", "OFTInteger64": "integer", "OFTReal": "double",
            "OFTDate": "date", "OFTDateTime": "dateTime", "OFTString": "string"}


@dataclass(frozen=True)
class PropertyMap:
    """One predicate of a feature: a literal from a ``column`` or a literal ``template``."""

    predicate: str
    column: str | None = None
    template: str | None = None
    datatype: str | None = XSD + "string"
    language: str | None = None


@dataclass(frozen=True)
class GeometryMap:
    """The geometry node: subject template, classes, WKT predicate, extra geometry functions."""

    template: str
    column: str | None = "geometry"
    classes: tuple[str, ...] = (GEO + "Geometry",)
    link: str = GEO + "hasGeometry"
    wkt_predicate: str = GEO + "asWKT"
    functions: tuple[tuple[str, str], ...] = ()     # (predicate IRI, GEOMETRY_FUNCTIONS key)


@dataclass(frozen=True)
class Mapping:
    """A parsed (or generated) mapping of one layer; ``to_turtle()`` gives its text."""

    layer: str
    subject_template: str
    classes: tuple[str, ...]
    properties: tuple[PropertyMap, ...]
    geometry: GeometryMap | None
    kind: str = "r2rml"
    source: str | None = None
    vocabulary: str | None = field(default=None, compare=False)

    def columns(self) -> list[str]:
        """Layer columns the mapping reads (row-number placeholders excluded)."""
        names = template_columns(self.subject_template)
        for prop in self.properties:
            names += [prop.column] if prop.column else template_columns(prop.template or "")
        if self.geometry is not None:
            names += template_columns(self.geometry.template)
        seen = dict.fromkeys(n for n in names if n not in ROW_NUMBER_COLUMNS)
        return list(seen)

    def to_turtle(self) -> str:
        """The mapping as Turtle text (R2RML or RML per ``kind``)."""
        from eolab.linked._mapping_turtle import to_turtle

        return to_turtle(self)


def vocabulary_iri(base_iri: str, *, kind: str = "r2rml", style: str = "tutorial") -> str:
    """Namespace of the layer's classes and ``has_*`` predicates for ``base_iri``."""
    _check_choice(kind, _KINDS, "kind")
    _check_choice(style, _STYLES, "style")
    if style == "geotriples" and kind == "r2rml":
        base = base_iri.removesuffix("/")
    else:
        base = base_iri if base_iri.endswith(("/", "#")) else base_iri + "/"
    return check_iri(base + "ontology#", what="vocabulary")


def predicate_iri(attribute: str, vocabulary: str, *, kind: str = "r2rml",
                  style: str = "tutorial") -> str:
    """``<vocabulary>has_<attribute>`` (or ``hasAttribute`` in GeoTriples' RML naming)."""
    if style == "geotriples" and kind == "rml":
        name = attribute.replace(".", "")
        local = "has" + name[:1].upper() + name[1:]
    else:
        local = "has_" + attribute
    return check_iri(vocabulary + iri_safe(local), what=f"predicate of {attribute!r}")


def xsd_type(dtype: Any, values: pd.Series | None = None) -> str:
    """XSD datatype of a pandas column as GeoTriples types DBF fields.

    bool → ``xsd:boolean``, integers → ``xsd:integer``, floats →
    ``xsd:double``, datetimes → ``xsd:dateTime`` (``xsd:date`` when every
    value is at midnight or the values are ``datetime.date``), anything else
    → ``xsd:string``.
    """
    if pd.api.types.is_bool_dtype(dtype):
        return XSD + "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return XSD + "integer"
    if pd.api.types.is_float_dtype(dtype):
        return XSD + "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if values is not None:
            times = pd.to_datetime(values.dropna())
            if len(times) and (times == times.dt.normalize()).all():
                return XSD + "date"
        return XSD + "dateTime"
    if values is not None and pd.api.types.is_object_dtype(dtype):
        present = values.dropna()
        import datetime as _dt

        if len(present) and all(type(v) is _dt.date for v in present):
            return XSD + "date"
    return XSD + "string"


def _check_choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise MappingError(f"{what} must be one of {list(choices)}, got {value!r}")


def _base(base_iri: str) -> str:
    check_iri(base_iri, what="base IRI")
    return base_iri if base_iri.endswith(("/", "#")) else base_iri + "/"


def _schema(layer: gpd.GeoDataFrame | str | os.PathLike[str], name: str | None
            ) -> tuple[str, list[tuple[str, str]], str | None, str]:
    """(layer name, [(field, XSD datatype)], source path, geometry column)."""
    if isinstance(layer, gpd.GeoDataFrame):
        geom = layer.geometry.name
        fields = [(str(c), xsd_type(layer[c].dtype, layer[c])) for c in layer.columns
                  if c != geom and not isinstance(layer[c].dtype, gpd.array.GeometryDtype)]
        return name or "layer", fields, None, str(geom)
    path = Path(layer)
    if not path.exists():
        raise MappingError(f"layer file not found: {path}")
    import pyogrio

    try:
        info = pyogrio.read_info(path)
    except Exception as exc:  # pyogrio raises its own types
        raise MappingError(f"cannot read the layer {path.name}: {exc}") from exc
    fields = []
    for fname, ogr, sub in zip(info["fields"], info["ogr_types"], info["ogr_subtypes"],
                               strict=True):
        kind = "boolean" if sub == "OFSTBoolean" else _OGR_XSD.get(ogr, "string")
        fields.append((str(fname), XSD + kind))
    return name or path.stem, fields, str(path), "geometry"


def mapping_for(
    layer: gpd.GeoDataFrame | str | os.PathLike[str],
    *,
    base_iri: str,
    name: str | None = None,
    kind: str = "r2rml",
    style: str = "tutorial",
    vocabulary: str | None = None,
    columns: Sequence[str] | None = None,
    geometry_properties: bool = False,
) -> Mapping:
    """The :class:`Mapping` that :func:`generate_mapping` writes (see there)."""
    _check_choice(kind, _KINDS, "kind")
    _check_choice(style, _STYLES, "style")
    base = _base(base_iri)
    layer_name, fields, source, geom_col = _schema(layer, name)
    if not layer_name:
        raise MappingError("the layer name is empty; pass name=...")
    if columns is not None:
        known = dict(fields)
        missing = [c for c in columns if c not in known]
        if missing:
            raise MappingError(f"columns {missing} are not in the layer "
                               f"(columns: {list(known)})")
        fields = [(c, known[c]) for c in columns]
    vocab = check_iri(vocabulary, what="vocabulary") if vocabulary else \
        vocabulary_iri(base_iri, kind=kind, style=style)
    row = "gid" if kind == "r2rml" else "GeoTriplesID"
    local = iri_safe(layer_name)
    props = tuple(PropertyMap(predicate_iri(f, vocab, kind=kind, style=style), column=f,
                              datatype=dt) for f, dt in fields if f not in ROW_NUMBER_COLUMNS)
    functions = tuple((GEO + f, f) for f in ("isSimple", "isEmpty", "is3D", "spatialDimension",
                                             "dimension", "coordinateDimension")
                      ) if geometry_properties else ()
    return Mapping(
        layer=layer_name,
        subject_template=_check_template(f"{base}{local}/id/{{{row}}}"),
        classes=(check_iri(vocab + local, what="class"),),
        properties=props,
        geometry=GeometryMap(template=f"{base}{local}/Geometry/{{{row}}}", column=geom_col,
                             functions=functions),
        kind=kind,
        source=source or (layer_name if kind == "rml" else None),
        vocabulary=vocab,
    )


def generate_mapping(
    layer: gpd.GeoDataFrame | str | os.PathLike[str],
    *,
    base_iri: str,
    name: str | None = None,
    kind: str = "r2rml",
    style: str = "tutorial",
    vocabulary: str | None = None,
    columns: Sequence[str] | None = None,
    geometry_properties: bool = False,
) -> str:
    """An R2RML or RML mapping (Turtle text) of a vector layer, as GeoTriples writes it.

    Parameters
    ----------
    layer
        A GeoDataFrame, or the path of a Shapefile/GeoPackage (only its
        schema is read).
    base_iri
        Base of feature and geometry IRIs, e.g. ``http://ai.di.uoa.gr/flood/``.
    name
        Layer name used in IRIs and as class name (default: the file name
        without extension; ``"layer"`` for a GeoDataFrame).
    kind
        ``"r2rml"`` (GeoTriples' default for Shapefiles) or ``"rml"``.
    style
        ``"tutorial"`` (``<base>ontology#has_<field>``, as the tutorial's
        queries expect) or ``"geotriples"`` (GeoTriples' own naming for
        ``kind``; see the module docstring).
    vocabulary
        Namespace of the class and predicates, overriding ``style``.
    columns
        Attributes to map, in this order (default: all).
    geometry_properties
        Also map ``geo:isSimple``, ``isEmpty``, ``is3D``,
        ``spatialDimension``, ``dimension`` and ``coordinateDimension``
        (as GeoTriples' R2RML mode and its RML ``-gfeatures`` do).

    Returns
    -------
    str
        Turtle text; edit it freely, then pass it to
        :func:`eolab.linked.export.write_rdf` (``mapping=``).

    Raises
    ------
    MappingError
        Unknown ``kind``/``style``, an invalid base IRI, unknown columns or
        an unreadable file.
    """
    return mapping_for(layer, base_iri=base_iri, name=name, kind=kind, style=style,
                       vocabulary=vocabulary, columns=columns,
                       geometry_properties=geometry_properties).to_turtle()


def write_mapping(mapping: Mapping | str, dest: str | os.PathLike[str], *,
                  overwrite: bool = False) -> Path:
    """Write a mapping (or mapping text) to ``dest`` atomically; refuses to overwrite by default."""
    from eolab.errors import OutputError
    from eolab.io.rasters import atomic_path

    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise OutputError(f"{dest} already exists; pass overwrite=True (--overwrite) to replace it")
    if not dest.parent.is_dir():
        raise OutputError(f"the folder {dest.parent} does not exist")
    text = mapping.to_turtle() if isinstance(mapping, Mapping) else mapping
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return dest


def cli_generate_mapping(layer: str, *, output: str | None, base_iri: str, rml: bool = False,
                         style: str = "tutorial", overwrite: bool = False) -> str:
    """``eolab geotriples generate_mapping [-rml] -o OUT -b BASE LAYER`` (thin CLI helper).

    Writes the mapping to ``output``, or returns it for printing when ``output`` is None.
    """
    text = generate_mapping(Path(layer), base_iri=base_iri, kind="rml" if rml else "r2rml",
                            style=style)
    if output is not None:
        write_mapping(text, output, overwrite=overwrite)
    return text


def read_mapping(path: str | os.PathLike[str], *, base_iri: str | None = None) -> Mapping:
    """:func:`parse_mapping` of the file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read the mapping file {path}: {exc}") from exc
    return parse_mapping(text, base_iri=base_iri)


def parse_mapping(text: str, *, base_iri: str | None = None) -> Mapping:
    """Read an R2RML/RML mapping (Turtle) of one layer back into a :class:`Mapping`.

    Understands the mappings :func:`generate_mapping` writes, edited or not,
    and GeoTriples' own: one triples map for the features (subject template,
    classes, ``rr:column``/``rml:reference`` literals with ``rr:datatype`` or
    ``rr:language``, literal ``rr:template``) and one for the geometry
    (``rr:class ogc:Geometry``, ``asWKT`` and GeoTriples' geometry
    functions), joined by a ``rr:parentTriplesMap``. Relative IRIs (such as
    GeoTriples' ``vocab: <ontology#>``) resolve against ``base_iri``.

    Raises
    ------
    MappingError
        The text is not Turtle, or not a mapping of that shape (the message
        says what is missing or not supported).
    """
    from eolab.linked._mapping_turtle import from_turtle

    return from_turtle(text, base_iri=base_iri)


def _check_template(template: str) -> str:
    from eolab.linked._terms import fill_template

    if not template_columns(template) and "{" in template:
        raise MappingError(f"the template {template!r} has an unbalanced '{{'")
    check_iri(fill_template(template, ["1"] * len(template_columns(template)), iri=True),
              what=f"template {template!r}")
    return template
