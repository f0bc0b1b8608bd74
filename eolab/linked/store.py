"""GeoSPARQL stores with one interface: embedded on disk (default) or a remote endpoint.

``open_store("DIR")`` opens (or creates) an embedded store, an Oxigraph (RocksDB) folder
that persists between sessions; ``open_store("http://host/sparql")`` a remote SPARQL 1.1
endpoint (:mod:`eolab.linked.remote`). Both offer:

* ``load(source, graph=IRI)``: an RDF file (or bytes) into a named graph, **replacing** it
  (loading a layer twice duplicates nothing); input with a syntax error anywhere leaves
  the previous graph intact. The default graph of queries is the union of all graphs
  (as Oxigraph forms it: a triple loaded into two graphs is seen twice);
* ``query(sparql, bindings=...)``: SELECT rows as :class:`SelectResult` (``.to_frame()``),
  ASK as bool, CONSTRUCT/DESCRIBE as a list of triples. The default graph is the union
  of all graphs, so the tutorial's queries run unchanged on layers loaded into named
  graphs. ``bindings`` are bound as RDF terms, never pasted into the query text;
* ``update(sparql)``, ``graphs()``, ``delete_graph(iri)``, ``close()``.

The embedded store evaluates ``geof:sfIntersects, sfContains, sfWithin, sfOverlaps,
sfTouches, sfEquals, sfCrosses, sfDisjoint, distance, area`` itself, for WKT with the
EPSG:4326 IRI as GeoTriples writes it, CRS84 or projected EPSG CRSs
(:mod:`eolab.linked._geosparql`), and answers spatial FILTERs from an R-tree kept in step
with the data (:mod:`eolab.linked._spatial`): every load, update or deletion marks it
stale, and the next spatial query rebuilds it. Index-backed: a FILTER conjunct
``geof:<relation>(?a, ?b)`` (any relation but sfDisjoint, under ``&&`` only) whose
variables are bound by ``?node geo:asWKT ?a`` triples in the FILTER's own group, or with
one constant WKT argument (written in the query or bound with ``bindings``). Other
spatial expressions run as written, pair by pair, with the same results, only slower.
:meth:`EmbeddedStore.rewritten` shows the text that runs.

Queries run on an in-memory copy of the folder when it is small enough (``memory``):
RocksDB reads are several times slower (Query 2a on 10,000 x 500 polygons: 5-10x here).
Writes go to disk first, then to the copy.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

import pyoxigraph as ox

from ..errors import QueryError, StoreError
from . import _geosparql as gs
from . import _sparql_text, _spatial
from ._results import SelectResult, substitutions

__all__ = [
    "MEMORY_LIMIT",
    "EmbeddedStore",
    "GeoStore",
    "SelectResult",
    "open_store",
    "rdf_format",
]

#: Folders up to this size (bytes on disk) are mirrored in memory for querying.
MEMORY_LIMIT = 1 << 30
_PRIVATE = ("urn:eolab:",)
_CUSTOM = gs.custom_functions()

QueryOutput = SelectResult | bool | list[ox.Triple]


class GeoStore(ABC):
    """What both back ends offer (see the module docstring)."""

    @abstractmethod
    def load(self, source: str | os.PathLike[str] | bytes, *, graph: str,
             format: str | ox.RdfFormat | None = None) -> int:
        """Replace named graph ``graph`` with the triples of ``source``; their number."""

    @abstractmethod
    def query(self, sparql: str, *, bindings: Mapping[str, object] | None = None) -> QueryOutput:
        """Run a query; ``bindings`` map variable names to values bound as RDF terms."""

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update."""

    @abstractmethod
    def graphs(self) -> list[str]:
        """IRIs of the named graphs holding data."""

    @abstractmethod
    def delete_graph(self, graph: str) -> None:
        """Remove a named graph (nothing happens if it does not exist)."""

    def close(self) -> None:
        """Release the store."""

    def select(self, sparql: str, *, bindings: Mapping[str, object] | None = None) -> SelectResult:
        """Run a SELECT query (a :class:`QueryError` for any other form)."""
        out = self.query(sparql, bindings=bindings)
        if not isinstance(out, SelectResult):
            raise QueryError("select() needs a SELECT query; use query() for ASK/CONSTRUCT")
        return out

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rdf_format(source: str | os.PathLike[str] | bytes, format: str | ox.RdfFormat | None
               ) -> ox.RdfFormat:
    """The RDF format given by name/extension/media type, or guessed from a file name."""
    if isinstance(format, ox.RdfFormat):
        return format
    name = format
    if name is None:
        if isinstance(source, (bytes, bytearray)):
            return ox.RdfFormat.N_TRIPLES
        name = Path(os.fspath(source)).suffix.lstrip(".")
    found = ox.RdfFormat.from_extension(name.lower()) or ox.RdfFormat.from_media_type(name)
    if found is None:
        raise StoreError(f"unknown RDF format {name!r}: use nt, nq, ttl, trig, rdf or jsonld")
    return found


def _graph_node(graph: str) -> ox.NamedNode:
    if graph.startswith(_PRIVATE):
        raise StoreError(f"graph IRI <{graph}> is reserved by eolab: choose another")
    try:
        return ox.NamedNode(graph)
    except ValueError as exc:
        raise StoreError(f"invalid graph IRI {graph!r}: {exc}") from exc


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


class EmbeddedStore(GeoStore):
    """An Oxigraph store in folder ``path`` (or in memory when ``path`` is None).

    Parameters
    ----------
    path
        Store folder, created when missing. One process at a time may open it for
        writing (an ``oxigraph serve`` on it holds the same lock).
    read_only
        Open alongside a writer; loads and updates raise :class:`StoreError`.
    memory
        Query an in-memory copy: True, False, or None for "when the folder is at most
        :data:`MEMORY_LIMIT` bytes". Writes always go to disk first.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 memory: bool | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.read_only = read_only
        try:
            if self.path is None:
                self._disk = ox.Store()
            elif read_only:
                self._disk = ox.Store.read_only(str(self.path))
            else:
                self._disk = ox.Store(str(self.path))
        except OSError as exc:
            if self.path is not None and read_only and not (self.path / "CURRENT").exists():
                raise StoreError(f"no store at {self.path}: load data into it first") from exc
            hint = (" (another process, or an oxigraph server, holds it: close that or open "
                    "read-only)" if "lock" in str(exc).lower() else "")
            raise StoreError(f"cannot open the store at {self.path}: {exc}{hint}") from exc
        if self.path is not None and not read_only:
            self._disk.update(f"DROP SILENT GRAPH <{_spatial.INDEX_GRAPH}>")
        if memory is None:
            memory = self.path is not None and _folder_size(self.path) <= MEMORY_LIMIT
        self._mem: ox.Store | None = None
        if memory and self.path is not None:
            self._mem = ox.Store()
            self._copy_to_memory()
        self._index: _spatial.SpatialIndex | None = None
        self._graphs: list[ox.NamedNode] | None = None

    # --- writing -----------------------------------------------------------------------

    def load(self, source: str | os.PathLike[str] | bytes, *, graph: str,
             format: str | ox.RdfFormat | None = None, base_iri: str | None = None) -> int:
        """Replace named graph ``graph`` with the triples of ``source`` (a path or bytes).

        The whole input is parsed first: a syntax error anywhere (even on the last line)
        raises :class:`StoreError` and leaves the previous graph as it was. Only then is
        the old graph dropped and the new one bulk-loaded (an I/O failure in that last
        step, e.g. a full disk, leaves the graph empty and says so). Returns the number
        of triples read.
        """
        self._writable()
        target = _graph_node(graph)
        fmt = rdf_format(source, format)
        kwargs: dict[str, Any] = {"format": fmt, "base_iri": base_iri}
        if isinstance(source, (bytes, bytearray)):
            kwargs["input"] = bytes(source)
            where = "the data given"
        else:
            kwargs["path"] = where = os.fspath(source)
            if not Path(where).is_file():
                raise StoreError(f"no RDF file at {where}")
        try:                                    # a layer is one graph: no quads of others
            count = sum(1 for _ in ox.parse(without_named_graphs=True, **kwargs))
        except (SyntaxError, ValueError, OSError) as exc:
            raise StoreError(f"cannot load {where} into {target}: {exc}; "
                             "the graph was left as it was") from exc
        for store in (self._disk, self._mem):
            if store is None:
                continue
            store.update(f"DROP SILENT GRAPH {target}")
            try:
                store.bulk_load(to_graph=target, **kwargs)
            except (SyntaxError, ValueError, OSError) as exc:
                store.update(f"DROP SILENT GRAPH {target}")
                self._changed()
                raise StoreError(f"loading {where} into {target} failed after the old graph "
                                 f"was dropped: {exc}; the graph is now empty") from exc
        self._changed()
        return count

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update on disk (then re-copy the in-memory mirror).

        Updates are atomic. For layers, prefer :meth:`load`, which is much faster.
        """
        self._writable()
        try:
            self._disk.update(sparql, custom_functions=_CUSTOM)
        except SyntaxError as exc:
            raise QueryError(f"invalid SPARQL update: {exc}") from exc
        if self._mem is not None:
            self._mem = ox.Store()
            self._copy_to_memory()
        self._changed()

    def delete_graph(self, graph: str) -> None:
        self._writable()
        node = _graph_node(graph)
        for store in (self._disk, self._mem):
            if store is not None:
                store.update(f"DROP SILENT GRAPH {node}")
        self._changed()

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the store at {self.path} is open read-only")

    def _changed(self) -> None:
        self._graphs = None
        if self._index is not None:
            self._index = None
            if not self.read_only:
                self._engine.update(f"DROP SILENT GRAPH <{_spatial.INDEX_GRAPH}>")

    def _copy_to_memory(self) -> None:
        assert self._mem is not None
        data = self._disk.dump(format=ox.RdfFormat.N_QUADS)
        if data:
            self._mem.bulk_load(data, format=ox.RdfFormat.N_QUADS)

    # --- reading -----------------------------------------------------------------------

    @property
    def _engine(self) -> ox.Store:
        return self._mem if self._mem is not None else self._disk

    def graphs(self) -> list[str]:
        return [g.value for g in self._user_graphs()]

    def _user_graphs(self) -> list[ox.NamedNode]:
        if self._graphs is None:
            self._graphs = sorted((g for g in self._engine.named_graphs()
                                   if isinstance(g, ox.NamedNode)
                                   and not g.value.startswith(_PRIVATE)), key=lambda g: g.value)
        return self._graphs

    def spatial_index(self) -> _spatial.SpatialIndex:
        """The R-tree over the store's geometries, rebuilt if the data changed."""
        if self._index is None:
            graphs: list[Any] = [ox.DefaultGraph(), *self._user_graphs()]
            self._index = _spatial.build_index(self._engine, graphs)
        return self._index

    def rewritten(self, sparql: str, *, bindings: Mapping[str, object] | None = None) -> str:
        """The text that :meth:`query` will run (its spatial FILTERs index-backed)."""
        text, _ = _spatial.rewrite(sparql, self.spatial_index, substitutions(bindings),
                                   materialise=self._can_materialise, probe=self._probe)
        return text

    def _probe(self, pattern: str, var: str, limit: int) -> list[Any] | None:
        """Distinct values of ``var`` in ``pattern`` over the user graphs (None: over
        ``limit``, or the pattern cannot be run), for :func:`_spatial.rewrite`."""
        graphs: list[Any] = [ox.DefaultGraph(), *self._user_graphs()]
        inner = f"SELECT DISTINCT {var} WHERE {{ {pattern} }} LIMIT {limit + 1}"
        try:
            counted = self._engine.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {inner} }}",
                                         default_graph=graphs)
            count = int(next(iter(counted))[0].value)  # type: ignore[arg-type]
            if count > limit:
                return None
            found = self._engine.query(inner, default_graph=graphs)
            return [row[0] for row in found]  # type: ignore[union-attr]
        except (SyntaxError, RuntimeError, ValueError):
            return None

    @property
    def _can_materialise(self) -> bool:
        return self._mem is not None or not self.read_only

    def query(self, sparql: str, *, bindings: Mapping[str, object] | None = None) -> QueryOutput:
        """Run a SPARQL 1.1 query; see the module docstring."""
        subs = substitutions(bindings)
        text, needs = _spatial.rewrite(sparql, self.spatial_index, subs,
                                       materialise=self._can_materialise, probe=self._probe)
        for name in sorted(needs):
            self.spatial_index().materialise(self._engine, name)
        own = _declares_dataset(sparql)
        try:
            try:
                return self._run(text, subs, bool(needs), own_dataset=own)
            except SyntaxError:
                if text == sparql:
                    raise
                # never expected: run the query as written (correct, without the index)
                return self._run(sparql, subs, False, own_dataset=own)
        except SyntaxError as exc:
            raise QueryError(f"invalid SPARQL query: {exc}") from exc

    def _run(self, text: str, subs: Mapping[str, Any], with_index: bool, *,
             own_dataset: bool = False) -> QueryOutput:
        kwargs: dict[str, Any] = {"custom_functions": _CUSTOM,
                                  "substitutions": {ox.Variable(k): v for k, v in subs.items()}}
        if not own_dataset:
            graphs = self._user_graphs()
            kwargs["default_graph"] = [ox.DefaultGraph(), *graphs]
            kwargs["named_graphs"] = [*graphs] + (
                [ox.NamedNode(_spatial.INDEX_GRAPH)] if with_index else [])
        try:
            out = self._engine.query(text, **kwargs)
        except RuntimeError as exc:
            hint = (" (a bound variable must be projected: add it to SELECT or use SELECT *)"
                    if "projection" in str(exc) else "")
            raise QueryError(f"cannot answer the query: {exc}{hint}") from exc
        if isinstance(out, ox.QuerySolutions):
            names = [v.value for v in out.variables]
            return SelectResult(names, [tuple(s) for s in out])
        if isinstance(out, ox.QueryBoolean):
            return bool(out)
        return list(out)

    def close(self) -> None:
        """Flush and release the folder (the spatial index is private and not kept)."""
        if getattr(self, "_disk", None) is None:
            return
        if self.path is not None and not self.read_only:
            self._disk.update(f"DROP SILENT GRAPH <{_spatial.INDEX_GRAPH}>")
            self._disk.flush()
        self._disk = None  # type: ignore[assignment]
        self._mem = None

    def __len__(self) -> int:
        """Number of triples in the named graphs (the loaded layers)."""
        return _count(self._engine)


@lru_cache(maxsize=256)
def _declares_dataset(text: str) -> bool:
    try:
        return any(t.upper in ("FROM", "USING") for t in _sparql_text.tokenize(text))
    except _sparql_text.SparqlSyntaxError:
        return False


def _count(store: ox.Store) -> int:
    where = "GRAPH ?g { ?s ?p ?o } FILTER(!STRSTARTS(STR(?g), \"urn:eolab:\"))"
    out = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
    solution = next(iter(out))  # type: ignore[arg-type]
    return int(solution[0].value)


def open_store(location: str | os.PathLike[str] | None = None, **options: Any) -> GeoStore:
    """An embedded store for a folder (or in memory for None), a remote one for a URL.

    Options go to :class:`EmbeddedStore` or :class:`eolab.linked.remote.RemoteStore`.
    """
    if isinstance(location, str) and location.startswith(("http://", "https://")):
        from .remote import RemoteStore

        return RemoteStore(location, **options)
    return EmbeddedStore(location, **options)
