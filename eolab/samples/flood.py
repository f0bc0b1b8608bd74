"""Deterministic simulation of the tutorial's flood scene (exercise 1).

A seeded model of the March 2021 flood north-west of Sydney on the real
Sentinel-2 tile grid T56HKH (EPSG:32756): terrain with a river valley, land
cover, permanent water, a flood on the second date, clouds, shadows, haze and
sensor noise, rendered as L2A bottom-of-atmosphere reflectance for the twelve
L2A bands at their native resolutions. Everything is simulated; the truth
(land cover, flood, permanent water, clouds) is known exactly.

Every quantity is a function of the map position and the seed only: random
fields are cubic B-spline lattices and per-pixel hashes anchored to the full
scene, so a smaller ``window`` reproduces exactly the matching part of the
full scene. Values that cross a threshold or a rounding step are computed in
float64 and stored on exact binary grids, so that the same seed gives the same
bytes on every platform (the checksum registry relies on it).

The model, its class table and its spectra are described in
``data_samples/README.md``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from affine import Affine
from scipy import ndimage, sparse
from scipy.spatial import cKDTree

from eolab.errors import AOIError, BandError

__all__ = [
    "BANDS",
    "BAND_RESOLUTION",
    "CLASS_ENDMEMBERS",
    "CLOUD_CLASSES",
    "DATES",
    "DEFAULT_SEED",
    "ENDMEMBERS",
    "EPSG",
    "FULL_WINDOW",
    "GENERATION_TIMES",
    "GENERATOR_VERSION",
    "LANDCOVER_CLASSES",
    "NOISE_SIGMA",
    "SENSING_TIMES",
    "TILE_ID",
    "TILE_ORIGIN",
    "FloodScene",
    "simulate_flood_scene",
]

#: Seed of the bundled samples (the registry describes this one).
DEFAULT_SEED = 2021
#: Bumped whenever the generator's output changes for a given seed.
GENERATOR_VERSION = "1"
EPSG = 32756
TILE_ID = "56HKH"
#: Upper-left corner of tile T56HKH (ULX, ULY).
TILE_ORIGIN = (199980.0, 6300040.0)
#: The scene: the tutorial AOI's bounds snapped outward to 60 m, cut at the tile's east edge.
FULL_WINDOW = (279480.0, 6258040.0, 309780.0, 6292540.0)
DATES = ("20210315", "20210325")
SENSING_TIMES = {"20210315": datetime(2021, 3, 15, 0, 2, 41, tzinfo=UTC),
                 "20210325": datetime(2021, 3, 25, 0, 2, 41, tzinfo=UTC)}
GENERATION_TIMES = {"20210315": datetime(2021, 3, 15, 2, 3, 46, tzinfo=UTC),
                    "20210325": datetime(2021, 3, 25, 2, 26, 49, tzinfo=UTC)}
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BAND_RESOLUTION = {"B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
                   "B08": 10, "B8A": 20, "B09": 60, "B11": 20, "B12": 20}
#: Standard deviation of the sensor noise (reflectance), every band and date.
NOISE_SIGMA = 0.006
LANDCOVER_CLASSES = {1: "permanent water", 2: "urban", 3: "forest", 4: "cropland",
                     5: "grassland", 6: "bare soil"}
CLOUD_CLASSES = {0: "clear", 1: "cloud", 2: "cloud shadow", 3: "thin cirrus"}

#: Endmember spectra (BOA reflectance) in the order of :data:`BANDS`.
ENDMEMBERS: dict[str, tuple[float, ...]] = {
    "clear water": (.045, .040, .038, .022, .016, .010, .009, .008, .007, .005, .003, .002),
    "turbid water": (.075, .085, .115, .125, .120, .085, .075, .068, .060, .035, .018, .010),
    "impervious": (.100, .110, .130, .150, .170, .190, .200, .210, .215, .190, .250, .220),
    "eucalypt canopy": (.022, .025, .048, .030, .080, .190, .230, .250, .265, .225, .140, .065),
    "green crop": (.025, .030, .070, .035, .110, .290, .370, .400, .415, .350, .210, .100),
    "green grass": (.035, .040, .075, .055, .115, .240, .290, .310, .325, .280, .240, .140),
    "dry grass": (.060, .070, .100, .135, .175, .215, .235, .250, .265, .235, .330, .250),
    "soil": (.070, .080, .110, .150, .180, .200, .215, .225, .240, .215, .310, .260),
    "cloud": (.560, .550, .545, .550, .555, .560, .565, .570, .570, .420, .400, .300),
    "haze": (.070, .058, .042, .028, .024, .021, .019, .016, .015, .012, .005, .002),
    "cirrus": (.040, .040, .039, .038, .038, .037, .037, .036, .036, .030, .028, .020),
}
#: Per class: (endmember A, endmember B, meaning of the mixing fraction m);
#: a pure pixel is ``K * (m * A + (1 - m) * B)``, K a brightness texture.
CLASS_ENDMEMBERS = {
    1: ("turbid water", "clear water", "turbidity"),
    2: ("green grass", "impervious", "garden fraction"),
    3: ("eucalypt canopy", "dry grass", "canopy cover"),
    4: ("green crop", "soil", "crop cover"),
    5: ("green grass", "dry grass", "greenness"),
    6: ("dry grass", "soil", "residue cover"),
}
#: Fraction of the surface signal removed under a full cloud shadow (skylight keeps blue).
_SHADOW_DEPTH = (.45, .50, .55, .60, .62, .64, .65, .66, .66, .66, .68, .70)
_TEXTURE = {1: .04, 2: .18, 3: .07, 4: .05, 5: .06, 6: .08}   # relative brightness texture
_CANOPY = {1: (1.0, 0.0), 2: (5.0, .6), 3: (15.0, .75), 4: (.8, 1.0), 5: (.3, 1.0),
           6: (.05, 1.0)}   # height (m), visible fraction when just flooded
_PSF_W = 0.1065  # 3-tap Gaussian PSF, sigma 0.5 px, of the 10 m bands

_MARGIN = 6000.0          # lattices reach this far beyond the scene (shadows, PSF)
_COARSE = 60.0            # grid of the distance fields
_COARSE_PAD = 1200.0
_BSPLINE_VAR = 151.0 / 315.0   # mean variance of a 1-D cubic B-spline of unit white noise


# --------------------------------------------------------------------------- fields
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


# --------------------------------------------------------------------------- the world
@dataclass
class _Channel:
    points: np.ndarray     # (n, 2) centre line, downstream end first for tributaries
    tangent: np.ndarray
    width: float
    origin: np.ndarray     # main: axis point; tributary: junction
    direction: np.ndarray  # main: downstream axis; tributary: upstream axis


class _World:
    """Everything the seed decides, independent of the window."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        x0, y0, x1, y1 = FULL_WINDOW
        ext = (x0 - _MARGIN, y0 - _MARGIN, x1 + _MARGIN, y1 + _MARGIN)
        self.center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        self.key = (self.seed * 0x100000001B3) & 0xFFFFFFFFFFFF

        def rng(stream: int) -> np.random.Generator:
            return np.random.default_rng([self.seed, stream])

        self.hills = _Field(rng(1), ext, [(2400, 1.0), (1000, .5), (400, .25)])
        self.micro = _Field(rng(2), ext, [(240, 1.0), (90, .6)])
        self.forest_noise = _Field(rng(3), ext, [(1500, 1.0), (400, .6), (120, .3)])
        self.town_noise = _Field(rng(4), ext, [(300, 1.0), (100, .5)])
        self.texture = _Field(rng(5), ext, [(120, .6), (30, .8)])
        self.texture2 = _Field(rng(6), ext, [(400, 1.0), (60, .7)])
        self.lake_noise = _Field(rng(7), ext, [(300, 1.0), (120, .5)])
        self.clouds = {DATES[0]: _Field(rng(8), ext, [(1000, 1.0), (400, .5), (150, .25)]),
                       DATES[1]: _Field(rng(9), ext, [(3000, 1.0), (1200, .6), (500, .35),
                                                      (200, .2)])}
        self.haze = _Field(rng(10), ext, [(6000, 1.0), (2000, .5)])
        self.cirrus = _Field(rng(11), ext, [(5000, 1.0), (1500, .6), (500, .3)])
        self.warp = _Field(rng(12), ext, [(900, 1.0), (300, .3)])
        self._draw_rivers(rng(20))
        self._draw_terrain_params(rng(21))
        self._coarse_fields()
        self._calibrate_flood(rng(23))
        self._draw_features(rng(22))
        self._calibrate_atmosphere(rng(24))
        _release_memory()

    # -- rivers
    def _draw_rivers(self, r: np.random.Generator) -> None:
        phi = math.radians(r.uniform(72, 108))
        d = np.array([math.cos(phi), math.sin(phi)])
        nrm = np.array([-d[1], d[0]])
        origin = self.center + np.array([r.uniform(-5000, 5000), 0.0])
        lateral = _Wave(r, [r.uniform(1500, 3000), r.uniform(600, 1500), r.uniform(150, 400),
                            r.uniform(80, 250)], [(18e3, 40e3), (7e3, 14e3), (1.8e3, 4.5e3),
                                                  (0.9e3, 1.8e3)])
        t = np.arange(-40000.0, 40000.0, 5.0)
        pts = origin + t[:, None] * d + lateral.exact(t)[:, None] * nrm
        self.main = _Channel(pts, np.gradient(pts, axis=0), r.uniform(85, 120), origin, d)
        self.axis_normal = nrm
        self.main_lateral = lateral
        self.tribs: list[_Channel] = []
        self.trib_t: list[float] = []
        for k, (lo, hi) in enumerate(((-12000, -3000), (3000, 12000))):
            tj = r.uniform(lo, hi)
            side = 1.0 if (k == 0) == (r.uniform() < 0.5) else -1.0
            theta = math.radians(r.uniform(40, 75))
            dk = math.cos(theta) * (-d) + math.sin(theta) * side * nrm
            nk = np.array([-dk[1], dk[0]])
            junction = origin + tj * d + float(lateral.exact(tj)) * nrm
            wave = _Wave(r, [r.uniform(500, 1200), r.uniform(60, 140)],
                         [(12e3, 25e3), (0.8e3, 1.6e3)])
            a = np.arange(0.0, 45000.0, 5.0)
            lat = wave.exact(a) - wave.exact(0.0)
            pts = junction + a[:, None] * dk + lat[:, None] * nk
            self.tribs.append(_Channel(pts, np.gradient(pts, axis=0), r.uniform(18, 32),
                                       junction, dk))
            self.trib_t.append(tj)

    def _draw_terrain_params(self, r: np.random.Generator) -> None:
        self.z0, self.gradient = 8.0, 0.35e-3
        self.fp_width = [(r.uniform(700, 1500), _Wave(r, [.45, .25], [(8e3, 20e3), (3e3, 7e3)]))
                         for _ in range(2)]                    # left, right of the main river
        self.wall = [(r.uniform(20, 60), _Wave(r, [.3], [(6e3, 15e3)])) for _ in range(2)]
        self.trib_fp = [(r.uniform(150, 400), _Wave(r, [.3], [(3e3, 8e3)])) for _ in self.tribs]
        self.trib_wall = [r.uniform(10, 30) for _ in self.tribs]
        self.trib_slope = [r.uniform(1.0e-3, 2.0e-3) for _ in self.tribs]
        psi = r.uniform(0, 2 * np.pi)
        self.trend_dir = np.array([math.cos(psi), math.sin(psi)])
        self.trend = r.uniform(1.0e-3, 2.5e-3)
        x0, y0, x1, y1 = FULL_WINDOW
        corners = np.array([[x0 - _MARGIN, y0 - _MARGIN], [x1 + _MARGIN, y0 - _MARGIN],
                            [x0 - _MARGIN, y1 + _MARGIN], [x1 + _MARGIN, y1 + _MARGIN]])
        self.trend_min = float((corners @ self.trend_dir).min())
        self.flood_rise = r.uniform(0.2, 0.4)   # flood deeper upstream than downstream

    def _coarse_fields(self) -> None:
        x0, y0, x1, y1 = FULL_WINDOW
        p = _COARSE_PAD
        xs = np.arange(x0 - p + _COARSE / 2, x1 + p, _COARSE)
        ys = np.arange(y0 - p + _COARSE / 2, y1 + p, _COARSE)
        self.coarse_start = (float(xs[0]), float(ys[0]))
        gx, gy = np.meshgrid(xs, ys)
        pts = np.column_stack([gx.ravel(), gy.ravel()])
        self.coarse: dict[str, np.ndarray] = {}
        for name, ch in [("main", self.main)] + [(f"trib{k}", c) for k, c in enumerate(self.tribs)]:
            dist, idx = _nearest(ch.points, pts)
            rel = pts - ch.points[idx]
            cross = ch.tangent[idx, 0] * rel[:, 1] - ch.tangent[idx, 1] * rel[:, 0]
            signed = np.where(cross >= 0, dist, -dist)
            self.coarse[name + "_n"] = signed.reshape(gx.shape)
            if name != "main":
                self.coarse[name + "_d"] = dist.reshape(gx.shape)
                valid = (idx > 0) & (idx < len(ch.points) - 1)
                self.coarse[name + "_valid"] = valid.reshape(gx.shape).astype(np.float64)
        self.coarse_grid = _Grid(xs, ys)
        terrain = self.terrain(self.coarse_grid)
        gy_, gx_ = np.gradient(terrain["dem"], _COARSE)
        self.coarse["slope"] = np.hypot(gx_, gy_)
        self.coarse["hr"] = terrain["dem"] - terrain["zw"]
        self.coarse["dem"] = terrain["dem"]

    def coarse_on(self, grid: _Grid, name: str) -> np.ndarray:
        return grid.sample(self.coarse[name], self.coarse_start, _COARSE, False)

    # -- terrain
    def _fp(self, spec: tuple[float, _Wave], t: np.ndarray) -> np.ndarray:
        mean, wave = spec
        return np.maximum(mean * (1 + wave(t)), 150.0)

    @staticmethod
    def _valley(d: np.ndarray, width: np.ndarray, wall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        over = np.maximum(d - width, 0.0)
        e = np.exp(-over / 1500.0)
        return 2.0 + 0.8e-3 * d + wall * (1 - e * e * e) + 0.004 * over, 1 - e

    def terrain(self, grid: _Grid, *, channels: bool = False) -> dict[str, np.ndarray]:
        """DEM, normal water level and flood-level terms of the dominant channel."""
        X, Y = grid.mesh()
        d = self.main.direction
        t = (X - self.main.origin[0]) * d[0] + (Y - self.main.origin[1]) * d[1]
        n = self.coarse_on(grid, "main_n")
        dist = np.abs(n)
        left = n > 0
        width = np.where(left, self._fp(self.fp_width[0], t), self._fp(self.fp_width[1], t))
        wall = np.where(left, self.wall[0][0] * (1 + self.wall[0][1](t)),
                        self.wall[1][0] * (1 + self.wall[1][1](t)))
        hills = self.hills.on(grid)
        relief = 25.0 * np.logaddexp(0.0, 1.2 * (hills + 0.5)) \
            + self.trend * ((X * self.trend_dir[0] + Y * self.trend_dir[1]) - self.trend_min)
        zw = self.z0 - self.gradient * t
        prof, ramp = self._valley(dist, width, wall)
        levee = 1.5 * np.exp(-np.maximum(dist - self.main.width / 2, 0) / 150.0)
        base = zw + prof + levee + relief * ramp
        rise = 1.0 + self.flood_rise * np.tanh(-t / 12000.0)   # flood height factor
        out = {"dom": np.zeros(base.shape, np.int8), "zw": zw, "rise": rise, "dist": dist}
        if channels:
            out["chan"] = dist < self.main.width / 2
        for k, ch in enumerate(self.tribs):
            dk = ch.direction
            a = np.maximum((X - ch.origin[0]) * dk[0] + (Y - ch.origin[1]) * dk[1], 0.0)
            dist_k = self.coarse_on(grid, f"trib{k}_d")
            zw_k = self.z0 - self.gradient * self.trib_t[k] + self.trib_slope[k] * a
            prof_k, ramp_k = self._valley(dist_k, self._fp(self.trib_fp[k], a),
                                          np.full_like(a, self.trib_wall[k]))
            base_k = zw_k + prof_k + relief * ramp_k
            take = base_k < base
            base = np.where(take, base_k, base)
            out["zw"] = np.where(take, zw_k, out["zw"])
            out["dom"][take] = k + 1
            if channels:
                nk = self.coarse_on(grid, f"trib{k}_n")
                ok = self.coarse_on(grid, f"trib{k}_valid") > 1 - 1e-9
                out["chan"] |= ok & (np.abs(nk) < ch.width / 2)
        out["dem"] = base + 1.0 * self.micro.on(grid)
        return out

    def level(self, terrain: dict[str, np.ndarray], height: float | None = None) -> np.ndarray:
        """Flood water surface: ``height`` above normal level, rising upstream; backwater
        up the tributaries."""
        h = self.flood_height if height is None else height
        level = terrain["zw"] + h * terrain["rise"]
        for k, tj in enumerate(self.trib_t):
            at_junction = self.z0 - self.gradient * tj \
                + h * (1 + self.flood_rise * math.tanh(-tj / 12000.0))
            sel = terrain["dom"] == k + 1
            level = np.where(sel, np.maximum(at_junction, terrain["zw"] + 0.5 * h), level)
        return level

    # -- discrete features
    def _draw_features(self, r: np.random.Generator) -> None:
        hr, slope = self.coarse["hr"].ravel(), self.coarse["slope"].ravel()
        n_main = np.abs(self.coarse["main_n"]).ravel()
        xs, ys = self.coarse_grid.xs, self.coarse_grid.ys
        x0, y0, x1, y1 = FULL_WINDOW
        gx, gy = np.meshgrid(xs, ys)
        inside = ((gx > x0 + 1000) & (gx < x1 - 1000) & (gy > y0 + 1000) & (gy < y1 - 1000)).ravel()

        def pick(mask: np.ndarray, count: int) -> np.ndarray:
            cand = np.flatnonzero(mask & inside)
            sel = r.choice(cand, size=min(count, cand.size), replace=False)
            return np.column_stack([gx.ravel()[sel], gy.ravel()[sel]])

        # towns: two straddling the floodplain edge, the others on low, gentle ground
        towns = []
        d = self.main.direction
        for _ in range(2):
            tt = r.uniform(-12000, 12000)
            side = 1 if r.uniform() < 0.5 else 0
            radius = r.uniform(900, 1600)
            width = float(self._fp(self.fp_width[side], np.array(tt)))
            i = int(np.argmin(np.abs((self.main.points - self.main.origin) @ d - tt)))
            tan = self.main.tangent[i] / np.hypot(*self.main.tangent[i])
            normal = np.array([-tan[1], tan[0]]) * (1 if side == 0 else -1)
            towns.append((*(self.main.points[i] + normal * (width + 0.7 * radius)), radius))
        # distance (m) from each coarse cell to the flood, so that the other towns stay dry
        dry = ndimage.distance_transform_edt(~self.flood20) * 20.0
        col = np.clip(((gx - x0) // 20).astype(int), 0, dry.shape[1] - 1)
        row = np.clip(((y1 - gy) // 20).astype(int), 0, dry.shape[0] - 1)
        dry = dry[row, col].ravel()
        for _ in range(int(r.integers(7, 11))):
            radius = r.uniform(600, 2000)
            ok = (hr > 5) & (hr < 60) & (slope < 0.08) & (dry > 1.1 * radius)
            spot = pick(ok, 1)
            if len(spot):
                towns.append((*spot[0], radius))
        self.towns = np.array(towns)
        # reservoirs on high ground, lagoons on the floodplain, farm dams anywhere
        lakes = []
        for x, y in pick((hr > np.quantile(hr, 0.6)) & (n_main > 4000), 2):
            lakes.append((x, y, r.uniform(1200, 2800), r.uniform(250, 600),
                          r.uniform(0, np.pi), 0.35))
        for _ in range(int(r.integers(4, 8))):
            tt = r.uniform(-15000, 15000)
            side = 1 if r.uniform() < 0.5 else 0
            width = float(self._fp(self.fp_width[side], np.array(tt)))
            i = int(np.argmin(np.abs((self.main.points - self.main.origin) @ d - tt)))
            tan = self.main.tangent[i] / np.hypot(*self.main.tangent[i])
            normal = np.array([-tan[1], tan[0]]) * (1 if side == 0 else -1)
            c = self.main.points[i] + normal * width * r.uniform(0.3, 0.7)
            lakes.append((c[0], c[1], r.uniform(150, 400), r.uniform(30, 70),
                          math.atan2(tan[1], tan[0]), 0.15))
        self.lakes = np.array(lakes)
        n = int(r.integers(30, 45))
        self.dams = np.column_stack([r.uniform(x0, x1, n), r.uniform(y0, y1, n),
                                     r.uniform(15, 35, n)])
        # parcels and the land-cover thresholds
        self.parcel_angle = r.uniform(0, np.pi / 2)
        self.parcel_size = (r.uniform(350, 550), r.uniform(200, 320))
        forest_score = self._forest_score(self.coarse_grid, self.coarse["hr"],
                                          self.coarse["slope"])
        self.forest_threshold = float(np.quantile(forest_score.ravel()[inside],
                                                  1 - r.uniform(0.36, 0.46)))

    def _forest_score(self, grid: _Grid, hr: np.ndarray, slope: np.ndarray) -> np.ndarray:
        return hr / 40.0 + slope / 0.08 + 0.9 * self.forest_noise.on(grid)

    # -- flood
    def _calibrate_flood(self, r: np.random.Generator) -> None:
        """Flood height so that the connected flood covers a drawn share of the scene."""
        x0, y0, x1, y1 = FULL_WINDOW
        self.grid20 = _Grid(np.arange(x0 + 10, x1, 20.0), np.arange(y1 - 10, y0, -20.0))
        ter: dict[str, np.ndarray] = {}
        ny = self.grid20.shape[0]
        for r0 in range(0, ny, 256):    # in row blocks, to keep the temporaries small
            part = self.terrain(self.grid20.rows(r0, min(r0 + 256, ny)), channels=True)
            for key in ("dem", "zw", "rise", "dom", "chan"):
                if key not in ter:
                    ter[key] = np.empty(self.grid20.shape, part[key].dtype)
                ter[key][r0:r0 + 256] = part[key]
        chan = ter["chan"]
        target = r.uniform(0.045, 0.075)
        structure = np.ones((3, 3), bool)

        def connected(h: float) -> np.ndarray:
            wet = (ter["dem"] < self.level(ter, h)) | chan
            labels, _ = ndimage.label(wet, structure)
            keep = np.unique(labels[chan])
            keep = keep[keep > 0]
            flooded: np.ndarray = np.isin(labels, keep) & ~chan
            return flooded

        lo, hi = 0.5, 20.5
        for _ in range(11):
            mid = (lo + hi) / 2
            if connected(mid).mean() < target:
                lo = mid
            else:
                hi = mid
        self.flood_height = round((lo + hi) / 2, 2)
        flood20 = connected(self.flood_height)
        self.dem20 = ter["dem"].astype(np.float32)
        self.level20 = self.level(ter).astype(np.float32)
        self.flood20 = flood20
        self.region20 = ndimage.binary_dilation(flood20, structure)
        # a cloud over the flood on date 2: centre it on a flooded pixel
        rows, cols = np.nonzero(flood20[50:-50, 50:-50])
        i = int(r.integers(rows.size))
        self.flood_cloud = (float(self.grid20.xs[cols[i] + 50]), float(self.grid20.ys[rows[i] + 50]),
                            r.uniform(900, 1600))

    # -- atmosphere
    def cloud_field(self, date: str, grid: _Grid) -> np.ndarray:
        f = self.clouds[date].on(grid)
        if date == DATES[1]:
            cx, cy, rad = self.flood_cloud
            X, Y = grid.mesh()
            f = f + 3.0 * np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / rad ** 2)
        return f

    def _calibrate_atmosphere(self, r: np.random.Generator) -> None:
        g = self.coarse_grid
        x0, y0, x1, y1 = FULL_WINDOW
        X, Y = g.mesh()
        inside = ((X >= x0) & (X <= x1) & (Y >= y0) & (Y <= y1))
        self.cloud_threshold = {}
        self.shadow_offset = {}
        lon, lat = 150.79, -33.64
        for date, share, height in ((DATES[0], 0.012, 1200.0),
                                    (DATES[1], r.uniform(0.11, 0.14), r.uniform(1500, 2500))):
            f = self.cloud_field(date, g)
            self.cloud_threshold[date] = float(np.quantile(f[inside], 1 - share))
            az, el = _sun_angles(SENSING_TIMES[date], lon, lat)
            reach = height / math.tan(math.radians(el))
            self.shadow_offset[date] = (round(reach * math.sin(math.radians(az))),
                                        round(reach * math.cos(math.radians(az))))
        self.haze_threshold = float(np.quantile(self.haze.on(g)[inside], 0.7))
        self.cirrus_threshold = float(np.quantile(self.cirrus.on(g)[inside], 0.955))

    def atmosphere(self, date: str, grid: _Grid) -> dict[str, np.ndarray]:
        """Cloud opacity, shadow strength, haze and cirrus on a grid."""
        thr = self.cloud_threshold[date]
        ramp = 0.35
        alpha = np.clip((self.cloud_field(date, grid) - thr) / ramp, 0, 1)
        shadow = np.clip((self.cloud_field(date, grid.shifted(*self.shadow_offset[date])) - thr)
                         / ramp, 0, 1)
        out = {"cloud": alpha, "shadow": shadow}
        if date == DATES[1]:
            out["haze"] = np.clip((self.haze.on(grid) - self.haze_threshold) / 1.2, 0, 0.8)
            out["cirrus"] = np.clip((self.cirrus.on(grid) - self.cirrus_threshold) / 0.6, 0, 1)
        else:
            out["haze"] = out["cirrus"] = np.zeros(grid.shape)
        return out


# --------------------------------------------------------------------------- land cover
def _bbox(grid: _Grid, x: float, y: float, reach: float) -> tuple[int, int, int, int] | None:
    """Row and column ranges of a (north-up) grid within ``reach`` of a point."""
    c0, c1 = np.searchsorted(grid.xs, [x - reach, x + reach])
    r0, r1 = np.searchsorted(-grid.ys, [-(y + reach), -(y - reach)])
    return (int(r0), int(r1), int(c0), int(c1)) if c0 < c1 and r0 < r1 else None


def _ellipses(X: np.ndarray, Y: np.ndarray, grid: _Grid, shapes: np.ndarray,
              noise: _Field | None, out: np.ndarray) -> None:
    """Mark ellipses ``(x, y, a, b, angle, roughness)`` (or discs ``(x, y, r)``) in ``out``."""
    for s in shapes:
        box = _bbox(grid, s[0], s[1], s[2] * 1.6)
        if box is None:
            continue
        r0, r1, c0, c1 = box
        dx, dy = X[:, c0:c1] - s[0], Y[r0:r1, :] - s[1]
        if len(s) == 3:
            inside = dx * dx + dy * dy < s[2] * s[2]
        else:
            ca, sa = math.cos(s[4]), math.sin(s[4])
            u, v = (dx * ca + dy * sa) / s[2], (-dx * sa + dy * ca) / s[3]
            rough = 0.0 if noise is None else \
                s[5] * noise.on(_Grid(grid.xs[c0:c1], grid.ys[r0:r1]))
            inside = u * u + v * v + rough < 1.0
        out[r0:r1, c0:c1] |= inside


def _classify(world: _World, grid: _Grid, region: np.ndarray) -> dict[str, np.ndarray]:
    """Land cover, flood and the per-pixel mixing state on (a strip of) the 10 m grid."""
    X, Y = grid.mesh()
    ter = world.terrain(grid, channels=True)
    dem, level = ter["dem"], world.level(ter)
    hr = dem - ter["zw"]
    slope = world.coarse_on(grid, "slope")
    shape = grid.shape
    lakes = np.zeros(shape, bool)
    _ellipses(X, Y, grid, world.lakes, world.lake_noise, lakes)
    chan = ter["chan"]
    water = chan | lakes
    # towns
    town = np.zeros(shape)
    for tx, ty, rad in world.towns:
        box = _bbox(grid, tx, ty, rad * 2.5)
        if box is not None:
            r0, r1, c0, c1 = box
            g = np.exp(-((X[:, c0:c1] - tx) ** 2 + (Y[r0:r1] - ty) ** 2) / rad ** 2)
            town[r0:r1, c0:c1] = np.maximum(town[r0:r1, c0:c1], g)
    urban = (town + 0.25 * world.town_noise.on(grid) > 0.4) & (slope < 0.2) & ~water \
        & ((town > 0.2) | (hr > 6.0))     # scattered houses avoid the floodplain
    riparian = ter["dist"] - world.main.width / 2 < 25.0 + 20.0 * world.micro.on(grid)
    forest = ((world._forest_score(grid, hr, slope) > world.forest_threshold) | riparian) \
        & ~urban & ~water
    # parcels: crop, grass or bare, more crops on the low ground
    ang = world.parcel_angle
    px, py = X - TILE_ORIGIN[0], Y - TILE_ORIGIN[1]
    warp = world.warp.on(grid)
    u = px * math.cos(ang) + py * math.sin(ang) + 90.0 * warp
    v = -px * math.sin(ang) + py * math.cos(ang) - 60.0 * warp
    iv = np.floor(v / world.parcel_size[1])
    iu = np.floor(u / world.parcel_size[0] + (iv * 0.6180339887498949) % 1.0)
    h = _hash(world.key + 17, iu, iv)
    u_type, u_m, u_dm, u_b = (_uniform16(h, i) for i in range(4))
    del h
    p_crop = 0.15 + 0.35 * np.exp(-np.maximum(hr, 0) / 10.0)
    cls = np.full(shape, 5, np.uint8)
    cls[u_type < p_crop] = 4
    cls[u_type > 0.93] = 6
    dams = np.zeros(shape, bool)
    _ellipses(X, Y, grid, world.dams, None, dams)
    water |= dams & ~urban & ~forest
    cls[forest] = 3
    cls[urban] = 2
    cls[water] = 1
    # flood: below the flood surface, inside the connected region, not permanent water
    flood = (dem < level) & region & ~water
    # mixing fraction m per date and brightness K
    tex, tex2 = world.texture.on(grid), world.texture2.on(grid)
    m1 = np.select([cls == 1, cls == 2, cls == 3, cls == 4, cls == 5],
                   [np.where(chan, 0.55, np.where(dams, 0.45, 0.12)) + 0.04 * tex2,
                    0.28 + 0.10 * tex2, 0.82 + 0.07 * tex2, 0.15 + 0.80 * u_m,
                    0.45 + 0.40 * u_m + 0.05 * tex2], 0.15 * u_m)
    dm = np.select([cls == 1, cls == 2, cls == 3, cls == 4, cls == 5],
                   [np.where(chan, 0.92 - m1, 0.04), 0.02, 0.015, -0.05 + 0.15 * u_dm,
                    0.03 + 0.04 * u_dm], 0.0)
    m1 = np.clip(m1, 0, 1)
    m2 = np.clip(m1 + dm, 0, 1)
    tau = np.array([0.0] + [_TEXTURE[c] for c in range(1, 7)])[cls]
    parcel = (cls >= 4)
    k1 = (1 + tau * tex) * np.where(parcel, 0.88 + 0.24 * u_b, 1.0)
    height = np.array([1.0] + [_CANOPY[c][0] for c in range(1, 7)])[cls]
    visible = np.array([0.0] + [_CANOPY[c][1] for c in range(1, 7)])[cls]
    depth = level - dem
    emerged = visible * np.clip(1 - depth / height, 0, 1)
    ow = np.where(flood, 1 - emerged, 0.0)
    veg = [((cls == 3) | ((cls >= 4) & (cls <= 5) & (m >= 0.4))) for m in (m1, m2)]
    return {"cls": cls, "flood": flood, "perm": water, "m1": _snap(m1), "m2": _snap(m2),
            "k": _snap(k1), "ow": _snap(ow), "veg1": veg[0], "veg2": veg[1]}


# --------------------------------------------------------------------------- the scene
@dataclass(frozen=True, eq=False)
class FloodScene:
    """The simulated scene: truth and reflectance on the T56HKH grid (EPSG:32756).

    Truth rasters are on the 20 m grid; ``*_10m`` on the 10 m grid. Reflectance
    dictionaries map a date (``"20210315"``, ``"20210325"``) to a dict of band ->
    float32 array at the band's native resolution (:data:`BAND_RESOLUTION`).
    ``reflectance`` is noise-free (surface, clouds, shadows, haze); ``noisy``
    adds the sensor noise and is quantised to the product's 1e-4 step (DN >= 1),
    i.e. what a reader of the written products returns.
    """

    seed: int
    bounds: tuple[float, float, float, float]
    landcover: np.ndarray          # uint8 class codes (LANDCOVER_CLASSES), 20 m
    flood: np.ndarray              # bool, flooded on date 2 (never permanent water), 20 m
    permanent_water: np.ndarray    # bool, 20 m
    clouds: dict[str, np.ndarray]  # uint8 CLOUD_CLASSES per date, 20 m
    scl: dict[str, np.ndarray]     # uint8 Sen2Cor-style scene classification per date, 20 m
    dem: np.ndarray                # float32 terrain height (m), 20 m
    flood_level: np.ndarray        # float32 flood water surface (m) of the nearest channel, 20 m
    landcover_10m: np.ndarray
    flood_10m: np.ndarray
    permanent_water_10m: np.ndarray
    reflectance: dict[str, dict[str, np.ndarray]]
    noisy: dict[str, dict[str, np.ndarray]]
    crs: str = f"EPSG:{EPSG}"
    dates: tuple[str, str] = DATES

    def transform(self, resolution: int = 20) -> Affine:
        """Affine transform of the grid at ``resolution`` (10, 20 or 60 m)."""
        return Affine(resolution, 0.0, self.bounds[0], 0.0, -resolution, self.bounds[3])

    def shape(self, resolution: int = 20) -> tuple[int, int]:
        x0, y0, x1, y1 = self.bounds
        return round((y1 - y0) / resolution), round((x1 - x0) / resolution)


def _check_window(window: Sequence[float] | None) -> tuple[float, float, float, float]:
    if window is None:
        return FULL_WINDOW
    if len(window) != 4:
        raise AOIError(f"window must be (minx, miny, maxx, maxy) in EPSG:{EPSG}, got {window!r}")
    ox, oy = TILE_ORIGIN
    x0 = ox + math.floor((float(window[0]) - ox) / 60) * 60
    x1 = ox + math.ceil((float(window[2]) - ox) / 60) * 60
    y1 = oy - math.floor((oy - float(window[3])) / 60) * 60
    y0 = oy - math.ceil((oy - float(window[1])) / 60) * 60
    fx0, fy0, fx1, fy1 = FULL_WINDOW
    x0, y0, x1, y1 = max(x0, fx0), max(y0, fy0), min(x1, fx1), min(y1, fy1)
    if x0 >= x1 or y0 >= y1:
        raise AOIError(f"window {tuple(window)} does not overlap the simulated scene "
                       f"{FULL_WINDOW} (EPSG:{EPSG}); give bounds inside it")
    return (x0, y0, x1, y1)


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


def _blocks(a: np.ndarray, f: int) -> np.ndarray:
    ny, nx = a.shape
    return a.reshape(ny // f, f, nx // f, f)


@functools.lru_cache(maxsize=1)
def _world(seed: int) -> _World:
    """The world of a seed; the last one is kept (about 150 MB) for repeated windows."""
    return _World(seed)


class _Renderer:
    """The scene in a window: classified 10 m state, renders bands per date."""

    def __init__(self, seed: int, window: Sequence[float] | None, *, progress: Any = None) -> None:
        self.bounds = _check_window(window)
        self.world = _world(int(seed))
        x0, y0, x1, y1 = self.bounds
        # 10 m grid with a one-pixel margin for the PSF
        xs = np.arange(x0 - 5, x1 + 10, 10.0)
        ys = np.arange(y1 + 5, y0 - 10, -10.0)
        grid = _Grid(xs, ys)
        w = self.world
        fx0, _, _, fy1 = FULL_WINDOW
        col = np.clip(np.floor((xs - fx0) / 20).astype(int), 0, w.region20.shape[1] - 1)
        row = np.clip(np.floor((fy1 - ys) / 20).astype(int), 0, w.region20.shape[0] - 1)
        state: dict[str, np.ndarray] = {}
        step = 96

        def strip(r0: int) -> tuple[int, int, dict[str, np.ndarray]]:
            r1 = min(r0 + step, ys.size)
            return r0, r1, _classify(w, grid.rows(r0, r1), w.region20[row[r0:r1, None], col[None, :]])

        _classify(w, grid.rows(0, 1), w.region20[row[:1, None], col[None, :]])  # warm caches
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            for r0, r1, part in pool.map(strip, range(0, ys.size, step)):
                for k, v in part.items():
                    if k not in state:
                        state[k] = np.empty((ys.size, xs.size), v.dtype)
                    state[k][r0:r1] = v
                if progress is not None:
                    progress.update((r1 - r0) / ys.size)
        self.state = state
        self._atm: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self.truth = self._truth()
        _release_memory()

    # -- truth at 20 m
    def _truth(self) -> dict[str, Any]:
        s = {k: v[1:-1, 1:-1] for k, v in self.state.items()}
        counts = np.stack([_blocks(s["cls"] == c, 2).sum(axis=(1, 3), dtype=np.uint8)
                           for c in range(1, 7)])
        perm = counts[0] >= 2
        landcover = (np.argmax(counts[1:], axis=0) + 2).astype(np.uint8)
        landcover[perm] = 1
        flood = (_blocks(s["flood"], 2).sum(axis=(1, 3)) >= 2) & ~perm
        ow = _blocks(s["ow"], 2).mean(axis=(1, 3), dtype=np.float64)
        w = self.world
        fx0, _, _, fy1 = FULL_WINDOW
        x0, y0, x1, y1 = self.bounds
        c0, r0 = round((x0 - fx0) / 20), round((fy1 - y1) / 20)
        ny, nx = round((y1 - y0) / 20), round((x1 - x0) / 20)
        clouds, scl = {}, {}
        for i, date in enumerate(DATES):
            atm = self._atmosphere(date, 20)
            code = np.zeros((ny, nx), np.uint8)
            code[atm["cirrus"] > 0] = 3
            code[atm["shadow"] > 0] = 2
            code[atm["cloud"] > 0] = 1
            clouds[date] = code
            veg = _blocks(s[f"veg{i + 1}"], 2).mean(axis=(1, 3)) >= 0.5
            wet = perm | ((ow >= 0.5) if i == 1 else False)
            base = np.where(wet, 6, np.where(veg, 4, 5)).astype(np.uint8)
            base[code == 3] = 10
            base[code == 2] = 3
            base[code == 1] = np.where(atm["cloud"][code == 1] >= 0.5, 9, 8)
            scl[date] = base
        return {"landcover": landcover, "flood": flood, "perm": perm, "clouds": clouds, "scl": scl,
                "dem": w.dem20[r0:r0 + ny, c0:c0 + nx].copy(),
                "level": w.level20[r0:r0 + ny, c0:c0 + nx].copy()}

    def grid(self, res: int) -> _Grid:
        x0, y0, x1, y1 = self.bounds
        return _Grid(np.arange(x0 + res / 2, x1, float(res)), np.arange(y1 - res / 2, y0, -float(res)))

    def _atmosphere(self, date: str, res: int, rows: tuple[int, int] | None = None
                    ) -> dict[str, np.ndarray]:
        """Snapped (float32) atmosphere fields; 20 and 60 m grids are cached."""
        key = (date, res)
        if rows is None and key in self._atm:
            return self._atm[key]
        grid = self.grid(res) if rows is None else self.grid(res).rows(*rows)
        atm = {k: _snap(v) for k, v in self.world.atmosphere(date, grid).items()}
        if rows is None and res > 10:
            self._atm[key] = atm
        return atm

    def render(self, date: str, bands: Iterable[str], *, clean: bool = True
               ) -> dict[str, tuple[np.ndarray | None, np.ndarray]]:
        """Render bands of a date: ``{band: (noise-free or None, noisy)}``, float32, native res.

        Pure pixels mix two endmembers per class; 10 m bands pass a 3x3 PSF,
        20 m and 60 m bands are area means of the 10 m pure pixels (linear
        mixing through per-class abundances). Then shadow, haze, cirrus, cloud,
        and the noise.
        """
        if date not in DATES:
            raise ValueError(f"unknown date {date!r}; one of {DATES}")
        names = list(bands)
        for band in names:
            if band not in BAND_RESOLUTION:
                raise BandError(f"unknown band {band!r}; the L2A bands are {', '.join(BANDS)}")
        di = DATES.index(date)
        out: dict[str, tuple[np.ndarray | None, np.ndarray]] = {}
        ten = [b for b in names if BAND_RESOLUTION[b] == 10]
        if ten:
            self._render10(di, ten, out, clean)
        coarse = [b for b in names if BAND_RESOLUTION[b] > 10]
        if coarse:
            pa, pb, pf = self._abundances(di)
            for res in (20, 60):
                group = [b for b in coarse if BAND_RESOLUTION[b] == res]
                if not group:
                    continue
                if res == 60:
                    pa, pb = (_blocks_nd(p, 3) for p in (pa, pb))
                    pf = _blocks(pf, 3).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
                atm = self._atmosphere(date, res)
                for band in group:
                    b = BANDS.index(band)
                    a_tab, b_tab = _tables(b)
                    surf = np.float32(ENDMEMBERS["turbid water"][b]) * pf
                    for i in range(6):
                        surf += a_tab[i + 1] * pa[i]
                        surf += b_tab[i + 1] * pb[i]
                    obs = _observe(surf, atm, b)
                    out[band] = (obs if clean else None, self._noisy(obs, di, b, res, None))
        return {band: out[band] for band in names}

    def _render10(self, di: int, bands: list[str], out: dict[str, Any], clean: bool) -> None:
        s = self.state
        date = DATES[di]
        ny, nx = s["cls"].shape[0] - 2, s["cls"].shape[1] - 2
        res = {band: (np.empty((ny, nx), np.float32) if clean else None,
                      np.empty((ny, nx), np.float32)) for band in bands}
        w, c = np.float32(_PSF_W), np.float32(1 - 2 * _PSF_W)

        def strip(r0: int) -> None:
            r1 = min(r0 + 128, ny)
            cls, m, k = (s[n][r0:r1 + 2] for n in ("cls", f"m{di + 1}", "k"))
            if di == 1:
                k = np.where(cls == 6, k * np.float32(0.94), k)   # soil wet after the rain
            ow = s["ow"][r0:r1 + 2] if di == 1 else None
            atm = self._atmosphere(date, 10, (r0, r1))
            for band in bands:
                b = BANDS.index(band)
                a_tab, b_tab = _tables(b)
                surf = b_tab[cls]
                surf += m * (a_tab[cls] - surf)
                surf *= k
                if ow is not None:
                    surf += ow * (np.float32(ENDMEMBERS["turbid water"][b]) - surf)
                rows = w * (surf[:-2] + surf[2:]) + c * surf[1:-1]
                surf = w * (rows[:, :-2] + rows[:, 2:]) + c * rows[:, 1:-1]
                obs = _observe(surf, atm, b)
                clean_arr, noisy_arr = res[band]
                if clean_arr is not None:
                    clean_arr[r0:r1] = obs
                noisy_arr[r0:r1] = self._noisy(obs, di, b, 10, (r0, r1))

        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            list(pool.map(strip, range(0, ny, 128)))
        out.update(res)

    def _abundances(self, di: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-class 20 m area means of ``k*m`` and ``k*(1-m)`` (land), and of flood water."""
        s = self.state
        inner = (slice(1, -1), slice(1, -1))
        cls, m, k = s["cls"][inner], s[f"m{di + 1}"][inner], s["k"][inner]
        if di == 1:
            k = np.where(cls == 6, k * np.float32(0.94), k)
        land = k if di == 0 else k * (1 - s["ow"][inner])
        wa = land * m
        wb = land - wa
        del land
        ny, nx = cls.shape[0] // 2, cls.shape[1] // 2
        pa = np.zeros((6, ny, nx), np.float32)
        pb = np.zeros((6, ny, nx), np.float32)
        quarter = np.float32(0.25)
        for dy in (0, 1):          # the four 10 m pixels of each 20 m pixel, in a fixed order
            for dx in (0, 1):
                c = cls[dy::2, dx::2]
                a_, b_ = wa[dy::2, dx::2] * quarter, wb[dy::2, dx::2] * quarter
                for i in range(6):
                    sel = c == i + 1
                    np.add(pa[i], a_, out=pa[i], where=sel)
                    np.add(pb[i], b_, out=pb[i], where=sel)
        pf = np.zeros((ny, nx), np.float32)
        if di == 1:
            ow = s["ow"][inner]
            for dy in (0, 1):
                for dx in (0, 1):
                    pf += ow[dy::2, dx::2] * quarter
        return pa, pb, pf

    def _noisy(self, obs: np.ndarray, di: int, b: int, res: int,
               rows: tuple[int, int] | None) -> np.ndarray:
        noisy = obs + np.float32(NOISE_SIGMA) * self._noise(di, b, res, rows)
        noisy = np.maximum(np.round(noisy * np.float32(1e4)), np.float32(1))
        noisy /= np.float32(1e4)
        return noisy

    def _noise(self, date_index: int, band_index: int, res: int,
               rows: tuple[int, int] | None = None) -> np.ndarray:
        """Approximately Gaussian unit noise (sum of four uniforms), per absolute pixel."""
        x0, y0, x1, y1 = self.bounds
        ny, nx = round((y1 - y0) / res), round((x1 - x0) / res)
        r0, r1 = rows if rows is not None else (0, ny)
        col = round((x0 - TILE_ORIGIN[0]) / res) + np.arange(nx)
        row = round((TILE_ORIGIN[1] - y1) / res) + np.arange(r0, r1)
        key = self.world.key * 131 + 1000 * date_index + band_index
        h = _hash(key, row[:, None], col[None, :])
        h = (h & np.uint64(0x0000FFFF0000FFFF)) + ((h >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF))
        h = (h & np.uint64(0xFFFFFFFF)) + (h >> np.uint64(32))    # sum of the four 16-bit lanes
        total = h.astype(np.float32)
        del h
        total += np.float32(2.0)
        total /= np.float32(65536.0)
        total -= np.float32(2.0)
        total *= np.float32(math.sqrt(3.0))
        return total


def _tables(b: int) -> tuple[np.ndarray, np.ndarray]:
    """Endmember A and B reflectance of band index ``b``, indexed by class code."""
    return tuple(np.array([0.0] + [ENDMEMBERS[CLASS_ENDMEMBERS[c][j]][b] for c in range(1, 7)],
                          np.float32) for j in (0, 1))  # type: ignore[return-value]


def _blocks_nd(p: np.ndarray, f: int) -> np.ndarray:
    n, ny, nx = p.shape
    mean: np.ndarray = p.reshape(n, ny // f, f, nx // f, f).mean(axis=(2, 4), dtype=np.float64)
    return mean.astype(np.float32)


def _observe(surf: np.ndarray, atm: dict[str, np.ndarray], b: int) -> np.ndarray:
    """Top of the surface to L2A: cloud shadow, haze, cirrus, then cloud (float32)."""
    obs = surf * (1 - np.float32(_SHADOW_DEPTH[b]) * atm["shadow"])
    obs *= 1 - np.float32(0.08) * atm["haze"]
    obs += np.float32(ENDMEMBERS["haze"][b]) * atm["haze"]
    obs += np.float32(ENDMEMBERS["cirrus"][b]) * atm["cirrus"]
    alpha = atm["cloud"]
    obs += alpha * (np.float32(ENDMEMBERS["cloud"][b]) * (np.float32(0.92) + np.float32(0.08) * alpha)
                    - obs)
    return obs.astype(np.float32, copy=False)


def simulate_flood_scene(
    *,
    seed: int = DEFAULT_SEED,
    window: Sequence[float] | None = None,
    bands: Iterable[str] | None = None,
) -> FloodScene:
    """Simulate the tutorial's flood scene: truth and reflectance of both dates.

    Parameters
    ----------
    seed
        Draws the landscape, the flood and the weather (default
        :data:`DEFAULT_SEED`, the bundled samples). Other seeds give other
        scenes with the same statistics.
    window
        ``(minx, miny, maxx, maxy)`` in EPSG:32756, snapped outward to the
        60 m grid of tile T56HKH and cut to :data:`FULL_WINDOW` (the default).
        A window reproduces exactly the matching part of the full scene.
    bands
        Bands to render (default all twelve); ``()`` for the truth only.
        The full scene with all bands needs about 1.5 GB of memory.

    Returns
    -------
    FloodScene

    Raises
    ------
    AOIError
        If the window does not overlap the scene.
    BandError
        If a band name is unknown.
    """
    names = list(BANDS if bands is None else bands)
    for name in names:
        if name not in BAND_RESOLUTION:
            raise BandError(f"unknown band {name!r}; the L2A bands are {', '.join(BANDS)}")
    rend = _Renderer(seed, window)
    clean: dict[str, dict[str, np.ndarray]] = {}
    noisy: dict[str, dict[str, np.ndarray]] = {}
    for date in DATES:
        rendered = rend.render(date, names)
        clean[date] = {band: c for band, (c, _) in rendered.items()}  # type: ignore[misc]
        noisy[date] = {band: n for band, (_, n) in rendered.items()}
    t, s = rend.truth, rend.state
    inner = (slice(1, -1), slice(1, -1))
    return FloodScene(
        seed=int(seed), bounds=rend.bounds, landcover=t["landcover"], flood=t["flood"],
        permanent_water=t["perm"], clouds=t["clouds"], scl=t["scl"], dem=t["dem"],
        flood_level=t["level"], landcover_10m=s["cls"][inner].copy(),
        flood_10m=s["flood"][inner].copy(), permanent_water_10m=s["perm"][inner].copy(),
        reflectance=clean, noisy=noisy)
