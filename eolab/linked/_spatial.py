"""An R-tree over a store's geometries and the query rewrite that uses it.

Oxigraph has no spatial index: a ``FILTER(geof:sfIntersects(?a, ?b))`` over two
geometry sets is a nested loop that evaluates the function on every pair (75 s for
10,000 × 500 polygons). Here, a FILTER conjunct ``geof:<relation>(?a, ?b)`` (or with one
constant ``"..."^^geo:wktLiteral`` argument, or a variable bound to one) is answered from
shapely STRtrees instead, and the query is rewritten to join through the result:

* two variables: the relation is materialised once over every geometry node of the
  store (``?n1 rel ?n2`` quads in the private graph :data:`INDEX_GRAPH`, computed on the
  first query that needs it) and the conjunct becomes
  ``GRAPH <INDEX_GRAPH> { ?na <INDEX_GRAPH#relation> ?nb }``, followed by
  ``VALUES ?nb { ... }`` listing the nodes of the side with fewer of them (when one side
  has at most :data:`BOUND_LIMIT`). Join order: Oxigraph's planner sizes every
  ``?s <p> ?o`` pattern alike (and ``?s rdf:type <C>`` as smaller), so without a typed
  pattern it may start from the large layer and walk every pair of the relation
  (flood x flood ones included, 42 s for 26,000 flood polygons x 9 units) before the
  units' patterns prune them; a VALUES block is sized by its rows, so it starts there.
  The side's nodes are the distinct solutions of its own triples in the group (found
  once per data state): a superset of what the node takes in any row, so the join with
  them is exact;
* a constant: the matching nodes (or WKT literals) are found with the tree and joined
  as ``{ SELECT * { VALUES ... } }``.

When the WKT variable is read nowhere else (no ``SELECT *``, no GRAPH) and every node
has one WKT literal, its ``?node geo:asWKT ?var .`` statement is dropped as well: the node
join implies it, and Oxigraph then skips one lookup per row (Query 2a: about 2x faster).

The rewrite is exact, not approximate: it applies only when each variable argument is
bound by a plain ``?node geo:asWKT ?var`` triple in the FILTER's own group (so it is bound
in every row, to a WKT literal of the index), and a FILTER over a group is equivalent to
joining the group with the set of argument values that satisfy the conjunct. Relations
are evaluated by the same GEOS predicates and CRS rules as the ``geof:`` custom
functions (:mod:`eolab.linked._geosparql`). Queries with ``GRAPH ?g``, FROM or SERVICE,
conjuncts under ``||`` or ``!``, ``sfDisjoint``, ``distance`` and nodes with several
WKT literals run unmodified (correct, with the nested loop).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pyoxigraph as ox
import shapely
from shapely.geometry.base import BaseGeometry

from . import _geosparql as gs
from . import _sparql_text as st

INDEX_GRAPH = "urn:eolab:spatial-index"
#: A side of a two-variable join with at most this many geometry nodes is written out as
#: ``VALUES`` so that Oxigraph starts the join there (see :func:`rewrite`).
BOUND_LIMIT = 4096
#: ``probe(pattern, var, limit)``: the distinct values of ``var`` in the solutions of the
#: basic graph pattern ``pattern`` (SPARQL text), or None when there are more than ``limit``
Probe = Callable[[str, str, int], "list[Any] | None"]
AS_WKT = gs.GEO + "asWKT"
_TREE_PREDICATES = {
    "sfIntersects": "intersects", "sfContains": "contains", "sfWithin": "within",
    "sfOverlaps": "overlaps", "sfTouches": "touches", "sfCrosses": "crosses",
}


@dataclass
class _CrsGroup:
    positions: np.ndarray          # into SpatialIndex.nodes
    geoms: np.ndarray              # shapely geometries in this CRS
    tree: shapely.STRtree


@dataclass
class SpatialIndex:
    """Geometry nodes and WKT literals of a store, with one STRtree per CRS."""

    nodes: list[Any]
    literals: list[ox.Literal]
    groups: dict[str, _CrsGroup]
    single: bool                    # every node has exactly one (parsable) WKT literal
    materialised: set[str] = field(default_factory=set)
    #: (pattern, variable) -> its distinct values (None: more than BOUND_LIMIT), per data
    bounds: dict[tuple[str, str], tuple[Any, ...] | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.nodes)

    def relation_pairs(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Positions (i, j) of all node pairs with ``name(wkt_i, wkt_j)`` true."""
        left: list[np.ndarray] = []
        right: list[np.ndarray] = []
        for ka, ga in self.groups.items():
            for kb, gb in self.groups.items():
                i, j = _pairs(name, ga, ka, gb, kb)
                left.append(ga.positions[i])
                right.append(gb.positions[j])
        if not left:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        return np.concatenate(left), np.concatenate(right)

    def matching(self, name: str, const: tuple[BaseGeometry, str], var_first: bool) -> np.ndarray:
        """Positions whose WKT satisfies ``name(var, const)`` (or ``name(const, var)``)."""
        found: list[np.ndarray] = []
        for key, group in self.groups.items():
            probe = gs.to_crs(const[0], const[1], key)
            cand = group.tree.query(_grow(probe, const[1] != key))
            if var_first:     # relate(var, const): const in the var's CRS
                ok = _vector_relate(name, group.geoms[cand], probe)
            else:             # relate(const, var): var in the const's CRS
                moved = np.array([gs.to_crs(g, key, const[1]) for g in group.geoms[cand]],
                                 dtype=object)
                ok = _vector_relate(name, const[0], moved)
            found.append(group.positions[cand[ok]])
        return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.intp)

    def materialise(self, store: ox.Store, name: str) -> None:
        """Write the relation's quads into :data:`INDEX_GRAPH` (once per index)."""
        if name in self.materialised:
            return
        i, j = self.relation_pairs(name)
        predicate = ox.NamedNode(f"{INDEX_GRAPH}#{name}")
        graph = ox.NamedNode(INDEX_GRAPH)
        nodes = self.nodes
        store.extend(ox.Quad(nodes[a], predicate, nodes[b], graph)
                     for a, b in zip(i.tolist(), j.tolist()))
        self.materialised.add(name)


def build_index(store: ox.Store, graphs: Iterable[ox.NamedNode | ox.DefaultGraph]) -> SpatialIndex:
    """Read every ``?node geo:asWKT ?literal`` of ``graphs`` and build the trees."""
    seen: dict[tuple[Any, ox.Literal], None] = {}
    predicate = ox.NamedNode(AS_WKT)
    for graph in graphs:
        for quad in store.quads_for_pattern(None, predicate, None, graph):
            obj = quad.object
            if isinstance(obj, ox.Literal) and obj.datatype.value == gs.WKT_LITERAL:
                seen[(quad.subject, obj)] = None
    nodes: list[Any] = []
    literals: list[ox.Literal] = []
    by_crs: dict[str, tuple[list[int], list[str]]] = {}
    for node, literal in seen:
        try:
            iri, wkt = gs.split_wkt_literal(literal.value)
            key = gs.crs_key(iri)
        except ValueError:
            continue
        positions, texts = by_crs.setdefault(key, ([], []))
        positions.append(len(nodes))
        texts.append(wkt)
        nodes.append(node)
        literals.append(literal)
    groups: dict[str, _CrsGroup] = {}
    for key, (positions, texts) in by_crs.items():
        geoms = shapely.from_wkt(texts, on_invalid="ignore")
        ok = ~shapely.is_missing(geoms)
        geoms = geoms[ok]
        shapely.prepare(geoms)
        groups[key] = _CrsGroup(np.asarray(positions, dtype=np.intp)[ok], geoms,
                                shapely.STRtree(geoms))
    # a node with two literals (even one unreadable, which a FILTER would drop) breaks the
    # node relation's exactness; a node whose only literal is unreadable is simply absent
    single = len({node for node, _ in seen}) == len(seen)
    return SpatialIndex(nodes, literals, groups, single)


def _grow(geom: BaseGeometry, moved: bool) -> BaseGeometry:
    """Envelope for a candidate search, widened a little after a CRS transform."""
    if not moved:
        return geom
    x0, y0, x1, y1 = shapely.bounds(geom)
    pad = 1e-6 * max(x1 - x0, y1 - y0, 1.0)
    return shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _vector_relate(name: str, a: Any, b: Any) -> np.ndarray:
    try:
        return np.asarray(gs.RELATIONS[name](a, b), dtype=bool)
    except shapely.errors.GEOSException:          # one bad pair: evaluate one by one
        aa, bb = np.broadcast_arrays(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
        out = np.zeros(aa.shape, dtype=bool)
        for k, (x, y) in enumerate(zip(aa.ravel(), bb.ravel())):
            try:
                out.flat[k] = bool(gs.RELATIONS[name](x, y))
            except shapely.errors.GEOSException:
                out.flat[k] = False
        return out


def _pairs(name: str, ga: _CrsGroup, ka: str, gb: _CrsGroup, kb: str) -> tuple[np.ndarray, np.ndarray]:
    if ka == kb:
        tree_predicate = _TREE_PREDICATES.get(name)
        if tree_predicate is not None:
            try:
                i, j = gb.tree.query(ga.geoms, predicate=tree_predicate)
                return i, j
            except shapely.errors.GEOSException:
                pass
        i, j = gb.tree.query(ga.geoms)
        ok = _vector_relate(name, ga.geoms[i], gb.geoms[j])
        return i[ok], j[ok]
    # different CRSs: b is evaluated in a's CRS, as the custom function does
    moved = np.array([_grow(gs.to_crs(g, ka, kb), True) for g in ga.geoms], dtype=object)
    i, j = gb.tree.query(moved)
    ok = np.array([gs.relate(name, (ga.geoms[x], ka), (gb.geoms[y], kb))
                   for x, y in zip(i.tolist(), j.tolist())], dtype=bool)
    return i[ok], j[ok]


# --- the rewrite ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Candidate:
    """One rewritable conjunct: the relation, its arguments and where to edit."""

    relation: str
    group_close: int
    conjunct_span: tuple[int, int]
    filter_span: tuple[int, int]
    filter_size: int
    args: tuple[tuple[str, str | None, str | None], ...]   # (var "?x", node var, const)
    #: per argument: span of its ``?node geo:asWKT ?var .`` statement when nothing else
    #: reads ``?var`` (no GRAPH, no ``SELECT *``): the node join makes it redundant
    redundant: tuple[tuple[int, int] | None, ...] = (None, None)
    #: per argument: the group's plain triples linked to its node variable (not through
    #: the other argument), which every solution satisfies
    sides: tuple[tuple[tuple[str, str, str], ...], ...] = ((), ())


@lru_cache(maxsize=256)
def _analyse(query: str) -> tuple[_Candidate, ...]:
    """Rewritable spatial conjuncts of ``query`` (independent of the data)."""
    try:
        tokens = st.tokenize(query)
        if st.has_graph_variable(tokens) or any(t.upper == "SERVICE" for t in tokens):
            return ()
        prefix_map, _ = st.prefixes(tokens)
        found = st.groups(tokens, prefix_map)
    except st.SparqlSyntaxError:
        return ()
    uses: dict[str, int] = {}
    for t in tokens:
        if t.kind == "var":
            uses["?" + t.text[1:]] = uses.get("?" + t.text[1:], 0) + 1
    star = any(t.text == "*" and k > 0 and tokens[k - 1].upper in ("SELECT", "DISTINCT", "REDUCED")
               for k, t in enumerate(tokens))
    named = any(t.upper == "GRAPH" for t in tokens)
    out: list[_Candidate] = []
    for group in found:
        wkt_nodes: dict[str, str] = {}
        for s, p, o in group.triples:
            if p == f"<{AS_WKT}>" and s.startswith("?") and o.startswith("?"):
                wkt_nodes.setdefault(o, s)
        for flt in group.filters:
            for c in flt.conjuncts:
                if not c.function.startswith(gs.GEOF):
                    continue
                relation = c.function[len(gs.GEOF):]
                if relation not in gs.INDEXABLE:
                    continue
                args: list[tuple[str, str | None, str | None]] = []
                for tok, datatype in zip(c.args, c.arg_datatypes):
                    if tok.kind == "var":
                        var = "?" + tok.text[1:]
                        args.append((var, wkt_nodes.get(var), None))
                    elif datatype == gs.WKT_LITERAL:
                        args.append(("", None, _unescape(tok.text)))
                    else:
                        args = []
                        break
                if len(args) != 2:
                    continue
                redundant = tuple(
                    group.statements.get((node, f"<{AS_WKT}>", var))
                    if node is not None and uses.get(var) == 2 and not star and not named
                    else None
                    for var, node, _ in args)
                sides = tuple(
                    tuple(st.connected(group.triples, node, {v for v, _, _ in args} - {var}
                                       | {n for _, n, _ in args if n is not None} - {node}))
                    if node is not None else ()
                    for var, node, _ in args)
                out.append(_Candidate(relation, group.close, (c.start, c.end),
                                      (flt.start, flt.end), flt.n_conjuncts, tuple(args),
                                      redundant, sides))
    return tuple(out)


def _smaller_side(cand: _Candidate, index: SpatialIndex, substitutions: Mapping[str, Any],
                  probe: Probe) -> tuple[str, tuple[Any, ...]] | None:
    """The node variable of the join side with fewer nodes, and its nodes (all IRIs).

    Exact: the side's triples hold in every solution of the group, so its node takes
    only values among their solutions and joining with them removes nothing.
    """
    best: tuple[str, tuple[Any, ...]] | None = None
    def term(text: str) -> str:                          # a bound variable: its value
        value = substitutions.get(text[1:]) if text.startswith("?") else None
        return text if value is None else str(value)

    for (_, node, _), triples in zip(cand.args, cand.sides):
        if node is None or not triples or node[1:] in substitutions:
            continue
        pattern = " ".join(f"{term(s)} {term(p)} {term(o)} ." for s, p, o in triples)
        key = (pattern, node)
        if key not in index.bounds:
            found = probe(pattern, node, BOUND_LIMIT)
            index.bounds[key] = None if found is None else tuple(sorted(found, key=str))
        values = index.bounds[key]
        if values is None or not all(isinstance(n, ox.NamedNode) for n in values):
            continue                                  # (VALUES cannot hold blank nodes)
        if best is None or len(values) < len(best[1]):
            best = (node, values)
    return best


def _unescape(token: str) -> str:
    body = token[3:-3] if token[:3] in ('"""', "'''") else token[1:-1]
    escapes = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'",
               "\\": "\\"}

    def one(m: re.Match[str]) -> str:
        text = m.group()
        if text[1] in "uU":
            return chr(int("0x" + text[2:], 0))
        return escapes.get(text[1], text)

    return re.sub(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", one, body)


def rewrite(query: str, index_for: Any, substitutions: Mapping[str, Any], *,
            materialise: bool = True, probe: Probe | None = None) -> tuple[str, set[str]]:
    """The query with index-backed joins, and the relations that must be materialised.

    ``index_for()`` returns the current :class:`SpatialIndex` (called only when needed);
    ``substitutions`` maps variable names (without ``?``) to bound terms. With
    ``materialise=False`` (a read-only store queried on disk) only constants are rewritten.
    With ``probe``, a two-variable join also gets ``VALUES ?node { ... }`` for the side
    with fewer geometry nodes (at most :data:`BOUND_LIMIT`), found by running that side's
    own triples (once per data state): Oxigraph's planner sizes a VALUES block by its
    rows but every ``?s <p> ?o`` pattern alike, so without it the join may start from
    the large side and walk every pair of the materialised relation (flood x flood
    included) before the small side's patterns prune them.
    """
    candidates = _analyse(query)
    if not candidates:
        return query, set()
    index: SpatialIndex = index_for()
    edits: list[_Edit] = []
    needs: set[str] = set()
    by_filter: dict[tuple[int, int], list[_Candidate]] = {}
    for cand in candidates:
        made = _insertion(cand, index, substitutions, needs if materialise else None, probe)
        if made is not None:
            insertion, node_vars = made
            edits.append(_Edit(cand.group_close, cand.group_close, " " + insertion + " "))
            by_filter.setdefault(cand.filter_span, []).append(cand)
            for (var, _, _), span in zip(cand.args, cand.redundant):
                if span is not None and var in node_vars:
                    edits.append(_Edit(span[0], span[1], ""))
    for span, done in by_filter.items():
        if len(done) == done[0].filter_size:      # nothing left of the FILTER: drop it
            edits.append(_Edit(span[0], span[1], ""))
        else:
            edits.extend(_Edit(c.conjunct_span[0], c.conjunct_span[1], "true") for c in done)
    text = query
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[:e.start] + e.text + text[e.end:]
    return text, needs


def _insertion(cand: _Candidate, index: SpatialIndex, substitutions: Mapping[str, Any],
               needs: set[str] | None, probe: Probe | None = None
               ) -> tuple[str, set[str]] | None:
    """The pattern that replaces the conjunct, and the WKT variables joined through their
    nodes (each node has exactly one WKT literal, so ``?node geo:asWKT ?var`` adds nothing
    for them but the binding of ``?var``)."""
    resolved: list[tuple[str, str | None, tuple[BaseGeometry, str] | None]] = []
    for var, node, const in cand.args:
        if var and var[1:] in substitutions:          # a bound variable is a constant
            parsed = gs.literal_geometry(substitutions[var[1:]])
            if parsed is None:
                return None
            resolved.append(("", None, parsed))
        elif const is not None:
            try:
                parsed = gs.parse_wkt_literal(const)
            except (ValueError, shapely.errors.GEOSException):
                return None
            resolved.append(("", None, parsed))
        else:
            if node is None:
                return None
            resolved.append((var, node, None))
    (va, na, ca), (vb, nb, cb) = resolved
    if ca is None and cb is None:
        if needs is None or not index.single or va == vb or na == nb or na is None or nb is None:
            return None
        needs.add(cand.relation)
        join = f"GRAPH <{INDEX_GRAPH}> {{ {na} <{INDEX_GRAPH}#{cand.relation}> {nb} . }}"
        bound = _smaller_side(cand, index, substitutions, probe) if probe is not None else None
        if bound is not None:
            node, found = bound
            join += f" VALUES {node} {{ {' '.join(str(n) for n in found)} }}"
        return join, {va, vb}
    if ca is not None and cb is not None:
        return None
    var, node, shape = (va, na, cb) if ca is None else (vb, nb, ca)
    assert shape is not None
    hits = index.matching(cand.relation, shape, var_first=ca is None)
    found = [index.nodes[k] for k in hits.tolist()]
    if index.single and node is not None and all(isinstance(n, ox.NamedNode) for n in found):
        values = " ".join(str(n) for n in found)        # (VALUES cannot hold blank nodes)
        return f"{{ SELECT * {{ VALUES {node} {{ {values} }} }} }}", {var}
    values = " ".join(str(index.literals[k]) for k in hits.tolist())
    return f"{{ SELECT * {{ VALUES {var} {{ {values} }} }} }}", set()
