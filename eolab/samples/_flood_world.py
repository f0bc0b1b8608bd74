"""The world of a seed (river network, terrain, flood, weather) and its land cover.

Everything here is drawn from the seed and independent of the window that is
rendered: the scene-wide parts (distance fields on a 60 m grid, the flood
calibrated on the 20 m grid) are computed once per seed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from eolab.samples._flood_fields import (
    _Field,
    _Grid,
    _nearest,
    _release_memory,
    _sun_angles,
    _Wave,
)
from eolab.samples._flood_spec import (
    DATES,
    FULL_WINDOW,
    SENSING_TIMES,
)

_MARGIN = 6000.0          # lattices reach this far beyond the scene (shadows, PSF)
_COARSE = 60.0            # grid of the distance fields
_COARSE_PAD = 1200.0


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


@functools.lru_cache(maxsize=1)
def _world(seed: int) -> _World:
    """The world of a seed; the last one is kept (about 150 MB) for repeated windows."""
    return _World(seed)
