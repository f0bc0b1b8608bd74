"""Orbit interpolation and zero-Doppler SAR geometry on the WGS84 ellipsoid.

Times are float seconds relative to an orbit's ``epoch`` (``numpy.datetime64``);
:meth:`Orbit.seconds` converts datetimes. Positions are ECEF metres (the
"Earth Fixed" frame of Sentinel-1 orbit state vectors). Every function is
vectorised over its array arguments (numpy broadcasting, no per-pixel loop).

* :func:`fit_orbit` -- a polynomial in time fitted to state vectors (as sarsen).
* :func:`geodetic_to_ecef`, :func:`ecef_to_geodetic` -- WGS84 through pyproj.
* :func:`ground_to_radar` -- zero-Doppler time (Newton) and slant range of
  ground points, and their (line, pixel) in a :class:`RadarGrid`.
* :func:`radar_to_ground` -- the point at height ``h`` above the ellipsoid seen
  at a zero-Doppler time and slant range, looking right of the velocity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyproj

__all__ = [
    "SPEED_OF_LIGHT",
    "GroundCoordinates",
    "Orbit",
    "RadarCoordinates",
    "RadarGrid",
    "ecef_to_geodetic",
    "fit_orbit",
    "geodetic_to_ecef",
    "ground_to_radar",
    "orbit_from_dataset",
    "radar_to_ground",
    "zero_doppler",
]

SPEED_OF_LIGHT = 299_792_458.0  #: m/s
_WGS84_A = 6_378_137.0
_WGS84_F = 1 / 298.257223563
_WGS84_B = _WGS84_A * (1 - _WGS84_F)
_TO_ECEF = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_TO_GEODETIC = pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)


def _as_seconds(times: Any, epoch: np.datetime64) -> np.ndarray:
    arr = np.asarray(times)
    if np.issubdtype(arr.dtype, np.datetime64):
        return np.asarray((arr - epoch) / np.timedelta64(1, "ns"), dtype=np.float64) * 1e-9
    return np.asarray(arr, dtype=np.float64)


@dataclass(frozen=True)
class Orbit:
    """A polynomial orbit: ``position(t) = sum_k c_k ((t - centre) / scale)^k``.

    ``coefficients`` has shape ``(degree + 1, 3)``, lowest order first; ``t``
    is in seconds since ``epoch``.
    """

    epoch: np.datetime64
    centre: float
    scale: float
    coefficients: np.ndarray

    def seconds(self, times: Any) -> np.ndarray:
        """Seconds since :attr:`epoch` of datetime64 values (floats pass through)."""
        return _as_seconds(times, self.epoch)

    def _eval(self, t: Any, order: int) -> np.ndarray:
        u = (self.seconds(t) - self.centre) / self.scale
        c = self.coefficients
        for _ in range(order):
            c = c[1:] * np.arange(1, c.shape[0])[:, None] / self.scale
        out = np.zeros(u.shape + (3,))
        for coef in c[::-1]:  # Horner
            out = out * u[..., None] + coef
        return out

    def position(self, t: Any) -> np.ndarray:
        """ECEF position (m), shape ``t.shape + (3,)``."""
        return self._eval(t, 0)

    def velocity(self, t: Any) -> np.ndarray:
        """ECEF velocity (m/s), shape ``t.shape + (3,)``."""
        return self._eval(t, 1)

    def acceleration(self, t: Any) -> np.ndarray:
        """ECEF acceleration (m/s^2), shape ``t.shape + (3,)``."""
        return self._eval(t, 2)


def fit_orbit(
    times: Any,
    positions: Any,
    velocities: Any = None,
    *,
    degree: int = 5,
    epoch: Any = None,
) -> Orbit:
    """Least-squares polynomial orbit through state vectors.

    Parameters
    ----------
    times
        State-vector times, datetime64 or seconds since ``epoch``.
    positions
        ECEF positions (m), shape ``(n, 3)``.
    velocities
        ECEF velocities (m/s), shape ``(n, 3)``; when given they enter the fit
        as derivative equations (weighted by the time scale).
    degree
        Polynomial degree (at most 5 keeps Sentinel-1's 10 s vectors smooth).
    epoch
        Reference time (datetime64); default: the first state-vector time.

    Returns
    -------
    Orbit
    """
    t_raw = np.asarray(times)
    if epoch is None:
        epoch = (
            t_raw.ravel()[0]
            if np.issubdtype(t_raw.dtype, np.datetime64)
            else np.datetime64(0, "ns")
        )
    epoch = np.datetime64(epoch, "ns")
    t = _as_seconds(t_raw, epoch)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if t.size != pos.shape[0] or t.size <= degree:
        raise ValueError(
            f"need more than degree={degree} state vectors with one time each, "
            f"got {t.size} times and {pos.shape[0]} positions"
        )
    centre = float((t.min() + t.max()) / 2)
    scale = float(max((t.max() - t.min()) / 2, 1.0))
    u = (t - centre) / scale
    rows = [u[:, None] ** np.arange(degree + 1)]
    rhs = [pos]
    if velocities is not None:
        vel = np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
        k = np.arange(degree + 1)
        d = np.where(k > 0, k * u[:, None] ** np.maximum(k - 1, 0), 0.0)
        rows.append(d)  # d(pos)/du = scale * velocity
        rhs.append(vel * scale)
    coef, *_ = np.linalg.lstsq(np.vstack(rows), np.vstack(rhs), rcond=None)
    return Orbit(epoch=epoch, centre=centre, scale=scale, coefficients=coef)


def orbit_from_dataset(orbit: Any, *, degree: int = 5) -> Orbit:
    """:func:`fit_orbit` on an xarray-sentinel ``orbit`` group (position/velocity by axis)."""
    times = orbit["azimuth_time"].values
    pos = orbit["position"].transpose("azimuth_time", "axis").values
    vel = orbit["velocity"].transpose("azimuth_time", "axis").values
    return fit_orbit(times, pos, vel, degree=degree)


# --------------------------------------------------------------------------- ellipsoid


def geodetic_to_ecef(lon: Any, lat: Any, height: Any = 0.0) -> np.ndarray:
    """WGS84 longitude, latitude (deg) and ellipsoidal height (m) to ECEF, shape ``(..., 3)``."""
    lon_, lat_, h_ = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lon, lat, height))
    )
    x, y, z = _TO_ECEF.transform(lon_, lat_, h_)
    return np.stack([np.asarray(x), np.asarray(y), np.asarray(z)], axis=-1)


def ecef_to_geodetic(xyz: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF ``(..., 3)`` to WGS84 ``(lon, lat, height)``, degrees and metres."""
    p = np.asarray(xyz, dtype=np.float64)
    lon, lat, h = _TO_GEODETIC.transform(p[..., 0], p[..., 1], p[..., 2])
    return np.asarray(lon), np.asarray(lat), np.asarray(h)


def _normal(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


# --------------------------------------------------------------------------- radar grid


@dataclass(frozen=True)
class RadarGrid:
    """Line/pixel of a burst or swath: line 0 at ``first_line_time`` (s since the orbit epoch)."""

    first_line_time: float
    azimuth_time_interval: float
    slant_range_time: float  # two-way, first sample (s)
    range_sampling_rate: float  # Hz

    def line(self, t: Any) -> np.ndarray:
        return (np.asarray(t, dtype=np.float64) - self.first_line_time) / self.azimuth_time_interval

    def pixel(self, tau: Any) -> np.ndarray:
        return (
            np.asarray(tau, dtype=np.float64) - self.slant_range_time
        ) * self.range_sampling_rate

    def time(self, line: Any) -> np.ndarray:
        return (
            self.first_line_time + np.asarray(line, dtype=np.float64) * self.azimuth_time_interval
        )

    def tau(self, pixel: Any) -> np.ndarray:
        return (
            self.slant_range_time + np.asarray(pixel, dtype=np.float64) / self.range_sampling_rate
        )


class RadarCoordinates(NamedTuple):
    """Zero-Doppler coordinates: time (s since epoch), two-way range time (s), line, pixel."""

    azimuth_time: np.ndarray
    slant_range_time: np.ndarray
    line: np.ndarray | None
    pixel: np.ndarray | None


class GroundCoordinates(NamedTuple):
    """A ground point: WGS84 lon/lat (deg), height (m), ECEF (m), incidence and look angle (deg)."""

    longitude: np.ndarray
    latitude: np.ndarray
    height: np.ndarray
    xyz: np.ndarray
    incidence_angle: np.ndarray
    elevation_angle: np.ndarray


def zero_doppler(
    orbit: Orbit, xyz: Any, t_guess: Any = None, *, tol: float = 1e-8, max_iter: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """Zero-Doppler time (s since epoch) and slant range (m) of ECEF points.

    Newton on ``f(t) = (P - S(t)) . V(t)`` with ``f' = (P - S) . A - |V|^2``,
    from ``t_guess`` (default: the orbit's centre time), until every step is
    below ``tol`` seconds.
    """
    p = np.asarray(xyz, dtype=np.float64)
    t = (
        np.full(p.shape[:-1], orbit.centre)
        if t_guess is None
        else np.broadcast_to(orbit.seconds(t_guess), p.shape[:-1]).astype(np.float64)
    )
    for _ in range(max_iter):
        d = p - orbit.position(t)
        v = orbit.velocity(t)
        f = np.einsum("...i,...i", d, v)
        fp = np.einsum("...i,...i", d, orbit.acceleration(t)) - np.einsum("...i,...i", v, v)
        step = f / fp
        t = t - step
        if np.all(np.abs(step) < tol):
            break
    rng = np.linalg.norm(p - orbit.position(t), axis=-1)
    return t, rng


def ground_to_radar(
    orbit: Orbit,
    lon: Any,
    lat: Any,
    height: Any = 0.0,
    *,
    grid: RadarGrid | None = None,
    t_guess: Any = None,
) -> RadarCoordinates:
    """Zero-Doppler radar coordinates of ground points (lon, lat deg; height m).

    Returns the azimuth time (s since ``orbit.epoch``), the two-way slant
    range time, and with a ``grid`` the fractional line and pixel.
    """
    t, rng = zero_doppler(orbit, geodetic_to_ecef(lon, lat, height), t_guess)
    tau = 2.0 * rng / SPEED_OF_LIGHT
    if grid is None:
        return RadarCoordinates(t, tau, None, None)
    return RadarCoordinates(t, tau, grid.line(t), grid.pixel(tau))


def radar_to_ground(
    orbit: Orbit,
    azimuth_time: Any,
    slant_range_time: Any,
    height: Any = 0.0,
    *,
    tol: float = 1e-4,
    max_iter: int = 10,
) -> GroundCoordinates:
    """The ground point at ``height`` (m above WGS84) seen at a zero-Doppler time and range.

    The point lies in the plane through the satellite normal to its velocity,
    at slant range ``c * slant_range_time / 2``, to the right of the velocity.
    The off-nadir angle starts from a spherical guess and is refined by
    Newton on the geodetic height (``tol`` metres).
    """
    t, tau, h = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=np.float64)
            for v in (orbit.seconds(azimuth_time), slant_range_time, height)
        )
    )
    s = orbit.position(t)
    v = orbit.velocity(t)
    rng = tau * SPEED_OF_LIGHT / 2
    vhat = v / np.linalg.norm(v, axis=-1, keepdims=True)
    down = -s - np.einsum("...i,...i", -s, vhat)[..., None] * vhat
    down /= np.linalg.norm(down, axis=-1, keepdims=True)
    right = np.cross(down, vhat)
    # spherical guess with the local geocentric radius of the nadir point
    rs = np.linalg.norm(s, axis=-1)
    sinlat2 = (s[..., 2] / rs) ** 2
    rho = _WGS84_A * _WGS84_B / np.sqrt(_WGS84_B**2 * (1 - sinlat2) + _WGS84_A**2 * sinlat2) + h
    theta = np.arccos(np.clip((rs**2 + rng**2 - rho**2) / (2 * rs * rng), -1.0, 1.0))
    for _ in range(max_iter):
        look = np.cos(theta)[..., None] * down + np.sin(theta)[..., None] * right
        p = s + rng[..., None] * look
        lon, lat, hp = ecef_to_geodetic(p)
        dp = rng[..., None] * (-np.sin(theta)[..., None] * down + np.cos(theta)[..., None] * right)
        dh = np.einsum("...i,...i", dp, _normal(lon, lat))
        step = (hp - h) / dh
        theta = theta - step
        if np.all(np.abs(hp - h) < tol):
            break
    look = np.cos(theta)[..., None] * down + np.sin(theta)[..., None] * right
    p = s + rng[..., None] * look
    lon, lat, hp = ecef_to_geodetic(p)
    cos_inc = np.einsum("...i,...i", -look, _normal(lon, lat))
    incidence = np.degrees(np.arccos(np.clip(cos_inc, -1.0, 1.0)))
    return GroundCoordinates(lon, lat, hp, p, incidence, np.degrees(theta))
