"""Radar grid, TOPS ramp and ground lookup of one simulated IW SLC acquisition."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyproj

from eolab.s1.geometry import SPEED_OF_LIGHT, Orbit, RadarGrid, radar_to_ground
from eolab.samples._s1safe_orbit import KeplerOrbit

RADAR_FREQUENCY = 5.405000454334350e09  #: Hz (C band, as every S1 product)
WAVELENGTH = SPEED_OF_LIGHT / RADAR_FREQUENCY
AZIMUTH_TIME_INTERVAL = 2.055556299999998e-03  #: s, real IW value
RANGE_DECIMATION = 4
RANGE_SAMPLING_RATE = 6.434523812571428e07 / RANGE_DECIMATION  #: Hz (real rate / 4)
STEERING_RATE = {"IW1": 1.590368784, "IW2": 0.979863325, "IW3": 1.397440818}  #: deg/s
LINES_PER_BURST = {"IW1": 1501, "IW2": 1513, "IW3": 1530}
BURST_CYCLE_LINES = 1342  #: burst starts are this many lines apart (2.7586 s)
DC_HZ = -2.5  #: Doppler centroid (constant over the swath)
_EARTH_RADIUS = 6_371_000.0


@dataclass(frozen=True)
class Swath:
    """One acquisition's sub-swath: orbit, burst timing and range window (times: s after ANX)."""

    swath: str
    model: KeplerOrbit
    orbit: Orbit
    first_burst: float
    bursts: int
    samples: int
    slant_range_time: float

    @property
    def anx(self) -> datetime:
        return self.model.anx

    @property
    def lines_per_burst(self) -> int:
        return LINES_PER_BURST[self.swath]

    def burst_start(self, k: int) -> float:
        """Start of burst ``k`` (s after ANX), on whole microseconds as annotated."""
        return round((self.first_burst + k * BURST_CYCLE_LINES * AZIMUTH_TIME_INTERVAL) * 1e6) / 1e6

    def burst_mid(self, k: int) -> float:
        return self.burst_start(k) + self.lines_per_burst / 2 * AZIMUTH_TIME_INTERVAL

    def grid(self, k: int) -> RadarGrid:
        return RadarGrid(
            self.burst_start(k), AZIMUTH_TIME_INTERVAL, self.slant_range_time, RANGE_SAMPLING_RATE
        )

    def tau(self, pixel: Any) -> np.ndarray:
        return self.slant_range_time + np.asarray(pixel, dtype=np.float64) / RANGE_SAMPLING_RATE

    # -- Doppler annotation (the ramp uses exactly these polynomials)
    def fm_rate_poly(self, t: float) -> tuple[float, float, float]:
        """azimuthFmRatePolynomial at ``t`` (t0 = slantRangeTime): k_a = -2 v_s v_g / (lambda R)."""
        s = self.orbit.position(np.array(t))
        vs = float(np.linalg.norm(self.orbit.velocity(np.array(t))))
        vg = vs * _EARTH_RADIUS / float(np.linalg.norm(s))
        big_k = -4.0 * vs * vg / (WAVELENGTH * SPEED_OF_LIGHT)
        t0 = self.slant_range_time
        return big_k / t0, -big_k / t0**2, big_k / t0**3

    def dc_poly(self) -> tuple[float, float, float]:
        return DC_HZ, 0.0, 0.0

    def phase(self, k: int, line: Any, pixel: Any) -> np.ndarray:
        """TOPS azimuth phase phi of burst ``k`` (S1_NOTES §3): data = baseband e^{-j phi}."""
        tmid = self.burst_mid(k)
        c = self.fm_rate_poly(tmid)
        d = self.dc_poly()
        dtau = self.tau(pixel) - self.slant_range_time
        ka = c[0] + c[1] * dtau + c[2] * dtau**2
        fdc = d[0] + d[1] * dtau + d[2] * dtau**2
        vs = float(np.linalg.norm(self.orbit.velocity(np.array(tmid))))
        ks = 2 * vs * math.radians(STEERING_RATE[self.swath]) / WAVELENGTH
        kt = ka * ks / (ka - ks)
        eta_c = -fdc / ka
        eta_ref = eta_c - (-d[0] / c[0])
        eta = (
            np.asarray(line, dtype=np.float64) - self.lines_per_burst / 2
        ) * AZIMUTH_TIME_INTERVAL
        x = eta - eta_ref
        return np.asarray(-np.pi * kt * x**2 - 2 * np.pi * fdc * x)


class Ground:
    """The optical scene as seen from the radar: UTM lookups of class, flood and DEM (20 m)."""

    def __init__(self, scene: Any) -> None:
        self.scene = scene
        self.x0, _, _, self.y1 = scene.bounds
        self.shape = scene.landcover.shape
        self.to_utm = pyproj.Transformer.from_crs("EPSG:4326", scene.crs, always_xy=True)
        self.to_lonlat = pyproj.Transformer.from_crs(scene.crs, "EPSG:4326", always_xy=True)
        self.dem = np.asarray(scene.dem, dtype=np.float64)
        self.mean_height = float(self.dem.mean())

    def index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        col = np.floor((x - self.x0) / 20.0).astype(np.int64)
        row = np.floor((self.y1 - y) / 20.0).astype(np.int64)
        inside = (row >= 0) & (row < self.shape[0]) & (col >= 0) & (col < self.shape[1])
        return np.clip(row, 0, self.shape[0] - 1), np.clip(col, 0, self.shape[1] - 1), inside

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        row, col, inside = self.index(x, y)
        return np.where(inside, self.dem[row, col], self.mean_height)

    def locate(
        self, sw: Swath, k: int, line: np.ndarray, pixel: np.ndarray, iterations: int = 4
    ) -> tuple[Any, np.ndarray, np.ndarray]:
        """Radar -> ground on the DEM: (GroundCoordinates, UTM x, UTM y) of burst-k line/pixel."""
        t = sw.grid(k).time(line)
        tau = sw.tau(pixel)
        h = np.full(np.broadcast(t, tau).shape, self.mean_height)
        for _ in range(iterations):
            g = radar_to_ground(sw.orbit, t, tau, h)
            x, y = self.to_utm.transform(g.longitude, g.latitude)
            h = self.height(np.asarray(x), np.asarray(y))
        g = radar_to_ground(sw.orbit, t, tau, h)
        x, y = self.to_utm.transform(g.longitude, g.latitude)
        return g, np.asarray(x), np.asarray(y)


def nodes(n: int, step: int) -> np.ndarray:
    """Node positions 0, step, ... and n - 1 (float)."""
    return np.unique(np.append(np.arange(0, n, step), n - 1)).astype(np.float64)


def bilinear(
    node_l: np.ndarray,
    node_p: np.ndarray,
    values: np.ndarray,
    lines: np.ndarray,
    pixels: np.ndarray,
) -> np.ndarray:
    """Bilinear interpolation of node ``values`` onto the grid ``lines x pixels`` (1-D each)."""

    def weights(nodes_: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.clip(np.searchsorted(nodes_, x, side="right") - 1, 0, nodes_.size - 2)
        w = (x - nodes_[i]) / (nodes_[i + 1] - nodes_[i])
        return i, w

    ip, wp = weights(node_p, pixels)
    rows = values[:, ip] * (1 - wp) + values[:, ip + 1] * wp
    il, wl = weights(node_l, lines)
    return np.asarray(rows[il] * (1 - wl)[:, None] + rows[il + 1] * wl[:, None])
