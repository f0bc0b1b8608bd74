"""A remote SPARQL 1.1 endpoint as a :class:`~eolab.linked.store.GeoStore`.

What the endpoint must support:

* SPARQL 1.1 Protocol queries by POST (``application/sparql-query``) answering
  ``application/sparql-results+json`` (SELECT, ASK) or N-Triples (CONSTRUCT, DESCRIBE);
* for :meth:`RemoteStore.update`, SPARQL 1.1 Update by POST (``application/sparql-update``);
* for :meth:`RemoteStore.load`, the SPARQL 1.1 Graph Store HTTP Protocol: ``PUT`` of
  N-Triples to ``?graph=IRI`` replaces that named graph (Oxigraph 0.5 answers 400 to a
  body with a syntax error and keeps the old graph: checked in the tests);
* the tutorial's queries read the **union of the named graphs as the default graph**
  (``oxigraph serve --union-default-graph``, or a server setting of the same kind);
* the spatial queries need GeoSPARQL functions (``geof:sfIntersects`` ...) evaluated by the
  server. Oxigraph's built-ins accept WKT only without a CRS IRI or with CRS84, so by
  default :meth:`RemoteStore.load` writes WKT literals with the EPSG:4326 IRI relabelled
  to CRS84 (same coordinates, longitude first: GeoTriples output is longitude first, as
  Strabon reads it), and those in other EPSG CRSs transformed to CRS84. The server
  evaluates each pair itself: there is no spatial index over the protocol.

Bound values (``bindings=``) are written as an inline ``VALUES`` block at the start of
the query's WHERE group, each term serialised by pyoxigraph (escaped, typed), never
spliced as raw text. That equals substitution except inside sub-selects that do not
project the variable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import requests

from ..errors import EndpointError, QueryError, StoreError
from . import _geosparql as gs
from . import _sparql_text
from ._results import SelectResult, Term, substitutions, term_from_json
from .store import GeoStore, QueryOutput, _graph_node, rdf_format

__all__ = ["RemoteStore", "to_crs84_literal"]


class RemoteStore(GeoStore):
    """A SPARQL 1.1 endpoint (Oxigraph, GraphDB, Jena Fuseki, Virtuoso, Strabon ...).

    Parameters
    ----------
    query_url
        Query endpoint, e.g. ``http://127.0.0.1:7878/query``.
    update_url, store_url
        Update and Graph Store Protocol endpoints; by default the Oxigraph layout next
        to ``query_url`` (``/update`` and ``/store``).
    relabel_crs84
        Write WKT literals in CRS84 on :meth:`load` (see the module docstring).
    timeout
        Seconds to wait for each HTTP answer.
    session
        A ``requests.Session`` (authentication, proxies); a new one by default.
    """

    def __init__(self, query_url: str, *, update_url: str | None = None,
                 store_url: str | None = None, relabel_crs84: bool = True,
                 timeout: float = 60.0, session: requests.Session | None = None) -> None:
        base = query_url.rsplit("/", 1)[0]
        self.query_url = query_url
        self.update_url = update_url or base + "/update"
        self.store_url = store_url or base + "/store"
        self.relabel_crs84 = relabel_crs84
        self.timeout = timeout
        self._session = session or requests.Session()

    # --- HTTP ----------------------------------------------------------------------------

    def _request(self, method: str, url: str, *, bad_request: type[StoreError] = QueryError,
                 **kwargs: Any) -> requests.Response:
        """One HTTP exchange; 400 raises ``bad_request`` (the query's fault by default),
        other failures :class:`EndpointError`, each naming the URL and the status."""
        try:
            response = self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise EndpointError(f"SPARQL endpoint {url} is unreachable: {exc}") from exc
        if response.status_code == 400:
            raise bad_request(f"{url} answered 400 Bad Request: {response.text[:500]}")
        if response.status_code >= 300:
            raise EndpointError(f"{url} answered {response.status_code} {response.reason}: "
                                f"{response.text[:500]}")
        return response

    # --- GeoStore ------------------------------------------------------------------------

    def query(self, sparql: str, *, bindings: Mapping[str, object] | None = None) -> QueryOutput:
        """Run a query on the endpoint (see the module docstring for ``bindings``)."""
        text = bind_values(sparql, substitutions(bindings))
        response = self._request(
            "POST", self.query_url, data=text.encode("utf-8"),
            headers={"Content-Type": "application/sparql-query; charset=utf-8",
                     "Accept": "application/sparql-results+json, application/n-triples;q=0.9"})
        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
        if kind in ("application/sparql-results+json", "application/json"):
            try:
                body = response.json()
            except ValueError as exc:
                raise EndpointError(f"{self.query_url} sent invalid JSON results: {exc}") from exc
            if "boolean" in body:
                return bool(body["boolean"])
            names = list(body["head"]["vars"])
            rows: list[tuple[Term | None, ...]] = [
                tuple(term_from_json(b[v]) if v in b else None for v in names)
                for b in body["results"]["bindings"]]
            return SelectResult(names, rows)
        try:
            return [ox.Triple(q.subject, q.predicate, q.object)
                    for q in ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES)]
        except SyntaxError as exc:
            raise EndpointError(f"{self.query_url} answered {kind or 'no content type'}, "
                                f"which is not a result format eolab reads: {exc}") from exc

    def update(self, sparql: str) -> None:
        self._request("POST", self.update_url, data=sparql.encode("utf-8"),
                      headers={"Content-Type": "application/sparql-update; charset=utf-8"})

    def load(self, source: str | os.PathLike[str] | bytes, *, graph: str,
             format: str | ox.RdfFormat | None = None, base_iri: str | None = None) -> int:
        """PUT ``source`` (a path or bytes) as named graph ``graph``, replacing it.

        The input is parsed here first (a syntax error raises :class:`StoreError` and
        sends nothing), converted to N-Triples in a temporary file (WKT relabelled to
        CRS84 unless ``relabel_crs84=False``) and streamed to the Graph Store endpoint.
        """
        target = _graph_node(graph)
        fmt = rdf_format(source, format)
        kwargs: dict[str, Any] = {"format": fmt, "base_iri": base_iri, "without_named_graphs": True}
        if isinstance(source, (bytes, bytearray)):
            kwargs["input"] = bytes(source)
        else:
            kwargs["path"] = os.fspath(source)
            if not Path(kwargs["path"]).is_file():
                raise StoreError(f"no RDF file at {kwargs['path']}")
        handle, name = tempfile.mkstemp(suffix=".nt")
        os.close(handle)
        try:
            try:
                count = self._write_ntriples(ox.parse(**kwargs), Path(name))
            except (SyntaxError, ValueError, OSError) as exc:
                raise StoreError(f"cannot load {kwargs.get('path', 'the data given')} into "
                                 f"{target}: {exc}; nothing was sent") from exc
            with open(name, "rb") as body:
                self._request("PUT", self.store_url, params={"graph": target.value}, data=body,
                              headers={"Content-Type": "application/n-triples"},
                              bad_request=EndpointError)
        finally:
            os.unlink(name)
        return count

    def _write_ntriples(self, quads: Iterator[ox.Quad], path: Path) -> int:
        count = 0

        def triples() -> Iterator[ox.Triple]:
            nonlocal count
            for q in quads:
                count += 1
                obj = q.object
                if self.relabel_crs84 and isinstance(obj, ox.Literal):
                    obj = to_crs84_literal(obj)
                yield ox.Triple(q.subject, q.predicate, obj)

        ox.serialize(triples(), output=str(path), format=ox.RdfFormat.N_TRIPLES)
        return count

    def graphs(self) -> list[str]:
        out = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g")
        return [row[0].value for row in out.rows if row[0] is not None]

    def delete_graph(self, graph: str) -> None:
        self.update(f"DROP SILENT GRAPH {_graph_node(graph)}")

    def close(self) -> None:
        self._session.close()


def to_crs84_literal(literal: ox.Literal) -> ox.Literal:
    """A ``geo:wktLiteral`` with its CRS made CRS84 (other literals unchanged).

    EPSG:4326 is relabelled (coordinates kept, longitude first); other EPSG CRSs are
    transformed. A literal that cannot be read is returned as it was.
    """
    if literal.datatype.value != gs.WKT_LITERAL:
        return literal
    try:
        iri, wkt = gs.split_wkt_literal(literal.value)
        key = gs.crs_key(iri)
    except ValueError:
        return literal
    if iri is None or iri == gs.CRS84:
        return literal
    if key != "OGC:CRS84":
        geom, _ = gs.parse_wkt_literal(literal.value)
        wkt = gs.to_crs(geom, key, "OGC:CRS84").wkt
    return ox.Literal(f"<{gs.CRS84}> {wkt}", datatype=literal.datatype)


def bind_values(sparql: str, subs: Mapping[str, Term]) -> str:
    """``sparql`` with ``VALUES (?v ...) { (term ...) }`` opening its WHERE group."""
    if not subs:
        return sparql
    try:
        tokens = _sparql_text.tokenize(sparql)
    except _sparql_text.SparqlSyntaxError as exc:
        raise QueryError(f"invalid SPARQL query: {exc}") from exc
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.upper == "CONSTRUCT" and i + 1 < len(tokens) and tokens[i + 1].text == "{":
            i = _sparql_text._matching(tokens, i + 1) + 1      # skip the template
            continue
        if tok.kind == "punct" and tok.text == "{":
            names = " ".join("?" + name for name in subs)
            values = " ".join(str(term) for term in subs.values())
            block = f" VALUES ({names}) {{ ({values}) }} "
            return sparql[:tok.end] + block + sparql[tok.end:]
        i += 1
    raise QueryError("cannot bind values: the query has no WHERE group")
