"""Raster regions to polygons, in pixel coordinates, strip by strip.

Private engine of :func:`eolab.flood.polygonize`. A *region* is a maximal
set of connected pixels of equal non-zero value (zero means "not a
region"), connected through edges (4-connectivity) or edges and corners
(8-connectivity), exactly as GDAL's polygonizer defines its polygons.

Two engines give the same polygons:

* ``"numpy"`` traces the region boundaries with whole-array operations:
  every corner of every boundary ring is found from the 2 x 2 pixel block
  around a grid vertex; each corner's successor is the next corner along
  the line it leaves on; rings are the cycles of that successor map,
  labelled and ordered by pointer jumping. Holes go to the smallest shell of
  the same value that contains a pixel beside them. No Python loop runs per
  polygon, and numpy releases the GIL, so strips trace in parallel threads.
* ``"gdal"`` calls GDALPolygonize through :func:`rasterio.features.shapes`
  (a reference; its GeoJSON conversion is slow for many polygons).

Strips are stitched: pieces of one region cut by a strip seam are found
from the two pixel rows along the seam and unioned, so every region is one
polygon whatever the strip height. Coordinates are pixel corners (x =
column, y = row, integers), so stitching and repairs are exact; the caller
applies the geotransform.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["polygonize_strips", "repair_polygons", "trace_regions"]

# For an arrival direction (0 E, 1 S, 2 W, 3 N; y grows downwards, the region
# lies on the right of the boundary), the 2 x 2 block around the vertex seen
# as (behind-right, behind-left, front-right, front-left).
_FRAMES = {0: ("BL", "TL", "BR", "TR"), 1: ("TL", "TR", "BL", "BR"),
           2: ("TR", "BR", "TL", "BL"), 3: ("BR", "BL", "TR", "TL")}
# Centre of the pixel behind-left of a corner (inside a hole ring), by direction.
_LEFT_PIXEL = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


def _corners(labels: np.ndarray, connectivity: int) -> tuple[np.ndarray, ...]:
    """Every ring corner: vertex (x, y), directions in and out, region value."""
    height, width = labels.shape
    padded = np.zeros((height + 2, width + 2), dtype=labels.dtype)
    padded[1:-1, 1:-1] = labels
    # A vertex can only be a corner where its 2 x 2 block is neither uniform
    # nor split by one straight line; only those vertices are examined.
    same_h = padded[:, :-1] == padded[:, 1:]
    same_v = padded[:-1, :] == padded[1:, :]
    candidate = ~(same_h[:-1] & same_h[1:]) & ~(same_v[:, :-1] & same_v[:, 1:])
    del same_h, same_v
    ys, xs = np.nonzero(candidate)
    del candidate
    blocks = {"TL": padded[ys, xs], "TR": padded[ys, xs + 1],
              "BL": padded[ys + 1, xs], "BR": padded[ys + 1, xs + 1]}
    parts: list[tuple[np.ndarray, ...]] = []
    for arrive_dir, (br, bl, fr, fl) in _FRAMES.items():
        region = blocks[br]
        arrive = (region != 0) & (region != blocks[bl])
        same_fr = blocks[fr] == region
        same_fl = blocks[fl] == region
        if connectivity == 4:   # at a diagonal pinch, turn tight: corners do not connect
            right, left = arrive & ~same_fr, arrive & same_fr & same_fl
        else:                   # at a diagonal pinch, turn wide: corners connect
            right, left = arrive & ~same_fr & ~same_fl, arrive & same_fl
        for turn, mask in ((1, right), (3, left)):
            idx = np.flatnonzero(mask)
            parts.append((xs[idx], ys[idx], np.full(idx.size, arrive_dir, np.int8),
                          np.full(idx.size, (arrive_dir + turn) % 4, np.int8), region[idx]))
    xs, ys, d_in, d_out, values = (np.concatenate(p) for p in zip(*parts, strict=True))
    # Raster order: each ring's first corner is its top-left one, as in GDAL's scan.
    order = np.argsort(ys.astype(np.int64) * (width + 2) + xs, kind="stable")
    return xs[order], ys[order], d_in[order], d_out[order], values[order]


def _successors(xs: np.ndarray, ys: np.ndarray, d_in: np.ndarray, d_out: np.ndarray,
                size: int) -> np.ndarray:
    """Index of the next corner of each corner's ring (the first one along its ray)."""
    succ = np.empty(xs.size, dtype=np.int64)
    xs64, ys64 = xs.astype(np.int64), ys.astype(np.int64)
    for d in range(4):
        line, pos = (ys64, xs64) if d in (0, 2) else (xs64, ys64)
        members = np.flatnonzero(d_in == d)
        keys = line[members] * size + pos[members]
        order = np.argsort(keys)
        keys, members = keys[order], members[order]
        queries = np.flatnonzero(d_out == d)
        qkeys = line[queries] * size + pos[queries]
        if d in (0, 1):   # towards larger x / y
            j = np.searchsorted(keys, qkeys, side="right")
        else:
            j = np.searchsorted(keys, qkeys, side="left") - 1
        succ[queries] = members[j]
    return succ


def _rings(succ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ring label (smallest member) and position from the ring's head, by pointer jumping."""
    n = succ.size
    ring = np.arange(n)
    jump = succ.copy()
    while True:
        new = np.minimum(ring, ring[jump])
        jump = jump[jump]
        if np.array_equal(new, ring):
            break
        ring = new
    head = ring == np.arange(n)
    dist = np.where(head, 0, 1)
    jump = np.where(head, np.arange(n), succ)
    while not np.array_equal(jump, ring):   # steps to the head, doubling each time
        dist = dist + dist[jump]
        jump = jump[jump]
    length = np.bincount(ring, minlength=n)[ring]
    return ring, (length - dist) % length


def trace_regions(labels: np.ndarray, *, connectivity: int = 4, row_offset: int = 0,
                  transform: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Polygons of the regions of ``labels`` (0 = no region), in raster order.

    Returns the polygons (pixel-corner coordinates, ``y`` shifted by
    ``row_offset``, then mapped by the affine ``transform`` coefficients
    ``a, b, c, d, e, f`` if given; rings may touch themselves, see
    :func:`repair_polygons`) and their values.
    """
    world = _affine(transform)
    height, width = labels.shape
    xs, ys, d_in, d_out, values = _corners(labels, connectivity)
    if xs.size == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=labels.dtype)
    ring, pos = _rings(_successors(xs, ys, d_in, d_out, max(height, width) + 2))
    order = np.lexsort((pos, ring))
    ring_sorted = ring[order]
    starts = np.flatnonzero(np.r_[True, ring_sorted[1:] != ring_sorted[:-1]])
    ring_no = np.cumsum(np.r_[False, ring_sorted[1:] != ring_sorted[:-1]])
    x = xs[order].astype(np.float64)
    y = ys[order].astype(np.float64) + row_offset
    nxt = np.arange(1, x.size + 1)
    nxt[np.r_[starts[1:] - 1, x.size - 1]] = starts
    area2 = np.add.reduceat(x * y[nxt] - x[nxt] * y, starts)   # > 0: shell, < 0: hole
    rings = shapely.linearrings(world(np.column_stack([x, y])), indices=ring_no)
    heads = order[starts]
    ring_values = values[heads]
    shell = area2 > 0
    owner = np.flatnonzero(shell)              # polygon k is made from ring owner[k]
    poly_of_ring = np.full(rings.size, -1, dtype=np.int64)
    poly_of_ring[owner] = np.arange(owner.size)
    holes = np.flatnonzero(~shell)
    if holes.size:
        # Only shells at least 3 x 3 pixels wide can hold a hole.
        lo_x, hi_x = np.minimum.reduceat(x, starts), np.maximum.reduceat(x, starts)
        lo_y, hi_y = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
        big = (hi_x - lo_x >= 3) & (hi_y - lo_y >= 3)
        owner_big = owner[big[owner]]
        shells = shapely.polygons(rings[owner_big])
        points = shapely.points(world(np.column_stack([x[starts[holes]], y[starts[holes]]])
                                      + _LEFT_PIXEL[d_in[heads[holes]]]))
        hole_i, shell_k = shapely.STRtree(shells).query(points, predicate="within")
        shell_k = np.flatnonzero(big[owner])[shell_k]      # back to polygon numbers
        same = ring_values[holes[hole_i]] == ring_values[owner[shell_k]]
        hole_i, shell_k = hole_i[same], shell_k[same]
        best = np.lexsort((area2[owner[shell_k]], hole_i))   # smallest enclosing shell first
        first = np.unique(hole_i[best], return_index=True)[1]
        if first.size != holes.size:
            raise RuntimeError("polygonize: a hole ring has no enclosing shell")
        poly_of_ring[holes[hole_i[best][first]]] = shell_k[best][first]
    ring_order = np.lexsort((~shell, poly_of_ring))
    polygons = shapely.polygons(rings[ring_order], indices=poly_of_ring[ring_order])
    return polygons, ring_values[owner]


def _trace_gdal(labels: np.ndarray, *, connectivity: int,
                row_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """The same as :func:`trace_regions` through GDALPolygonize (rasterio)."""
    from affine import Affine
    from rasterio.features import shapes

    work = labels if labels.dtype in (np.uint8, np.uint16, np.int16, np.int32) \
        else labels.astype(np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # NotGeoreferencedWarning for the identity transform
        found = list(shapes(work, mask=work != 0, connectivity=connectivity,
                            transform=Affine.translation(0, row_offset)))
    geoms = np.array([shapely.geometry.shape(g) for g, _ in found] or [], dtype=object)
    values = np.array([v for _, v in found], dtype=labels.dtype)
    return geoms, values


def _seam_pairs(upper: np.ndarray, lower: np.ndarray,
                connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """First columns of the runs of ``upper`` and ``lower`` that connect across a seam."""
    def runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        new = np.r_[True, row[1:] != row[:-1]]
        return np.cumsum(new) - 1, np.flatnonzero(new)

    run_up, first_up = runs(upper)
    run_lo, first_lo = runs(lower)
    cols = np.arange(upper.size)
    pairs = []
    for shift in ((0,) if connectivity == 4 else (-1, 0, 1)):
        c_up = cols[max(0, -shift): upper.size - max(0, shift)]
        c_lo = c_up + shift
        hit = (upper[c_up] != 0) & (upper[c_up] == lower[c_lo])
        pairs.append(np.column_stack([run_up[c_up[hit]], run_lo[c_lo[hit]]]))
    both = np.unique(np.concatenate(pairs), axis=0)
    return first_up[both[:, 0]], first_lo[both[:, 1]]


def _piece_at(geoms: np.ndarray, ids: np.ndarray, cols: np.ndarray, y: float,
              world: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Index (into ``ids``' numbering) of the piece holding each pixel centre (col, y)."""
    xy = world(np.column_stack([cols + 0.5, np.full(cols.size, y)]))
    pts = shapely.points(xy)
    tree = shapely.STRtree(geoms[ids])
    p_i, g_i = tree.query(pts, predicate="intersects")
    found = np.full(cols.size, -1, dtype=np.int64)
    found[p_i] = ids[g_i]
    if (found < 0).any():
        raise RuntimeError("polygonize: a seam pixel lies in no polygon")
    return found


def _affine(transform: Sequence[float] | None) -> Callable[[np.ndarray], np.ndarray]:
    """(x, y) pixel corners to map coordinates: ``x' = a x + b y + c``, ``y' = d x + e y + f``."""
    if transform is None:
        return lambda xy: xy
    a, b, c, d, e, f = (float(v) for v in transform[:6])
    return lambda xy: np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c,
                                       d * xy[:, 0] + e * xy[:, 1] + f])


def polygonize_strips(
    read: Callable[[int, int], np.ndarray],
    height: int,
    *,
    strip_rows: int,
    connectivity: int = 4,
    engine: str = "numpy",
    workers: int = 1,
    transform: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Polygons of all regions of a raster read strip by strip, whole across seams.

    ``read(y0, y1)`` returns rows ``y0:y1`` as a 2-D integer array (0 = no
    region). Returns valid polygons (see :func:`repair_polygons`) and their
    values, in pixel-corner coordinates or, with ``transform`` (the affine
    coefficients ``a, b, c, d, e, f``), in map coordinates. Each strip is
    traced, repaired and (when the transform has no rotation) transformed in
    its own thread; pieces of a region cut by seams are then unioned.
    """
    bounds = [(y0, min(y0 + strip_rows, height)) for y0 in range(0, height, strip_rows)]
    world = _affine(transform)
    # Without rotation a pixel row stays a map row, so seams are found in map coordinates
    # and the numpy tracer writes map coordinates at once.
    early = transform is None or (engine == "numpy" and float(transform[1]) == 0
                                  and float(transform[3]) == 0)
    flip = transform is not None and early and float(transform[4]) < 0

    def one(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        strip = np.ascontiguousarray(read(*span))
        if engine == "numpy":
            geoms, values = trace_regions(strip, connectivity=connectivity, row_offset=span[0],
                                          transform=transform if early else None)
        else:
            geoms, values = _trace_gdal(strip, connectivity=connectivity, row_offset=span[0])
        return repair_polygons(geoms), values, strip[0].copy(), strip[-1].copy()

    if workers > 1 and len(bounds) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, bounds))
    else:
        results = [one(b) for b in bounds]
    geoms = np.concatenate([r[0] for r in results]) if results else np.empty(0, object)
    values = np.concatenate([r[1] for r in results]) if results else np.empty(0, np.int64)
    if len(results) > 1 and geoms.size:
        geoms, values = _stitch(geoms, values, results, bounds, connectivity,
                                world if early else _affine(None), flip)
    if not early:
        geoms = shapely.transform(geoms, world)
    return geoms, values


def _stitch(geoms: np.ndarray, values: np.ndarray, results: list[Any],
            bounds: list[tuple[int, int]], connectivity: int,
            world: Callable[[np.ndarray], np.ndarray], flip: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """Union the pieces of regions cut by strip seams (see :func:`polygonize_strips`)."""
    offsets = np.cumsum([0] + [r[0].size for r in results])
    box = shapely.bounds(geoms)
    top, bottom = (box[:, 3], box[:, 1]) if flip else (box[:, 1], box[:, 3])
    links = []
    for k in range(1, len(results)):
        seam = bounds[k][0]
        seam_y = world(np.array([[0.0, float(seam)]]))[0, 1]
        col_up, col_lo = _seam_pairs(results[k - 1][3], results[k][2], connectivity)
        if col_up.size == 0:
            continue
        up_ids = np.arange(offsets[k - 1], offsets[k])
        lo_ids = np.arange(offsets[k], offsets[k + 1])
        up = _piece_at(geoms, up_ids[bottom[up_ids] == seam_y], col_up, seam - 0.5, world)
        lo = _piece_at(geoms, lo_ids[top[lo_ids] == seam_y], col_lo, seam + 0.5, world)
        links.append(np.column_stack([up, lo]))
    if not links:
        return geoms, values
    edges = np.concatenate(links)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                       shape=(geoms.size, geoms.size))
    _, group = connected_components(graph, directed=False)
    first = np.unique(group, return_index=True)[1]           # earliest piece of each region
    sizes = np.bincount(group)
    merged = geoms[first].copy()
    for g in np.flatnonzero(sizes > 1):
        merged[g] = repair_polygons(np.array([shapely.union_all(geoms[group == g])]))[0]
    order = np.argsort(first)
    return merged[order], values[first][order]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a geometry (a repaired geometry may hold lines)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def repair_polygons(geoms: np.ndarray) -> np.ndarray:
    """Valid, polygonal copies of ``geoms`` (``make_valid`` where invalid)."""
    geoms = np.array(geoms, dtype=object)
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    if bad.size:
        try:
            fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
        except (TypeError, ValueError, shapely.errors.UnsupportedGEOSVersionError):
            fixed = shapely.make_valid(geoms[bad])   # shapely < 2.1 or GEOS < 3.10
        geoms[bad] = [_polygonal(g) for g in fixed]
    return geoms
