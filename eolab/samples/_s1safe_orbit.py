"""Orbits, pass selection, timing and names of the simulated Sentinel-1A IW SLC pair.

The orbit is a circular, Earth-fixed (ECEF) Keplerian model of Sentinel-1A
anchored on a real S1A state vector (relative orbit 117, absolute 41314, ANX
2022-01-04T16:54:51.328453, from ``bopen/sarsen``'s test product): the
12-day / 175-orbit repeat cycle then gives the absolute orbit, the relative
orbit, the ascending-node time and the node longitude of every S1A orbit in
March 2021. Of the descending S1A passes of 12 March 2021, the one that sees
the tutorial scene in IW1 is kept (:func:`_pick_pass`); its ground track is
moved by a few kilometres across track so that the scene falls at IW1's
mid-swath incidence (the model is not a precise orbit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from eolab.s1.geometry import Orbit, fit_orbit, geodetic_to_ecef

OMEGA_EARTH = 7.292115e-5  #: rad/s
CYCLE_DAYS, CYCLE_ORBITS = 12, 175
PERIOD = CYCLE_DAYS * 86400.0 / CYCLE_ORBITS  #: nodal period (s)
INCLINATION = math.radians(98.18)
RADIUS = 7_071_000.0  #: orbit radius of the model (m)
NODE_STEP = 360.0 * PERIOD / 86400.0  #: westward node shift per orbit (deg; sun-synchronous)

# the anchor: a real S1A state vector and its ANX (sarsen test product, relative orbit 117)
_ANCHOR_ORBIT = 41314
_ANCHOR_ANX = datetime(2022, 1, 4, 16, 54, 51, 328453, tzinfo=UTC)
_ANCHOR_TIME = datetime(2022, 1, 4, 17, 4, 56, 781409, tzinfo=UTC)
_ANCHOR_POS = np.array([5.636962746301e06, 7.91500369838e05, 4.194525433967e06])
_ANCHOR_VEL = np.array([-4.107992113e03, -2.336516439e03, 5.944308959e03])


def relative_orbit(absolute: int) -> int:
    """Relative orbit of a Sentinel-1A absolute orbit number."""
    return (absolute - 73) % CYCLE_ORBITS + 1


def _anchor_node_longitude() -> float:
    """ECEF longitude (deg) of the anchor orbit's ascending node at its ANX time."""
    r, v = _ANCHOR_POS, _ANCHOR_VEL
    v_in = v + np.cross([0.0, 0.0, OMEGA_EARTH], r)
    h = np.cross(r, v_in)
    lon_now = math.atan2(h[0], -h[1])
    dt = (_ANCHOR_TIME - _ANCHOR_ANX).total_seconds()
    return math.degrees(lon_now + OMEGA_EARTH * dt)


def orbit_of(absolute: int) -> tuple[datetime, float]:
    """ANX time and node longitude (deg) of an S1A absolute orbit (repeat-cycle model)."""
    k = _ANCHOR_ORBIT - absolute
    anx = _ANCHOR_ANX - timedelta(seconds=k * PERIOD)
    lon = (_anchor_node_longitude() + k * NODE_STEP + 180.0) % 360.0 - 180.0
    return anx, lon


@dataclass(frozen=True)
class KeplerOrbit:
    """Circular orbit in ECEF: ANX at ``anx`` over ``node_lon``; optional constant baseline."""

    anx: datetime
    node_lon: float  # degrees
    radial_offset: float = 0.0  # m, along the radius
    cross_offset: float = 0.0  # m, along the orbit normal, at ``anx + ref_time``
    cross_rate: float = 0.0  # m/s, drift of the cross-track offset
    ref_time: float = 0.0  # s after ANX

    def position(self, t: np.ndarray) -> np.ndarray:
        """ECEF position (m) at ``t`` seconds after ANX."""
        t = np.asarray(t, dtype=np.float64)
        u = 2 * math.pi / PERIOD * t
        ci, si = math.cos(INCLINATION), math.sin(INCLINATION)
        radial = np.stack([np.cos(u), np.sin(u) * ci, np.sin(u) * si], -1)
        normal = np.broadcast_to(np.array([0.0, -si, ci]), radial.shape)
        cross = self.cross_offset + self.cross_rate * (t - self.ref_time)
        p = (RADIUS + self.radial_offset) * radial + cross[..., None] * normal
        w = math.radians(self.node_lon) - OMEGA_EARTH * t
        c, s = np.cos(w), np.sin(w)
        return np.stack(
            [c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1], p[..., 2]], -1
        )

    def velocity(self, t: np.ndarray) -> np.ndarray:
        """ECEF velocity (m/s): a central difference of :meth:`position` (1 ms step)."""
        t = np.asarray(t, dtype=np.float64)
        return np.asarray((self.position(t + 1e-3) - self.position(t - 1e-3)) / 2e-3)

    def state_vectors(
        self, start: float, count: int, step: float = 10.0
    ) -> tuple[list[datetime], np.ndarray, np.ndarray]:
        """``count`` state vectors every ``step`` s from ``start`` s after ANX (to the µs)."""
        times = [self.anx + timedelta(seconds=start + i * step) for i in range(count)]
        secs = np.array([(t - self.anx).total_seconds() for t in times])
        return times, self.position(secs), self.velocity(secs)

    def fitted(self, start: float, count: int) -> Orbit:
        """The polynomial orbit a reader fits to :meth:`state_vectors` (epoch = ANX)."""
        times, pos, vel = self.state_vectors(start, count)
        epoch = np.datetime64(self.anx.replace(tzinfo=None), "ns")
        stamps = np.array([np.datetime64(t.replace(tzinfo=None), "ns") for t in times])
        return fit_orbit(stamps, pos, vel, epoch=epoch)


def _descending_time(
    node_lon: float, lat: float, lon: float, look_km: float
) -> tuple[float, float]:
    """Seconds after ANX of the descending pass abeam of (lat, lon), and the cross-track miss (km)
    of the point from ``look_km`` right of the track."""
    orbit = KeplerOrbit(datetime(2000, 1, 1, tzinfo=UTC), node_lon)
    t = np.linspace(0.5 * PERIOD, 0.75 * PERIOD, 2001)
    target = geodetic_to_ecef(lon, lat, 0.0)
    d = target - orbit.position(t)
    along = np.einsum("...i,...i", d, orbit.velocity(t))
    i = int(np.argmin(np.abs(along)))
    p, v = orbit.position(t[i]), orbit.velocity(t[i])
    right = np.cross(-p, v)
    right /= np.linalg.norm(right)
    return float(t[i]), float(np.dot(d[i], right) / 1e3 - look_km)


def _pick_pass(
    day: datetime, lat: float, lon: float, ground_range_km: float
) -> tuple[int, datetime, float, float]:
    """Absolute orbit, ANX time, node longitude and seconds after ANX of the S1A descending pass
    of ``day`` that sees (lat, lon) nearest ``ground_range_km`` right of the track; the node
    longitude is then corrected so that the point lies exactly there."""
    start = _ANCHOR_ORBIT - math.ceil((_ANCHOR_ANX - day).total_seconds() / PERIOD) - 1
    best: tuple[float, int, float, float] | None = None
    for absolute in range(start, start + 20):
        anx, node = orbit_of(absolute)
        t, miss = _descending_time(node, lat, lon, ground_range_km)
        when = anx + timedelta(seconds=t)
        if when.date() != day.date():
            continue
        if best is None or abs(miss) < abs(best[0]):
            best = (miss, absolute, node, t)
    assert best is not None
    miss, absolute, node, t = best
    anx, _ = orbit_of(absolute)
    for _ in range(4):  # shift the track across: the miss (km) as a node-longitude change
        t, miss = _descending_time(node, lat, lon, ground_range_km)
        node -= math.degrees(miss / 6371.0) / math.cos(math.radians(lat))
    t, miss = _descending_time(node, lat, lon, ground_range_km)
    return absolute, anx, node, t
