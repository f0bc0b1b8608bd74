"""eolab.s1.geometry: orbit fit, ellipsoid, ground<->radar; proven on real S1 annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from eolab.s1 import geometry as g

OMEGA_E = 7.292115e-5


def _rot(t: np.ndarray) -> np.ndarray:
    """ECEF positions of a circular polar-ish orbit rotated with the Earth."""
    r, inc, n = 7_070_000.0, np.radians(98.18), 2 * np.pi / 5924.57
    u = n * t + 2.0
    x_in = np.stack([r * np.cos(u), r * np.sin(u) * np.cos(inc), r * np.sin(u) * np.sin(inc)], -1)
    w = -OMEGA_E * t + 0.5
    c, s = np.cos(w), np.sin(w)
    return np.stack(
        [c * x_in[:, 0] - s * x_in[:, 1], s * x_in[:, 0] + c * x_in[:, 1], x_in[:, 2]], -1
    )


def _orbit() -> tuple[g.Orbit, np.ndarray]:
    t = np.arange(-60.0, 61.0, 10.0)
    pos = _rot(t)
    vel = (_rot(t + 1e-3) - _rot(t - 1e-3)) / 2e-3
    epoch = np.datetime64("2021-03-12T19:00:00", "ns")
    times = epoch + (t * 1e9).astype("timedelta64[ns]")
    return g.fit_orbit(times, pos, vel), t


def test_fit_orbit__reproduces_state_vectors() -> None:
    orbit, t = _orbit()
    tt = np.linspace(-55, 55, 37)
    err = np.linalg.norm(orbit.position(tt - t[0]) - _rot(tt), axis=-1)
    assert err.max() < 0.01
    vel = (_rot(tt + 1e-3) - _rot(tt - 1e-3)) / 2e-3
    assert np.abs(orbit.velocity(tt - t[0]) - vel).max() < 1e-4


def test_geodetic_ecef__round_trip() -> None:
    lon, lat, h = (
        np.array([150.8, -10.0, 0.0]),
        np.array([-33.6, 45.0, 89.0]),
        np.array([0.0, 120.0, -30.0]),
    )
    lo, la, hh = g.ecef_to_geodetic(g.geodetic_to_ecef(lon, lat, h))
    np.testing.assert_allclose(lo, lon, atol=1e-10)
    np.testing.assert_allclose(la, lat, atol=1e-10)
    np.testing.assert_allclose(hh, h, atol=1e-6)


def test_radar_to_ground__round_trip() -> None:
    orbit, _ = _orbit()
    grid = g.RadarGrid(
        first_line_time=50.0,
        azimuth_time_interval=0.002055556,
        slant_range_time=5.34e-3,
        range_sampling_rate=64345238.0,
    )
    line, pixel = np.meshgrid(np.linspace(0, 9000, 7), np.linspace(0, 20000, 9), indexing="ij")
    h = np.linspace(-50, 800, line.size).reshape(line.shape)
    ground = g.radar_to_ground(orbit, grid.time(line), grid.tau(pixel), h)
    np.testing.assert_allclose(ground.height, h, atol=1e-3)
    assert ((ground.incidence_angle > 25) & (ground.incidence_angle < 50)).all()
    back = g.ground_to_radar(orbit, ground.longitude, ground.latitude, h, grid=grid)
    assert back.line is not None and back.pixel is not None
    np.testing.assert_allclose(back.line, line, atol=1e-4)
    np.testing.assert_allclose(back.pixel, pixel, atol=1e-4)


def test_radar_to_ground__looks_right() -> None:
    orbit, _ = _orbit()
    t = np.array([60.0])
    ground = g.radar_to_ground(orbit, t, np.array([5.5e-3]), 0.0)
    s, v = orbit.position(t)[0], orbit.velocity(t)[0]
    d = ground.xyz[0] - s
    assert np.dot(np.cross(v, d), s) < 0  # right of the velocity: (V x D) points down
    assert abs(np.dot(d, v)) / np.linalg.norm(d) / np.linalg.norm(v) < 1e-9


def _real_annotations(root: Path) -> list[Path]:
    return sorted(root.glob("s1_safe_*/S1*_IW_SLC_*.SAFE/annotation/s1*-iw1-slc-*.xml"))


@pytest.mark.parametrize("index", range(4))
def test_ground_to_radar__real_geolocation_grid(realdata: Path, index: int) -> None:
    """Every GCP of a real IW1 annotation maps back onto its own line/pixel."""
    import xarray_sentinel as xs

    annotations = _real_annotations(realdata)
    if index >= len(annotations):
        pytest.skip("fewer real IW1 annotations")
    ann = annotations[index]
    safe = ann.parents[1]
    pol = ann.name.split("-")[3].upper()
    orbit = g.orbit_from_dataset(xs.open_sentinel1_dataset(safe, group=f"IW1/{pol}/orbit"))
    root = ET.parse(ann).getroot()
    fs = float(root.findtext(".//rangeSamplingRate") or "nan")
    dt = float(root.findtext(".//azimuthTimeInterval") or "nan")
    tau0 = float(root.findtext(".//imageInformation/slantRangeTime") or "nan")
    points = root.findall(".//geolocationGridPoint")
    assert len(points) >= 4

    def field(name: str) -> np.ndarray:
        return np.array([p.findtext(name) for p in points])

    t_xml = orbit.seconds(field("azimuthTime").astype("datetime64[ns]"))
    tau_xml = field("slantRangeTime").astype(float)
    lat, lon, h = (field(k).astype(float) for k in ("latitude", "longitude", "height"))
    pixel_xml = field("pixel").astype(float)
    # per-point grid: line L at the point's own annotated time
    grid = g.RadarGrid(0.0, dt, tau0, fs)
    rc = g.ground_to_radar(orbit, lon, lat, h, grid=grid)
    assert rc.pixel is not None
    line_err = (rc.azimuth_time - t_xml) / dt
    pixel_err = rc.pixel - pixel_xml
    assert np.abs(line_err).max() <= 0.02, np.abs(line_err).max()
    assert np.abs(pixel_err).max() <= 0.05, np.abs(pixel_err).max()
    assert (
        np.abs((tau_xml - tau0) * fs - pixel_xml).max() < 0.05
    )  # the annotation is self-consistent
    # and back: radar -> ground lands within a metre of the annotated point
    ground = g.radar_to_ground(orbit, t_xml, tau_xml, h)
    from pyproj import Geod

    _, _, dist = Geod(ellps="WGS84").inv(lon, lat, ground.longitude, ground.latitude)
    assert dist.max() < 1.0
    np.testing.assert_allclose(
        ground.elevation_angle, field("elevationAngle").astype(float), atol=0.01
    )
    np.testing.assert_allclose(
        ground.incidence_angle, field("incidenceAngle").astype(float), atol=0.1
    )
