"""Numerical building blocks of the scene simulator, exact on every platform.

Smooth random fields are cubic B-spline lattices evaluated with separable
sparse weights (any window gives the same values as the whole scene), 1-D
random functions are sums of sines, per-pixel randomness is an integer hash.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

_BSPLINE_VAR = 151.0 / 315.0   # mean variance of a 1-D cubic B-spline of unit white noise


def _weights(coords: np.ndarray, start: float, spacing: float, n: int,
             cubic: bool) -> sparse.csr_matrix:
    t = (np.asarray(coords, dtype=np.float64) - start) / spacing
    i = np.floor(t)
    f = t - i
    i = i.astype(np.int64)
    offs: tuple[int, ...]
    w: tuple[np.ndarray, ...]
    if cubic:
        offs = (-1, 0, 1, 2)
        f2, f3 = f * f, f * f * f
        w = ((1 - f) ** 3 / 6, (3 * f3 - 6 * f2 + 4) / 6, (-3 * f3 + 3 * f2 + 3 * f + 1) / 6,
             f3 / 6)
    else:
        offs, w = (0, 1), (1 - f, f)
    rows = np.tile(np.arange(t.size), len(offs))
    cols = np.concatenate([np.clip(i + o, 0, n - 1) for o in offs])
    return sparse.csr_matrix((np.concatenate(w), (rows, cols)), shape=(t.size, n))


class _Grid:
    """Pixel centres (x, y) of a regular grid; interpolates lattices onto it."""

    def __init__(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self.xs, self.ys = xs, ys
        self._wx: dict[tuple[Any, ...], sparse.csr_matrix] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.ys.size, self.xs.size

    def rows(self, r0: int, r1: int) -> _Grid:
        sub = _Grid(self.xs, self.ys[r0:r1])
        sub._wx = self._wx
        return sub

    def shifted(self, dx: float, dy: float) -> _Grid:
        return _Grid(self.xs + dx, self.ys + dy)

    def sample(self, values: np.ndarray, start: tuple[float, float], spacing: float,
               cubic: bool) -> np.ndarray:
        key = (id(values), cubic)
        wx = self._wx.get(key)
        if wx is None:
            wx = self._wx[key] = _weights(self.xs, start[0], spacing, values.shape[1], cubic)
        wy = _weights(self.ys, start[1], spacing, values.shape[0], cubic)
        return np.ascontiguousarray((wx @ (wy @ values).T).T)

    def sample_sum(self, field: _Field) -> np.ndarray:
        """Sum of a field's octaves: one sparse product, one transpose."""
        key = (id(field), "sum")
        wx = self._wx.get(key)
        if wx is None:
            wx = self._wx[key] = sparse.hstack(
                [_weights(self.xs, st[0], sp, v.shape[1], True) for v, st, sp in field.octaves],
                format="csr")
        rows = np.hstack([_weights(self.ys, st[1], sp, v.shape[0], True) @ v
                          for v, st, sp in field.octaves])
        return np.ascontiguousarray((wx @ rows.T).T)

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        return self.xs[None, :], self.ys[:, None]


class _Field:
    """Sum of seeded cubic B-spline lattices (octaves): a smooth field of unit std."""

    def __init__(self, rng: np.random.Generator, extent: Sequence[float],
                 octaves: Sequence[tuple[float, float]]) -> None:
        self.octaves = []
        norm = math.sqrt(sum(a * a for _, a in octaves))
        for spacing, amp in octaves:
            start = (extent[0] - 2 * spacing, extent[1] - 2 * spacing)
            nx = math.ceil((extent[2] - extent[0]) / spacing) + 5
            ny = math.ceil((extent[3] - extent[1]) / spacing) + 5
            values = rng.standard_normal((ny, nx)) * (amp / norm / _BSPLINE_VAR)
            self.octaves.append((values, start, spacing))

    def on(self, grid: _Grid) -> np.ndarray:
        return grid.sample_sum(self)


class _Wave:
    """A smooth random 1-D function: a sum of sines."""

    def __init__(self, rng: np.random.Generator, amps: Sequence[float],
                 wavelengths: Sequence[tuple[float, float]]) -> None:
        self.amps = np.asarray(amps, dtype=np.float64)
        self.k = 2 * np.pi / np.array([rng.uniform(*w) for w in wavelengths])
        self.phase = rng.uniform(0, 2 * np.pi, len(amps))

    def exact(self, t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros(t.shape)
        for a, k, p in zip(self.amps, self.k, self.phase):
            out += a * np.sin(k * t + p)
        return out

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        """Linear interpolation in a 5 m table over +-80 km (fast on large arrays)."""
        if not hasattr(self, "_table"):
            self._table = self.exact(np.arange(-80000.0, 80005.0, 5.0))
        pos = np.clip((np.asarray(t, dtype=np.float64) + 80000.0) / 5.0, 0, 31999.0)
        i = pos.astype(np.int64)
        f = pos - i
        return self._table[i] * (1 - f) + self._table[i + 1] * f


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _hash(key: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """64-bit hash of integer pairs (broadcast), exact on every platform."""
    z: np.ndarray = np.asarray(a, dtype=np.int64).astype(np.uint64) * _GOLD
    z += np.uint64(key & 0xFFFFFFFFFFFFFFFF)
    mixed: np.ndarray = _mix(z) ^ np.asarray(b, dtype=np.int64).astype(np.uint64)
    return _mix(mixed)


def _uniform16(h: np.ndarray, i: int) -> np.ndarray:
    return (((h >> np.uint64(16 * i)) & np.uint64(0xFFFF)).astype(np.float64) + 0.5) / 65536.0


def _snap(x: np.ndarray) -> np.ndarray:
    """Round to a 2**-16 grid: exact in float32, immune to last-bit differences."""
    return (np.round(np.asarray(x, dtype=np.float64) * 65536.0) / 65536.0).astype(np.float32)


def _sun_angles(when: datetime, lon: float, lat: float) -> tuple[float, float]:
    """Solar azimuth (degrees clockwise from north) and elevation (NOAA approximation)."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (when.timetuple().tm_yday - 1 + (hour - 12) / 24)
    eqt = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    ha = math.radians((hour * 60 + eqt + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    elev = math.asin(math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha))
    az = math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi)
                                 - math.tan(decl) * math.cos(phi))) + 180.0
    return az % 360.0, math.degrees(elev)


def _nearest(line: np.ndarray, pts: np.ndarray, *, step: int = 50,
             near: float = 1500.0) -> tuple[np.ndarray, np.ndarray]:
    """Distance from ``pts`` to the vertices of a dense polyline, and the vertex index.

    Exact within ``near`` of the line; farther away the distance to every
    ``step``-th vertex (off by a few metres at most). A k-d tree on all
    vertices is slow for points far from a line, hence the two stages.
    """
    lo, hi = pts.min(axis=0) - 2 * near, pts.max(axis=0) + 2 * near
    keep = np.flatnonzero(((line >= lo) & (line <= hi)).all(axis=1))
    sub = line[keep[0]:keep[-1] + 1]
    dist, idx = cKDTree(sub[::step]).query(pts, workers=-1)
    idx = idx * step
    close = np.flatnonzero(dist < near)
    d2, i2 = cKDTree(sub).query(pts[close], distance_upper_bound=near + step * 10.0, workers=-1)
    ok = np.isfinite(d2)
    dist[close[ok]], idx[close[ok]] = d2[ok], i2[ok]
    return dist, idx + keep[0]


def _release_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps it per thread otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _workers() -> int:
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))
