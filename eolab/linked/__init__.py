"""Linked geodata: vector layers to GeoSPARQL RDF, a spatially indexed store and its queries.

What GeoTriples, Strabon and Sextant did in the tutorial, from Python.
"""

from eolab.linked.admin import iter_admin_rdf, write_admin_units
from eolab.linked.export import DEFAULT_BASE_IRI, ExportReport, iter_rdf, to_rdf, write_rdf
from eolab.linked.mapping import (
    Mapping,
    generate_mapping,
    mapping_for,
    parse_mapping,
    read_mapping,
    write_mapping,
)
from eolab.linked.queries import QUERY_1, QUERY_2A, QUERY_2B, run, to_geodataframe
from eolab.linked.remote import RemoteStore
from eolab.linked.store import EmbeddedStore, GeoStore, SelectResult, open_store

__all__ = [
    "DEFAULT_BASE_IRI", "EmbeddedStore", "ExportReport", "GeoStore", "Mapping", "QUERY_1",
    "QUERY_2A", "QUERY_2B", "RemoteStore", "SelectResult", "generate_mapping", "iter_admin_rdf",
    "iter_rdf", "mapping_for", "open_store", "parse_mapping", "read_mapping", "run",
    "to_geodataframe", "to_rdf", "write_admin_units", "write_mapping", "write_rdf",
]
