"""Administrative units as RDF in the GADM vocabulary that the tutorial's queries use.

Query 2a of the tutorial joins the flood polygons with units described as::

    <unit> rdf:type gadmr:AdministrativeUnit ;
        gadmo:hasName "Hawkesbury"@en ;
        gadmo:hasNationalLevel "3rdOrder"^^xsd:string ;
        geo:hasGeometry <geometry> .
    <geometry> rdf:type geo:Geometry ;
        geo:asWKT "<http://www.opengis.net/def/crs/EPSG/0/4326> MULTIPOLYGON (...)"^^geo:wktLiteral.

with ``gadmr:`` = ``http://www.app-lab.eu/gadm/`` and ``gadmo:`` =
``http://www.app-lab.eu/gadm/ontology/``. Any boundary file or GeoDataFrame
with a name column works: it is read by
:func:`eolab.io.boundaries.read_admin_units` (GADM, ABS and eolab's
simulated units are recognised; EPSG:4326, geometries repaired), then
written through the same streamed exporter as the flood layer. Unit IRIs are
``<base>unit/<code>`` and ``<base>geometry/<code>``, with the unit code made
IRI-safe (codes must be unique; without a code column, units are numbered
from 1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd

from eolab.errors import MappingError
from eolab.io.boundaries import read_admin_units
from eolab.linked._terms import GADMO, GADMR, GEO, XSD, check_iri, check_language
from eolab.linked.export import ExportReport, RdfStream, write_rdf
from eolab.linked.mapping import GeometryMap, Mapping, PropertyMap

__all__ = [
    "ADMIN_CLASS",
    "admin_mapping",
    "admin_units_frame",
    "cli_admin_units",
    "iter_admin_rdf",
    "write_admin_units",
]

ADMIN_CLASS = GADMR + "AdministrativeUnit"


def admin_mapping(*, base_iri: str = GADMR, language: str = "en") -> Mapping:
    """The mapping of :func:`admin_units_frame` rows (``name``, ``code``, ``national_level``)."""
    check_language(language)
    check_iri(base_iri, what="base IRI")
    base = base_iri if base_iri.endswith(("/", "#")) else base_iri + "/"
    return Mapping(
        layer="admin_units",
        subject_template=check_iri(base + "unit/", what="unit IRI") + "{code}",
        classes=(ADMIN_CLASS,),
        properties=(
            PropertyMap(GADMO + "hasName", column="name", datatype=None, language=language),
            PropertyMap(GADMO + "hasNationalLevel", column="national_level",
                        datatype=XSD + "string"),
        ),
        geometry=GeometryMap(template=base + "geometry/{code}", column="geometry",
                             link=GEO + "hasGeometry"),
    )


def admin_units_frame(
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    name_field: str | None = None,
    code_field: str | None = None,
    level: str | None = None,
    layer: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Units with ``name``, ``code`` (unique), ``national_level`` and valid EPSG:4326 geometry.

    ``level`` (e.g. ``"3rdOrder"``) overrides the level detected from the
    file; it is required when none can be detected.
    """
    units = read_admin_units(source, name_column=name_field, code_column=code_field,
                             national_level=level, layer=layer, crs=crs)
    unknown = units["national_level"].isin(["unknown", "", "nan", "None"])
    if unknown.any():
        raise MappingError("cannot tell the units' national level (e.g. '3rdOrder' for local "
                           "government areas / GADM level 2); pass level=... (--level)")
    duplicated = units["code"][units["code"].duplicated()].unique().tolist()
    if duplicated:
        raise MappingError(f"unit codes must be unique to name the units, but {duplicated[:5]} "
                           "repeat; pass code_field=... with a unique code column")
    return units


def iter_admin_rdf(
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    name_field: str | None = None,
    code_field: str | None = None,
    level: str | None = None,
    language: str = "en",
    base_iri: str = GADMR,
    format: str = "nt",
    crs84: bool = False,
    layer: str | None = None,
    chunk_size: int = 2_000,
) -> RdfStream:
    """The RDF of administrative units as text chunks (options as :func:`write_admin_units`)."""
    units = admin_units_frame(source, name_field=name_field, code_field=code_field,
                              level=level, layer=layer)
    mapping = admin_mapping(base_iri=base_iri, language=language)
    return RdfStream(units, mapping, fmt=format, crs84=crs84, reproject=True, invalid="repair",
                     multi=True, precision=None, chunk_size=chunk_size, layer_name=None)


def write_admin_units(
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    dest: str | os.PathLike[str],
    *,
    name_field: str | None = None,
    code_field: str | None = None,
    level: str | None = None,
    language: str = "en",
    base_iri: str = GADMR,
    format: str | None = None,
    crs84: bool = False,
    layer: str | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Write administrative units as N-Triples/Turtle in the tutorial's GADM vocabulary.

    Parameters
    ----------
    source
        Boundary file (GADM GeoPackage, ABS GeoJSON/TopoJSON, Shapefile...)
        or GeoDataFrame.
    dest
        Output ``.nt`` or ``.ttl`` file, written atomically.
    name_field, code_field
        Columns of the unit name and a unique code (detected for GADM, ABS
        and eolab files).
    level
        ``gadmo:hasNationalLevel`` value, e.g. ``"3rdOrder"`` (detected when
        possible, else required).
    language
        Language tag of ``gadmo:hasName`` (default ``"en"``).
    base_iri
        Base of unit and geometry IRIs (default ``http://www.app-lab.eu/gadm/``).
    crs84
        Write the CRS84 IRI instead of EPSG:4326.
    layer
        Layer of a multi-layer file.
    overwrite
        Replace an existing ``dest``.

    Raises
    ------
    MappingError
        No level, duplicate codes, a bad language tag or base IRI.
    ProductError, CRSError, EolabError
        The file cannot be read, has no usable CRS, or no name column.
    OutputError
        ``dest`` exists (without ``overwrite``) or cannot be written.
    """
    units = admin_units_frame(source, name_field=name_field, code_field=code_field,
                              level=level, layer=layer)
    return write_rdf(units, dest, mapping=admin_mapping(base_iri=base_iri, language=language),
                     format=format, crs84=crs84, overwrite=overwrite)


def cli_admin_units(input: str, *, output: str, name_field: str | None = None,
                    code_field: str | None = None, level: str | None = None,
                    language: str = "en", crs84: bool = False, layer: str | None = None,
                    overwrite: bool = False) -> ExportReport:
    """``eolab admin-units -i FILE --name-field F --level 3rdOrder -o admin.nt`` (CLI helper)."""
    return write_admin_units(Path(input), output, name_field=name_field, code_field=code_field,
                             level=level, language=language, crs84=crs84, layer=layer,
                             overwrite=overwrite)
