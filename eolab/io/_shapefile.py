"""A vectorised ESRI Shapefile writer for polygons with integer attributes (private).

:func:`eolab.io.vectors.write_vectors` writes the flood polygons (often
hundreds of thousands) as a Shapefile. Through GDAL each feature is built
and written one at a time; here the ``.shp``, ``.shx``, ``.dbf``, ``.prj``
and ``.cpg`` files are assembled with whole-array operations, with the
conventions of GDAL's Shapefile driver (so GDAL reads back the same
features, field types and CRS): outer rings clockwise and holes
counter-clockwise, integer fields ``N`` of width 9, an ESRI WKT ``.prj``
and a ``UTF-8`` ``.cpg``. Anything else (other geometry or field types,
empty or 3-D geometries, no rows) is left to GDAL: :func:`write_polygons`
then returns ``False``.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

__all__ = ["write_polygons"]

_INT_WIDTH = 9          # GDAL's width for OFTInteger fields
_INT_KINDS = {np.dtype(t) for t in ("int8", "int16", "int32", "uint8", "uint16")}
_HEADER = np.dtype([("code", ">i4"), ("unused", ">i4", 5), ("length", ">i4"),
                    ("version", "<i4"), ("type", "<i4"), ("box", "<f8", 4),
                    ("zm", "<f8", 4)])
_RECORD = np.dtype([("number", ">i4"), ("length", ">i4"), ("type", "<i4"),
                    ("box", "<f8", 4), ("nparts", "<i4"), ("npoints", "<i4")])
_POLYGON = 5


def _fields(gdf: Any) -> list[tuple[str, np.ndarray]] | None:
    """The attribute columns as (name, int64 values), or None if one does not fit the fast path."""
    out = []
    for name in gdf.columns:
        if name == gdf.geometry.name:
            continue
        values = gdf[name].to_numpy()
        if values.dtype not in _INT_KINDS or not str(name).isascii():
            return None
        values = values.astype(np.int64)
        if values.size and (values.min() < -(10 ** (_INT_WIDTH - 1)) + 1
                            or values.max() >= 10 ** _INT_WIDTH):
            return None
        out.append((str(name), values))
    return out


def _header(length_bytes: int, box: np.ndarray) -> bytes:
    head = np.zeros(1, _HEADER)
    head["code"], head["length"], head["version"] = 9994, length_bytes // 2, 1000
    head["type"], head["box"] = _POLYGON, box
    return head.tobytes()


def _rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ring coordinates, ring sizes (points) and rings per geometry, in GEOS order.

    A polygon without holes is one ring of all its coordinates; only the
    other geometries are taken apart into rings (the slow step).
    """
    coords = shapely.get_coordinates(geoms)
    count = shapely.get_num_coordinates(geoms)
    simple = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    nrings = np.ones(geoms.size, np.int64)
    sizes = count.astype(np.int64)
    if not simple.all():
        other = np.flatnonzero(~simple)
        parts, part_of = shapely.get_parts(geoms[other], return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        nrings[other] = np.bincount(part_of[ring_of], minlength=other.size)
        first_ring = np.r_[0, np.cumsum(nrings)[:-1]]
        all_sizes = np.ones(int(nrings.sum()), np.int64)
        all_sizes[first_ring[simple]] = sizes[simple]
        slots = first_ring[other][part_of[ring_of]] + _rank(part_of[ring_of])
        all_sizes[slots] = shapely.get_num_coordinates(rings)
        sizes = all_sizes
        exterior = np.zeros(sizes.size, bool)
        exterior[first_ring[simple]] = True
        exterior[slots[np.r_[True, ring_of[1:] != ring_of[:-1]]]] = True
    else:
        exterior = np.ones(sizes.size, bool)
    if int(sizes.sum()) != len(coords):
        raise ValueError("ring sizes do not add up")
    return _oriented(coords, sizes, exterior), sizes, nrings


def _rank(group: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) ``group`` values."""
    start = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    return np.arange(group.size) - np.repeat(start, np.diff(np.r_[start, group.size]))


def _oriented(coords: np.ndarray, sizes: np.ndarray, exterior: np.ndarray) -> np.ndarray:
    """Rings reversed where needed: exteriors clockwise, holes counter-clockwise."""
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    x, y = coords[:, 0], coords[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]           # shoelace; ring ends are closed
    cross = np.r_[cross, 0.0]
    ends = starts + sizes - 1
    cross[ends] = 0.0                                   # no term across two rings
    area2 = np.add.reduceat(cross, starts)
    flip = np.flatnonzero(np.where(exterior, area2 > 0, area2 < 0))
    if flip.size == 0:
        return coords
    ring_of_pt = np.repeat(np.arange(sizes.size), sizes)
    index = np.arange(len(coords))
    sel = np.isin(ring_of_pt, flip)
    index[sel] = (starts + ends)[ring_of_pt[sel]] - index[sel]
    return coords[index]


def _shp_shx(geoms: np.ndarray) -> tuple[bytes, bytes]:
    coords, ring_sizes, nrings = _rings(geoms)
    ring_offsets = np.r_[0, np.cumsum(ring_sizes)]
    ring_start = np.r_[0, np.cumsum(nrings)]
    n = geoms.size
    nparts = np.diff(ring_start)
    pts_start = ring_offsets[ring_start]
    npoints = np.diff(pts_start)
    size = 8 + 44 + 4 * nparts + 16 * npoints          # bytes; all multiples of 4
    rec_off = 100 + np.r_[0, np.cumsum(size[:-1])]
    total = 100 + int(size.sum())
    if total >= 2 ** 31:                     # beyond the format's 2 GB file length
        raise OverflowError("shapefile too large")
    bounds = shapely.bounds(geoms)
    head = np.zeros(n, _RECORD)
    head["number"] = np.arange(1, n + 1)
    head["length"] = (size - 8) // 2
    head["type"] = _POLYGON
    head["box"] = bounds
    head["nparts"], head["npoints"] = nparts, npoints
    # Move whole 4-byte words: record header (13 words), parts (1 each), points (4 each).
    words = np.empty(total // 4, np.uint32)
    words[:25] = np.frombuffer(_header(total, _box(bounds)), np.uint32)
    rec_w = rec_off // 4
    words[(rec_w[:, None] + np.arange(13)).ravel()] = \
        np.frombuffer(head.tobytes(), np.uint32)
    rec_of_ring = np.repeat(np.arange(n), nparts)
    ring_no = np.arange(rec_of_ring.size) - ring_start[rec_of_ring]
    words[rec_w[rec_of_ring] + 13 + ring_no] = \
        (ring_offsets[:-1] - pts_start[rec_of_ring]).astype("<i4").view(np.uint32)
    rec_of_pt = np.repeat(np.arange(n), npoints)
    first = (rec_w + 13 + nparts - 4 * pts_start[:-1])[rec_of_pt] + 4 * np.arange(rec_of_pt.size)
    words[(first[:, None] + np.arange(4)).ravel()] = \
        np.ascontiguousarray(coords, dtype="<f8").view(np.uint32).ravel()
    index = np.empty((n, 2), ">i4")
    index[:, 0], index[:, 1] = rec_off // 2, (size - 8) // 2
    shx = _header(100 + 8 * n, _box(bounds)) + index.tobytes()
    return words.tobytes(), shx


def _box(bounds: np.ndarray) -> np.ndarray:
    return np.array([bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(),
                     bounds[:, 3].max()])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Integers as right-aligned ASCII text, ``width`` bytes a row (as ``f"{v:>{width}d}"``)."""
    mag = np.abs(values)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    text = (mag[:, None] // powers % 10 + ord("0")).astype(np.uint8)
    ndigits = 1 + (mag[:, None] >= powers[:-1][::-1]).sum(axis=1)
    column = np.arange(width)
    text[column < (width - ndigits)[:, None]] = ord(" ")
    neg = np.flatnonzero(values < 0)
    text[neg, width - ndigits[neg] - 1] = ord("-")
    return text


def _dbf(fields: list[tuple[str, np.ndarray]], n: int) -> bytes:
    today = datetime.date.today()
    record_size = 1 + _INT_WIDTH * len(fields)
    head = bytearray(32)
    head[0] = 0x03
    head[1:4] = bytes([today.year - 1900, today.month, today.day])
    head[4:8] = n.to_bytes(4, "little")
    head[8:10] = (32 + 32 * len(fields) + 1).to_bytes(2, "little")
    head[10:12] = record_size.to_bytes(2, "little")
    for name, _ in fields:
        desc = bytearray(32)
        desc[:len(name)] = name.encode("ascii")
        desc[11] = ord("N")
        desc[16], desc[17] = _INT_WIDTH, 0
        head += desc
    head += b"\r"
    table = np.full((n, record_size), ord(" "), np.uint8)
    for k, (_, values) in enumerate(fields):
        table[:, 1 + k * _INT_WIDTH: 1 + (k + 1) * _INT_WIDTH] = _digits(values, _INT_WIDTH)
    return bytes(head) + table.tobytes() + b"\x1a"


def write_polygons(gdf: Any, path: Path) -> bool:
    """Write ``gdf`` as the Shapefile ``path`` (``.shp``) and sidecars; ``False`` if unsupported.

    Supported: at least one row, every geometry a non-empty 2-D Polygon or
    MultiPolygon, integer columns (8- or 16-bit, or 32-bit values of at most
    9 digits) and a CRS that has an ESRI WKT.
    """
    fields = _fields(gdf)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if fields is None or geoms.size == 0 or gdf.crs is None:
        return False
    types = shapely.get_type_id(geoms)
    if not np.isin(types, (3, 6)).all() or shapely.is_empty(geoms).any() \
            or shapely.has_z(geoms).any():
        return False
    try:
        prj = gdf.crs.to_wkt("WKT1_ESRI")
        shp, shx = _shp_shx(geoms)
    except (ValueError, OverflowError, RuntimeError):   # no ESRI WKT, too large: GDAL decides
        return False
    if not prj:
        return False
    path = Path(path)
    path.write_bytes(shp)
    path.with_suffix(".shx").write_bytes(shx)
    path.with_suffix(".dbf").write_bytes(_dbf(fields, geoms.size))
    path.with_suffix(".prj").write_text(prj)
    path.with_suffix(".cpg").write_text("UTF-8")
    return True
