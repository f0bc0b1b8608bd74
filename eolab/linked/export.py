"""Apply a mapping to a vector layer and write N-Triples or Turtle, as GeoTriples' ``dump_rdf``.

The layer (a GeoDataFrame, or a Shapefile/GeoPackage read a chunk at a time)
is turned into RDF by plain string formatting, chunk by chunk, so memory
stays bounded whatever the number of features, and the output is the same
bytes on every run. Each feature ``gid`` (1, 2, ... in the layer's order, as
GeoTriples numbers them) gives::

    <base><layer>/id/<gid> rdf:type <vocab><layer> ;
        <vocab>has_<field> "value"^^xsd:... ;          (one per mapped field)
        geo:hasGeometry <base><layer>/Geometry/<gid> .
    <base><layer>/Geometry/<gid> rdf:type geo:Geometry ;
        geo:asWKT "<http://www.opengis.net/def/crs/EPSG/0/4326> MULTIPOLYGON (...)"^^geo:wktLiteral.

Coordinates are written longitude first (the layer is reprojected to
EPSG:4326 unless ``reproject=False``), as GeoTriples and Strabon do;
``crs84=True`` writes the same coordinates under the CRS84 IRI (strict
GeoSPARQL 1.1, which Oxigraph's built-in functions need). Null attribute
values give no triple (as NULL in R2RML). Invalid geometries are repaired
with ``make_valid`` (keeping polygonal parts of polygons) or refused
(``invalid="raise"``); features whose geometry is missing or empty after
repair keep their attributes, lose the geometry node, and are reported
(:class:`ExportReport`, plus a warning) — never dropped silently.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from eolab._polygonize import repair_polygons
from eolab.errors import CRSError, MappingError, OutputError
from eolab.io.rasters import atomic_path
from eolab.linked._terms import (
    CRS84,
    GADMO,
    GADMR,
    GEO,
    RDF_TYPE,
    XSD,
    epsg_iri,
    escape_string,
    fill_template,
    lexical,
    template_columns,
)
from eolab.linked.mapping import (
    ROW_NUMBER_COLUMNS,
    Mapping,
    PropertyMap,
    mapping_for,
    parse_mapping,
    read_mapping,
)

__all__ = [
    "DEFAULT_BASE_IRI",
    "ExportReport",
    "RdfStream",
    "cli_dump_rdf",
    "iter_rdf",
    "to_rdf",
    "write_rdf",
]

DEFAULT_BASE_IRI = "http://ai.di.uoa.gr/flood/"
_FORMATS = {".nt": "nt", ".ttl": "ttl"}
_EXACT_DIGITS = 24       # GEOS decimals that give coordinates back bit for bit
_POLYGON, _LINE = 3, 1
_TTL_PREFIXES = (("rdf", RDF_TYPE[:-4]), ("xsd", XSD), ("geo", GEO))
_KNOWN_PREFIXES = {DEFAULT_BASE_IRI + "ontology#": "flo", GADMR: "gadmr", GADMO: "gadmo"}

LayerLike: TypeAlias = "gpd.GeoDataFrame | str | os.PathLike[str]"
Column: TypeAlias = "str | list[str | None] | _Wrapped"   # one object, or one per subject
MappingLike: TypeAlias = "Mapping | str | os.PathLike[str]"


@dataclass
class ExportReport:
    """What an export wrote: counts, and the ``gid`` of repaired or geometry-less features."""

    features: int = 0
    triples: int = 0
    repaired: list[int] = field(default_factory=list)
    without_geometry: list[int] = field(default_factory=list)
    path: Path | None = None


def _resolve_mapping(mapping: MappingLike | None, layer: LayerLike, *, base_iri: str,
                     name: str | None, kind: str, style: str) -> Mapping:
    if mapping is None:
        return mapping_for(layer, base_iri=base_iri, name=name, kind=kind, style=style)
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, os.PathLike) or ("\n" not in mapping and (
            Path(mapping).is_file() or mapping.lower().endswith((".ttl", ".rml", ".r2rml")))):
        return read_mapping(mapping, base_iri=base_iri)
    return parse_mapping(mapping, base_iri=base_iri)


class _Terms:
    """The fixed terms of a mapping, written once as N-Triples or Turtle."""

    def __init__(self, mapping: Mapping, fmt: str, crs_iri: str | None) -> None:
        self.ttl = fmt == "ttl"
        self.mapping = mapping
        self.prefixes = list(_TTL_PREFIXES)
        if self.ttl:                # the mapping's own namespaces as vocab:, ns1:, ...
            iris = [*mapping.classes, *(p.predicate for p in mapping.properties)]
            spaces = dict.fromkeys(i[:max(i.rfind("#"), i.rfind("/")) + 1] for i in iris)
            known = {ns for _, ns in self.prefixes}
            names = iter(["vocab"] + [f"ns{k}" for k in range(1, len(spaces) + 1)])
            self.prefixes += [(_KNOWN_PREFIXES.get(ns) or next(names), ns) for ns in spaces
                              if ns and ns not in known]
        self.type = self.iri(RDF_TYPE)
        self.classes = [self.iri(c) for c in mapping.classes]
        self.preds = [self.iri(p.predicate) for p in mapping.properties]
        self.dtypes = [None if p.language else self.iri(p.datatype or XSD + "string")
                       for p in mapping.properties]
        g = mapping.geometry
        if g is not None:
            self.link = self.iri(g.link)
            self.geo_classes = [self.iri(c) for c in g.classes]
            self.wkt = self.iri(g.wkt_predicate)
            self.funcs = [(self.iri(p), f) for p, f in g.functions]
        self.wkt_prefix = f'"<{crs_iri}> ' if crs_iri else '"'
        self.wkt_suffix = '"^^' + self.iri(GEO + "wktLiteral")

    def iri(self, iri: str) -> str:
        if self.ttl:
            if iri == RDF_TYPE:
                return "a"
            for prefix, ns in self.prefixes:
                local = iri[len(ns):]
                if iri.startswith(ns) and local.isidentifier() and local.isascii():
                    return f"{prefix}:{local}"
        return f"<{iri}>"

    def header(self) -> str:
        if not self.ttl:
            return ""
        return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in self.prefixes) + "\n"


@dataclass(frozen=True)
class _Wrapped:
    """One term per subject, ``prefix + str(value) + suffix``, formatted only when written.

    The N-Triples writer puts prefix and suffix into its per-feature f-string, so the
    common columns (row-number IRIs, integer literals, WKT literals) are never built
    as separate strings.
    """

    prefix: str
    values: list[Any]
    suffix: str

    def strings(self) -> list[str]:
        p, s = self.prefix, self.suffix
        return [f"{p}{v}{s}" for v in self.values]


def _strings(column: list[str | None] | list[str] | _Wrapped) -> list[Any]:
    return column.strings() if isinstance(column, _Wrapped) else column


def _subjects(template: str, chunk: pd.DataFrame, gids: np.ndarray) -> list[str] | _Wrapped:
    cols = template_columns(template)
    if len(cols) == 1 and cols[0] in ROW_NUMBER_COLUMNS:
        head, _, tail = template.partition("{")
        tail = tail.partition("}")[2]
        return _Wrapped(f"<{head}", gids.tolist(), f"{tail}>")
    values = [gids.tolist() if c in ROW_NUMBER_COLUMNS else chunk[c].tolist() for c in cols]
    return [f"<{fill_template(template, row, iri=True)}>" for row in zip(*values, strict=True)]


def _objects(prop: PropertyMap, dtype: str | None, chunk: pd.DataFrame, gids: np.ndarray
             ) -> list[str | None] | _Wrapped:
    texts: list[str | None]
    if prop.template is not None:
        cols = template_columns(prop.template)
        values = [gids.tolist() if c in ROW_NUMBER_COLUMNS else chunk[c].tolist()
                  for c in cols]
        texts = [fill_template(prop.template, row, iri=False) for row in
                 zip(*values, strict=True)] if cols else [prop.template] * len(gids)
    else:
        column = prop.column or ""
        series = chunk[column]
        if prop.datatype == XSD + "integer" and pd.api.types.is_integer_dtype(series.dtype) \
                and not series.hasnans:
            return _Wrapped('"', series.to_numpy().tolist(), f'"^^{dtype}')
        texts = []
        for gid, value in zip(gids.tolist(), series.tolist(), strict=True):
            try:
                texts.append(lexical(value, prop.datatype))
            except (TypeError, ValueError) as exc:
                raise MappingError(f"feature {gid}: {column}={value!r} does not fit "
                                   f"<{prop.datatype}> ({exc}); edit the mapping's "
                                   "rr:datatype") from exc
    if prop.language:
        return [None if t is None else f'"{escape_string(t)}"@{prop.language}' for t in texts]
    return [None if t is None else f'"{escape_string(t)}"^^{dtype}' for t in texts]


def _geometry_functions(geoms: np.ndarray) -> dict[str, list[str]]:
    bools = {"isSimple": shapely.is_simple(geoms), "isEmpty": shapely.is_empty(geoms),
             "is3D": shapely.has_z(geoms)}
    ints = {"dimension": shapely.get_dimensions(geoms),
            "coordinateDimension": shapely.get_coordinate_dimension(geoms),
            "spatialDimension": shapely.get_coordinate_dimension(geoms)}
    out = {k: [f'"{str(bool(b)).lower()}"' for b in v.tolist()] for k, v in bools.items()}
    out.update({k: [f'"{int(i)}"' for i in v.tolist()] for k, v in ints.items()})
    return out


class RdfStream:
    """Iterator of RDF text chunks (N-Triples or Turtle) of a layer; ``report`` fills as it goes.

    Made by :func:`iter_rdf`; ``"".join(stream)`` is the whole document.
    """

    def __init__(self, layer: LayerLike, mapping: Mapping, *, fmt: str, crs84: bool,
                 reproject: bool, invalid: str, multi: bool, precision: int | None,
                 chunk_size: int, layer_name: str | None, workers: int | None = 1) -> None:
        if fmt not in ("nt", "ttl"):
            raise OutputError(f"format must be 'nt' or 'ttl', got {fmt!r}")
        if invalid not in ("repair", "raise"):
            raise MappingError(f"invalid must be 'repair' or 'raise', got {invalid!r}")
        if int(chunk_size) < 1:
            raise MappingError(f"chunk_size must be at least 1, got {chunk_size!r}")
        self.mapping, self.fmt, self.crs84, self.reproject = mapping, fmt, crs84, reproject
        self.invalid, self.multi, self.chunk_size = invalid, multi, int(chunk_size)
        if workers is not None and int(workers) < 1:
            raise MappingError(f"workers must be at least 1 (or None), got {workers!r}")
        self.workers = _default_workers() if workers is None else int(workers)
        self.precision = _EXACT_DIGITS if precision is None else int(precision)
        self.layer, self.layer_name = layer, layer_name
        self.report = ExportReport()
        self._columns, crs = self._schema()
        self._check_columns()
        self.crs_iri = self._crs_iri(crs)
        self.terms = _Terms(mapping, fmt, self.crs_iri)

    def _schema(self) -> tuple[list[str], Any]:
        if isinstance(self.layer, gpd.GeoDataFrame):
            return [str(c) for c in self.layer.columns], self.layer.crs
        path = Path(self.layer)
        if not path.exists():
            raise MappingError(f"layer file not found: {path}")
        import pyogrio

        try:
            info = pyogrio.read_info(path, layer=self.layer_name)
        except Exception as exc:  # pyogrio raises its own types
            raise MappingError(f"cannot read the layer {path.name}: {exc}") from exc
        self._count = int(info["features"])
        return [str(c) for c in info["fields"]], info["crs"]

    def _check_columns(self) -> None:
        missing = [c for c in self.mapping.columns() if c not in self._columns]
        if missing:
            raise MappingError(f"the mapping reads columns {missing} that the layer lacks "
                               f"(columns: {self._columns}); edit the mapping or the layer")

    def _crs_iri(self, crs: Any) -> str | None:
        if self.mapping.geometry is None:
            return None
        if crs is None:
            raise CRSError("the layer has no CRS; set it (gdf.set_crs(...)) before export")
        from pyproj import CRS

        crs = CRS.from_user_input(crs)
        self.source_crs = crs
        self._needs_reprojection = self.reproject and crs.to_epsg() != 4326
        if self.reproject:
            return CRS84 if self.crs84 else epsg_iri(4326)
        epsg = crs.to_epsg()
        if self.crs84:
            if epsg != 4326 and crs != CRS.from_user_input("OGC:CRS84"):
                raise CRSError("crs84=True needs longitude/latitude: keep reproject=True")
            return CRS84
        if epsg is None:
            raise CRSError(f"the layer's CRS has no EPSG code ({crs.name}); reproject it")
        return epsg_iri(epsg)

    def _chunks(self) -> Iterator[gpd.GeoDataFrame]:
        start = 0
        while isinstance(self.layer, gpd.GeoDataFrame) or self._count < 0 \
                or start < self._count:
            chunk = self._chunk_at(start)
            if len(chunk) == 0:
                return
            yield chunk
            start += len(chunk)

    def _geometries(self, chunk: gpd.GeoDataFrame, gids: np.ndarray) -> np.ndarray:
        geoms = chunk.geometry
        if self._needs_reprojection:
            geoms = geoms.set_crs(self.source_crs, allow_override=True).to_crs(4326)
        values = np.array(geoms.values, dtype=object)      # a copy: the layer stays as it is
        invalid = ~shapely.is_valid(values) & ~shapely.is_missing(values)
        if invalid.any():
            if self.invalid == "raise":
                raise MappingError(f"features {gids[invalid].tolist()[:20]} have invalid "
                                   "geometries; pass invalid='repair' or fix them")
            polygonal = np.isin(shapely.get_type_id(values), (_POLYGON, 6))
            fix_poly = np.flatnonzero(invalid & polygonal)
            fix_other = np.flatnonzero(invalid & ~polygonal)
            if fix_poly.size:
                values[fix_poly] = repair_polygons(values[fix_poly])
            if fix_other.size:
                values[fix_other] = shapely.make_valid(values[fix_other])
            self.report.repaired += gids[invalid].tolist()
        return values

    def _geometry_parts(self, chunk: gpd.GeoDataFrame, start: int
                        ) -> tuple[np.ndarray, np.ndarray, _Wrapped]:
        """Geometries (checked, repaired), their missing mask and their WKT texts.

        The texts come as :class:`_Wrapped` so that the common case, a chunk of plain
        2-D polygons made multi, is ``"MULTIPOLYGON (" + text[8:] + ")"`` without a
        Python string per feature.

        Vectorised shapely work that releases the GIL: :meth:`__iter__` runs it for the
        next chunk on a second thread while the current chunk's strings are formatted.
        """
        gids = np.arange(start + 1, start + len(chunk) + 1)
        geoms = self._geometries(chunk, gids)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        wkts = shapely.to_wkt(geoms, rounding_precision=self.precision, trim=True).tolist()
        if not self.multi:
            return geoms, missing, _Wrapped("", wkts, "")
        # POLYGON ((..)) -> MULTIPOLYGON (((..))), LINESTRING (..) -> MULTILINESTRING ((..)):
        # the text GEOS writes for the one-part multi geometry, without building it.
        types = shapely.get_type_id(geoms)
        if (types == _POLYGON).all() and not shapely.has_z(geoms).any():
            return geoms, missing, _Wrapped("MULTIPOLYGON (", [w[8:] for w in wkts], ")")
        single = np.isin(types, (_POLYGON, _LINE)) & ~missing
        for i in np.flatnonzero(single).tolist():
            w = wkts[i]
            cut = w.index("(")
            wkts[i] = f"MULTI{w[:cut]}({w[cut:]})"
        return geoms, missing, _Wrapped("", wkts, "")

    def _text(self, chunk: gpd.GeoDataFrame, start: int,
              geo: tuple[np.ndarray, np.ndarray, _Wrapped] | None = None) -> tuple[str, int]:
        """The chunk's RDF, built column-wise: one list of strings per triple slot."""
        m, t = self.mapping, self.terms
        n = len(chunk)
        gids = np.arange(start + 1, start + n + 1)
        subjects = _subjects(m.subject_template, chunk, gids)
        po: list[tuple[str, Column]] = [(t.type, c) for c in t.classes]
        po += list(zip(t.preds, [_objects(p, d, chunk, gids) for p, d in
                                 zip(m.properties, t.dtypes, strict=True)], strict=True))
        g = m.geometry
        if g is None:
            return self._join([(subjects, po)], n)
        geoms, missing, wkts = geo if geo is not None else self._geometry_parts(chunk, start)
        if missing.any():
            self.report.without_geometry += gids[missing].tolist()
        gsubjects = _subjects(g.template, chunk, gids)
        literal: list[str | None] | _Wrapped
        if missing.any():
            literal = [None if gone else f"{t.wkt_prefix}{w}{t.wkt_suffix}"
                       for w, gone in zip(wkts.strings(), missing.tolist(), strict=True)]
            po.append((t.link, [None if gone else gs for gs, gone in
                                zip(_strings(gsubjects), missing.tolist(), strict=True)]))
        else:
            literal = _Wrapped(t.wkt_prefix + wkts.prefix, wkts.values,
                               wkts.suffix + t.wkt_suffix)
            po.append((t.link, gsubjects))
        gpo: list[tuple[str, Column]] = [(t.type, c) for c in t.geo_classes]
        gpo.append((t.wkt, literal))
        if t.funcs:
            values = _geometry_functions(geoms)
            for pred, name in t.funcs:
                if name in ("asWKT", "hasSerialization"):
                    gpo.append((pred, literal))
                    continue
                dtype = t.iri(XSD + ("boolean" if name.startswith("is") else "integer"))
                gpo.append((pred, [None if gone else f"{v}^^{dtype}" for v, gone in
                                   zip(values[name], missing.tolist(), strict=True)]))
        if missing.any():       # no geometry node at all for those features
            gpo = [(p, [None] * n if isinstance(o, str) else o) for p, o in gpo] \
                if missing.all() else [(p, [None if gone else o for gone in missing.tolist()]
                                        if isinstance(o, str) else o) for p, o in gpo]
        return self._join([(subjects, po), (gsubjects, gpo)], n)

    def _join(self, blocks: list[tuple[list[str] | _Wrapped, list[tuple[str, Column]]]],
              n: int) -> tuple[str, int]:
        """The text of ``n`` features, each the blocks of its subjects in turn."""
        if self.fmt == "nt":
            return self._join_nt(blocks, n)
        done = [self._rows(_strings(subjects), [(p, o if isinstance(o, str) else _strings(o))
                                                for p, o in po], n)
                for subjects, po in blocks]
        rows = chain.from_iterable(zip(*(r for r, _ in done), strict=True))
        return "".join(rows), sum(c for _, c in done)

    @staticmethod
    def _join_nt(blocks: list[tuple[list[str] | _Wrapped, list[tuple[str, Column]]]], n: int
                 ) -> tuple[str, int]:
        """N-Triples of ``n`` features through one f-string per feature.

        The per-feature text is the concatenation of ``pieces``: constants (predicates,
        fixed objects, punctuation) and per-feature columns (subjects, objects). It is
        built by a list comprehension compiled for this layout (:func:`_row_formatter`),
        which CPython runs about twice as fast as ``str.format`` or per-triple strings.
        """
        pieces: list[str | int] = []           # str: constant text; int: index in args
        args: list[list[Any]] = []

        def column(values: list[str] | _Wrapped) -> list[str | int]:
            args.append(values.values if isinstance(values, _Wrapped) else values)
            if isinstance(values, _Wrapped):
                return [values.prefix, len(args) - 1, values.suffix]
            return [len(args) - 1]

        count = 0
        for subjects, po in blocks:
            s = column(subjects)
            for pred, objs in po:
                if isinstance(objs, str):
                    pieces += [*s, f" {pred} {objs} .\n"]
                    count += n
                    continue
                gaps = 0 if isinstance(objs, _Wrapped) else objs.count(None)
                if gaps:            # the whole triple, or nothing, per feature
                    pieces += column([f"{sub} {pred} {o} .\n" if o is not None else ""
                                      for sub, o in zip(_strings(subjects), objs,
                                                        strict=True)])
                else:
                    pieces += [*s, f" {pred} ", *column(objs), " .\n"]
                count += n - gaps
        return "".join(_row_formatter(tuple(pieces), len(args))(args)), count

    def _rows(self, subjects: list[str], po: list[tuple[str, Column]], n: int
              ) -> tuple[list[str], int]:
        """One text block per subject; ``po`` objects are a constant or a list (None = none)."""
        cols: list[list[str]] = []
        count = 0
        nt = self.fmt == "nt"
        for pred, objs in po:
            if isinstance(objs, str):
                cols.append([f"{s} {pred} {objs} .\n" for s in subjects] if nt
                            else [f"\n    {pred} {objs} ;"] * n)
                count += n
                continue
            if nt:
                cols.append([f"{s} {pred} {o} .\n" if o is not None else ""
                             for s, o in zip(subjects, objs, strict=True)])
            else:
                cols.append([f"\n    {pred} {o} ;" if o is not None else "" for o in objs])
            count += n - objs.count(None)
        if not cols:
            return [""] * n, 0
        bodies = list(map("".join, zip(*cols, strict=True)))
        if nt:
            return bodies, count
        return [f"{s}{b} .\n" if b else "" for s, b in zip(subjects, bodies, strict=True)], count

    def _chunk_at(self, start: int) -> gpd.GeoDataFrame:
        if isinstance(self.layer, gpd.GeoDataFrame):
            return self.layer.iloc[start:start + self.chunk_size]
        import pyogrio

        return pyogrio.read_dataframe(self.layer, layer=self.layer_name,
                                      columns=self.mapping.columns(), skip_features=start,
                                      max_features=self.chunk_size,
                                      read_geometry=self.mapping.geometry is not None)

    def _chunk_result(self, start: int) -> tuple[str, int, int, list[int], list[int]]:
        """One chunk's text, triple count, features and report lists (run in a worker)."""
        self.report = ExportReport()
        chunk = self._chunk_at(start)
        text, count = self._text(chunk, start)
        return text, count, len(chunk), self.report.repaired, self.report.without_geometry

    def _forkable(self) -> bool:
        """Worker processes are used when they can start by ``fork`` at no risk.

        Only where ``fork`` exists (not Windows or macOS's default), the process runs no
        other Python thread (Jupyter kernels do: they keep the thread path), the layer's
        size is known and it spans more than one chunk.
        """
        import multiprocessing
        import threading

        total = len(self.layer) if isinstance(self.layer, gpd.GeoDataFrame) else self._count
        return (self.workers > 1 and total > self.chunk_size and sys.platform == "linux"
                and "fork" in multiprocessing.get_all_start_methods()
                and threading.active_count() == 1)

    def _iter_processes(self) -> Iterator[str]:
        """Chunks formatted by ``workers`` forked processes, written in order.

        At most two chunks per worker are in flight, so memory stays bounded however
        slowly the caller consumes the text.
        """
        import multiprocessing
        from collections import deque

        global _FORKED
        total = len(self.layer) if isinstance(self.layer, gpd.GeoDataFrame) else self._count
        starts = iter(range(0, total, self.chunk_size))
        _FORKED = self
        try:
            with multiprocessing.get_context("fork").Pool(self.workers) as pool:
                pending: deque[Any] = deque()
                for start in starts:
                    pending.append(pool.apply_async(_forked_chunk, (start,)))
                    if len(pending) >= 2 * self.workers:
                        break
                while pending:
                    text, count, features, repaired, without = pending.popleft().get()
                    nxt = next(starts, None)
                    if nxt is not None:
                        pending.append(pool.apply_async(_forked_chunk, (nxt,)))
                    self.report.features += features
                    self.report.triples += count
                    self.report.repaired += repaired
                    self.report.without_geometry += without
                    yield text
        finally:
            _FORKED = None

    def __iter__(self) -> Iterator[str]:
        self.report = ExportReport()
        header = self.terms.header()
        if header:
            yield header
        if self._forkable():
            yield from self._iter_processes()
            self._warn()
            return
        from concurrent.futures import ThreadPoolExecutor

        with_geometry = self.mapping.geometry is not None
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending: tuple[gpd.GeoDataFrame, int, Any] | None = None
            start = 0
            for chunk in chain(self._chunks(), [None]):
                ahead = None
                if chunk is not None and with_geometry:  # the next chunk's shapely work
                    ahead = pool.submit(self._geometry_parts, chunk, start)
                if pending is not None:
                    done, first, future = pending
                    text, count = self._text(done, first, future.result() if future else None)
                    self.report.features = first + len(done)
                    self.report.triples += count
                    yield text
                if chunk is not None:
                    pending = (chunk, start, ahead)
                    start += len(chunk)
        self._warn()

    def _warn(self) -> None:
        if self.report.without_geometry:
            ids = self.report.without_geometry
            warnings.warn(f"{len(ids)} feature(s) have no geometry (missing, empty, or empty "
                          f"after repair) and were written without one: gid {ids[:10]}"
                          f"{' ...' if len(ids) > 10 else ''}", UserWarning, stacklevel=2)
        if self.report.repaired:
            ids = self.report.repaired
            warnings.warn(f"{len(ids)} invalid geometr{'y was' if len(ids) == 1 else 'ies were'}"
                          f" repaired with make_valid: gid {ids[:10]}"
                          f"{' ...' if len(ids) > 10 else ''}", UserWarning, stacklevel=3)


@functools.lru_cache(maxsize=64)
def _row_formatter(pieces: tuple[str | int, ...], n_args: int) -> Callable[[list[list[str]]],
                                                                          list[str]]:
    """``columns -> [row text, ...]`` for ``pieces`` (see :meth:`RdfStream._join_nt`).

    The generated source holds only generated names (``a0``, ``c0``...): the constants'
    text reaches it as values of the namespace, never as code.
    """
    consts = {f"c{i}": p for i, p in enumerate(pieces) if isinstance(p, str)}
    body = "".join(f"{{a{p}}}" if isinstance(p, int) else f"{{c{i}}}"
                   for i, p in enumerate(pieces))
    names = ", ".join(f"a{k}" for k in range(n_args))
    source = f"lambda cols: [f'{body}' for {names}, in zip(*cols, strict=True)]"
    fn: Callable[[list[list[str]]], list[str]] = eval(source, {"zip": zip, **consts})  # noqa: S307
    return fn


_FORKED: RdfStream | None = None     # the stream forked workers inherit


def _forked_chunk(start: int) -> tuple[str, int, int, list[int], list[int]]:
    assert _FORKED is not None
    return _FORKED._chunk_result(start)


def _default_workers() -> int:
    """Worker processes for an export: the usable cores, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def iter_rdf(
    layer: LayerLike,
    *,
    mapping: MappingLike | None = None,
    base_iri: str = DEFAULT_BASE_IRI,
    name: str | None = None,
    kind: str = "r2rml",
    style: str = "tutorial",
    format: str = "nt",
    crs84: bool = False,
    reproject: bool = True,
    invalid: str = "repair",
    multi: bool = True,
    precision: int | None = None,
    chunk_size: int = 2_000,
    layer_name: str | None = None,
    workers: int | None = None,
) -> RdfStream:
    """The RDF of a layer as an iterator of text chunks (see :func:`write_rdf` for options)."""
    resolved = _resolve_mapping(mapping, layer, base_iri=base_iri, name=name, kind=kind,
                                style=style)
    return RdfStream(layer, resolved, fmt=format, crs84=crs84, reproject=reproject,
                     invalid=invalid, multi=multi, precision=precision, chunk_size=chunk_size,
                     layer_name=layer_name, workers=workers)


def to_rdf(layer: LayerLike, **options: Any) -> str:
    """The whole RDF document of a (small) layer as one string; options as :func:`iter_rdf`."""
    return "".join(iter_rdf(layer, **options))


def write_rdf(
    layer: LayerLike,
    dest: str | os.PathLike[str],
    *,
    mapping: MappingLike | None = None,
    base_iri: str = DEFAULT_BASE_IRI,
    name: str | None = None,
    kind: str = "r2rml",
    style: str = "tutorial",
    format: str | None = None,
    crs84: bool = False,
    reproject: bool = True,
    invalid: str = "repair",
    multi: bool = True,
    precision: int | None = None,
    chunk_size: int = 2_000,
    layer_name: str | None = None,
    overwrite: bool = False,
    workers: int | None = None,
) -> ExportReport:
    """Write a layer as N-Triples or Turtle through a mapping, as GeoTriples' ``dump_rdf``.

    Parameters
    ----------
    layer
        A GeoDataFrame, or the path of a Shapefile/GeoPackage (read
        ``chunk_size`` features at a time).
    dest
        Output file; written under a temporary name and renamed when done.
    mapping
        A :class:`~eolab.linked.mapping.Mapping`, mapping text (Turtle) or the
        path of a mapping file; default: :func:`~eolab.linked.mapping.mapping_for`
        the layer with ``base_iri``, ``name``, ``kind`` and ``style``.
    base_iri
        Base of the IRIs (default the tutorial's ``http://ai.di.uoa.gr/flood/``);
        also resolves relative IRIs in a mapping text.
    format
        ``"nt"`` or ``"ttl"``; default from the suffix of ``dest``.
    crs84
        Write the CRS84 IRI instead of EPSG:4326 (same longitude-first
        coordinates; strict GeoSPARQL 1.1).
    reproject
        Reproject to EPSG:4326 (default); ``False`` keeps the layer's CRS and
        writes its EPSG IRI, as GeoTriples does.
    invalid
        ``"repair"`` (``make_valid``; polygons keep their polygonal parts) or
        ``"raise"`` (:class:`MappingError` naming the features).
    multi
        Write polygons and lines as MULTIPOLYGON / MULTILINESTRING, as
        GeoTriples does for Shapefiles.
    precision
        Decimals of WKT coordinates; default: as many as give the stored
        doubles back exactly.
    chunk_size
        Features formatted at a time (memory is bounded by it).
    workers
        Processes that format chunks side by side (``None``: the usable cores, at most
        4; ``1``: this process, with the geometry work of the next chunk on a thread).
        Workers start by ``fork`` and only on Linux in a process without other
        threads (so never inside a Jupyter kernel); elsewhere the export runs in this
        process. The output is the same bytes either way.
    layer_name
        Layer of a multi-layer file (GeoPackage).
    overwrite
        Replace an existing ``dest``.

    Returns
    -------
    ExportReport
        Features and triples written, ``gid`` of repaired features and of
        features written without geometry.

    Raises
    ------
    MappingError
        The mapping is malformed or reads missing columns, a value does not
        fit its datatype, or (``invalid="raise"``) a geometry is invalid.
    CRSError
        The layer has no CRS.
    OutputError
        ``dest`` exists (without ``overwrite``), its folder is missing, or the
        format is unknown; nothing is left behind.
    """
    dest = Path(dest)
    fmt = format or _FORMATS.get(dest.suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot tell the RDF format of {dest.name}: use a .nt or .ttl "
                          "name, or pass format='nt'|'ttl'")
    if dest.exists() and not overwrite:
        raise OutputError(f"{dest} already exists; pass overwrite=True (--overwrite) to "
                          "replace it")
    if not dest.parent.is_dir():
        raise OutputError(f"the folder {dest.parent} does not exist")
    stream = iter_rdf(layer, mapping=mapping, base_iri=base_iri, name=name, kind=kind,
                      style=style, format=fmt, crs84=crs84, reproject=reproject,
                      invalid=invalid, multi=multi, precision=precision, chunk_size=chunk_size,
                      layer_name=layer_name, workers=workers)
    with atomic_path(dest) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(stream)
    stream.report.path = dest
    return stream.report


def cli_dump_rdf(mapping: str, *, output: str, base_iri: str = DEFAULT_BASE_IRI,
                 shapefile: str, format: str | None = None, crs84: bool = False,
                 overwrite: bool = False) -> ExportReport:
    """``eolab geotriples dump_rdf -o OUT -b BASE -sh LAYER MAPPING`` (thin CLI helper)."""
    return write_rdf(shapefile, output, mapping=Path(mapping), base_iri=base_iri,
                     format=format, crs84=crs84, overwrite=overwrite)

