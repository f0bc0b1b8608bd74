"""The simulated Sentinel-1 IW SLC pair: SAFE layout read by xarray-sentinel, geometry, signal."""

from __future__ import annotations

import hashlib
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

xs = pytest.importorskip("xarray_sentinel")

from eolab.s1 import geometry as g

SWATH, POL = "IW2", "VV"
GROUPS = [
    "",
    "/orbit",
    "/gcp",
    "/calibration",
    "/noise_range",
    "/noise_azimuth",
    "/azimuth_fm_rate",
    "/dc_estimate",
    "/0",
    "/1",
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from eolab.samples.flood import simulate_flood_scene
    from eolab.samples.s1safe import write_slc_pair

    scene = simulate_flood_scene(bands=())
    dest = tmp_path_factory.mktemp("s1pair")
    out = write_slc_pair(scene, dest, seed=2021)
    safes = []
    for path in out["products"]:
        with zipfile.ZipFile(path) as z:
            z.extractall(dest / "unzipped")
        safes.append(dest / "unzipped" / f"{path.name[:-4]}.SAFE")
    out["safes"] = safes
    out["scene"] = scene
    return out


def _open(safe: Path, group: str = "") -> Any:
    return xs.open_sentinel1_dataset(safe, group=f"{SWATH}/{POL}{group}")


def test_write_slc_pair__names_and_size(pair: dict[str, Any]) -> None:
    names = pair["names"]
    assert [n[17:25] for n in names] == ["20210312", "20210324"]
    for name, orbit in zip(names, pair["absolute_orbits"], strict=True):
        assert name.startswith("S1A_IW_SLC__1SDV_")
        assert f"_{orbit:06d}_" in name
    assert pair["relative_orbit"] == 147
    total = sum(p.stat().st_size for p in pair["products"])
    assert total < 25e6, total
    assert pair["truth"].stat().st_size < 2e6


@pytest.mark.parametrize("date", [0, 1])
def test_write_slc_pair__every_group_opens(pair: dict[str, Any], date: int) -> None:
    safe = pair["safes"][date]
    root = xs.open_sentinel1_dataset(safe)
    assert root.attrs["pass"] == "DESCENDING"
    assert root.attrs["relative_orbit_number"] == 147
    for group in GROUPS:
        ds = _open(safe, group)
        assert len(ds.data_vars) > 0, group
    swath = _open(safe)
    assert swath.attrs["number_of_bursts"] == 2
    assert swath.measurement.shape == (2 * swath.attrs["lines_per_burst"], pair["samples"])
    burst = _open(safe, "/1")
    assert np.iscomplexobj(burst.measurement.values)
    cal = xs.open_sentinel1_dataset(safe, group=f"{SWATH}/{POL}/calibration")
    sigma0 = xs.calibrate_intensity(burst.measurement[:200, :200], cal.sigmaNought)
    assert np.isfinite(sigma0.values).all()


def test_write_slc_pair__deterministic(pair: dict[str, Any], tmp_path: Path) -> None:
    from eolab.samples.s1safe import write_slc_pair

    scene = pair["scene"]  # the truth as a mapping (as eolab.samples.build holds it): same bytes
    truth = {k: getattr(scene, k) for k in ("bounds", "landcover", "flood", "dem")}
    again = write_slc_pair(truth, tmp_path, seed=2021)
    for a, b in zip(pair["products"], again["products"], strict=True):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


@pytest.mark.parametrize("date", [0, 1])
def test_gcp_grid__matches_geometry(pair: dict[str, Any], date: int) -> None:
    """ground->radar of every annotated GCP (lat, lon, height) lands on its line/pixel."""
    safe = pair["safes"][date]
    swath = _open(safe)
    orbit = g.orbit_from_dataset(_open(safe, "/orbit"))
    gcp = _open(safe, "/gcp")
    attrs = swath.attrs
    lpb = attrs["lines_per_burst"]
    bursts = [np.datetime64(t) for t in _burst_times(safe)]
    lat, lon, h = (gcp[v].values for v in ("latitude", "longitude", "height"))
    rc = g.ground_to_radar(orbit, lon, lat, h)
    line = gcp["line"].values[:, None] + np.zeros(lat.shape, np.int64)
    k = np.minimum(line // lpb, len(bursts) - 1)
    t_burst = orbit.seconds(np.array(bursts))[k]
    pred_line = k * lpb + (rc.azimuth_time - t_burst) / attrs["azimuth_time_interval"]
    pred_pixel = (rc.slant_range_time - attrs["image_slant_range_time"]) * attrs[
        "range_sampling_rate"
    ]
    assert np.abs(pred_line - line).max() < 0.01
    assert np.abs(pred_pixel - gcp["pixel"].values[None, :]).max() < 0.01


def _burst_times(safe: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    ann = next((safe / "annotation").glob("s1a-*.xml"))
    return [b.findtext("azimuthTime") or "" for b in ET.parse(ann).getroot().iter("burst")]


def _ramp(safe: Path, k: int, lines: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """TOPS phase of burst k from the annotation only (S1_NOTES section 3)."""
    swath = _open(safe)
    attrs = swath.attrs
    orbit = g.orbit_from_dataset(_open(safe, "/orbit"))
    fm, dc = _open(safe, "/azimuth_fm_rate"), _open(safe, "/dc_estimate")
    lpb, dt = attrs["lines_per_burst"], attrs["azimuth_time_interval"]
    t0_burst = orbit.seconds(np.datetime64(_burst_times(safe)[k]))
    tmid = t0_burst + lpb / 2 * dt
    i_fm = int(np.argmin(np.abs(orbit.seconds(fm.azimuth_time.values) - tmid)))
    i_dc = int(np.argmin(np.abs(orbit.seconds(dc.azimuth_time.values) - tmid)))
    fm_c = fm.azimuth_fm_rate_polynomial.values[i_fm]
    dc_c = dc.data_dc_polynomial.values[i_dc]
    tau0 = attrs["image_slant_range_time"]

    def poly(c: np.ndarray, t0: float, tau: Any) -> Any:
        return c[0] + c[1] * (tau - t0) + c[2] * (tau - t0) ** 2

    tau = tau0 + pixels / attrs["range_sampling_rate"]
    ka = poly(fm_c, float(fm.t0.values[i_fm]), tau)
    fdc = poly(dc_c, float(dc.t0.values[i_dc]), tau)
    ka0 = poly(fm_c, float(fm.t0.values[i_fm]), tau0)
    fdc0 = poly(dc_c, float(dc.t0.values[i_dc]), tau0)
    vs = float(np.linalg.norm(orbit.velocity(np.array(tmid))))
    wavelength = g.SPEED_OF_LIGHT / (attrs["radar_frequency"] * 1e9)
    ks = 2 * vs * math.radians(attrs["azimuth_steering_rate"]) / wavelength
    kt = ka * ks / (ka - ks)
    eta_ref = -fdc / ka + fdc0 / ka0
    eta = (lines - lpb / 2) * dt
    x = eta - eta_ref
    return np.asarray(-np.pi * kt * x**2 - 2 * np.pi * fdc * x)


@pytest.mark.parametrize("date", [0, 1])
def test_deramp__azimuth_spectrum_centred(pair: dict[str, Any], date: int) -> None:
    safe = pair["safes"][date]
    burst = _open(safe, "/0").measurement.values
    lines = np.arange(burst.shape[0], dtype=np.float64)[:, None]
    pixels = np.arange(burst.shape[1], dtype=np.float64)[None, :]
    valid = slice(40, burst.shape[0] - 40)
    prf = 1 / _open(safe).attrs["azimuth_time_interval"]

    def centroid(data: np.ndarray) -> float:
        # power-weighted azimuth spectrum centre (lag-one correlation), in Hz, wrapped to the PRF
        acf = np.sum(data[1:, 8:-8] * np.conj(data[:-1, 8:-8]))
        return float(np.angle(acf) / (2 * np.pi) * prf)

    def wrap(f: float) -> float:
        return (f + prf / 2) % prf - prf / 2

    phi = _ramp(safe, 0, lines, pixels)
    deramped = burst * np.exp(1j * phi)
    mid = burst.shape[1] // 2
    local = []
    for start in range(40, burst.shape[0] - 72, 100):
        part = slice(start, start + 32)
        assert abs(centroid(deramped[part])) < 0.03 * prf
        # the raw data follow the ramp's instantaneous frequency -dphi/deta / 2 pi (aliased)
        dphi = (phi[start + 17, mid] - phi[start + 15, mid]) / 2
        f_ramp = -dphi / (2 * np.pi) * prf
        local.append(f_ramp)
        assert abs(wrap(centroid(burst[part]) - f_ramp)) < 0.03 * prf
    assert max(local) - min(local) > 3 * prf  # the TOPS sweep: several PRFs over the burst
    spec = np.abs(np.fft.fft(deramped[valid], axis=0)) ** 2
    f = np.fft.fftfreq(spec.shape[0], 1 / prf)
    inband = spec[np.abs(f) < 0.35 * prf].mean()
    outband = spec[np.abs(f) > 0.45 * prf].mean()
    assert outband < 0.05 * inband  # band-limited around 0 Hz after deramping


def test_coherence__true_offsets_recover_gamma(pair: dict[str, Any]) -> None:
    """Deramp date 2, resample it at the true offsets, reramp, remove the baseline phase:
    per-class coherence over a large window approximates the true gamma."""
    from scipy import ndimage

    ref, sec = pair["safes"]
    truth = np.load(pair["truth"])
    k = 0
    s1 = _open(ref, f"/{k}").measurement.values.astype(np.complex128)
    s2 = _open(sec, f"/{k}").measurement.values.astype(np.complex128)
    ny, nx = s1.shape
    lines, pixels = np.arange(ny, dtype=np.float64), np.arange(nx, dtype=np.float64)
    nl, npx = truth[f"offset_lines_{k}"], truth[f"offset_pixels_{k}"]
    ol = _bilinear(nl, npx, truth[f"offset_line_{k}"], lines, pixels)
    op = _bilinear(nl, npx, truth[f"offset_pixel_{k}"], lines, pixels)
    l2, p2 = lines[:, None] + ol, pixels[None, :] + op
    base = s2 * np.exp(1j * _ramp(sec, k, lines[:, None], pixels[None, :]))
    res = ndimage.map_coordinates(
        base.real, [l2, p2], order=3, mode="nearest"
    ) + 1j * ndimage.map_coordinates(base.imag, [l2, p2], order=3, mode="nearest")
    s2r = res * np.exp(-1j * _ramp(sec, k, l2, p2))
    attrs = _open(ref).attrs
    wavelength = g.SPEED_OF_LIGHT / (attrs["radar_frequency"] * 1e9)
    dr = op * g.SPEED_OF_LIGHT / (2 * attrs["range_sampling_rate"])
    ifg = s1 * np.conj(s2r) * np.exp(-1j * 4 * np.pi / wavelength * dr)
    win = (9, 30)
    num = np.abs(ndimage.uniform_filter(ifg.real, win) + 1j * ndimage.uniform_filter(ifg.imag, win))
    den = np.sqrt(
        np.clip(
            ndimage.uniform_filter(np.abs(s1) ** 2, win)
            * ndimage.uniform_filter(np.abs(s2r) ** 2, win),
            0,
            None,
        )
    )
    coh = num / np.maximum(den, 1e-12)
    cls = truth[f"class1_{k}"]
    # pure windows only: the class is constant over the window
    pure = ndimage.minimum_filter(cls, win) == ndimage.maximum_filter(cls, win)
    pure[:40] = pure[-40:] = False
    pure[:, :20] = pure[:, -20:] = False
    table = truth["coherence_table"]
    for code in (2, 3, 5, 7):
        sel = pure & (cls == code)
        if sel.sum() < 200:
            continue
        expected = table[code]
        # bias of |gamma| over ~9x30 band-limited samples (~170 looks): about +0.07 at 0, less above
        assert abs(float(coh[sel].mean()) - expected) < 0.08, (code, coh[sel].mean(), expected)


def _bilinear(
    nl: np.ndarray, npx: np.ndarray, v: np.ndarray, lines: np.ndarray, pixels: np.ndarray
) -> np.ndarray:
    from scipy.interpolate import RegularGridInterpolator

    f = RegularGridInterpolator((nl, npx), v, bounds_error=False, fill_value=None)
    ll, pp = np.meshgrid(lines, pixels, indexing="ij")
    return np.asarray(f((ll, pp)))


def test_truth__offsets_vary_across_the_scene(pair: dict[str, Any]) -> None:
    truth = np.load(pair["truth"])
    for k in range(2):
        ol, op = truth[f"offset_line_{k}"], truth[f"offset_pixel_{k}"]
        assert np.abs(op - op.mean()).max() > 0.1  # one constant shift errs by > 0.05 px
        assert 0.0 < abs(float(ol.mean())) < 2.0


def test_truth__offsets_match_geometry(pair: dict[str, Any]) -> None:
    """The truth offsets (bilinear between nodes) agree with geometry from the annotated orbits:
    date-1 pixel -> ground on the DEM -> date-2 zero-Doppler line/pixel."""
    from eolab.samples._s1safe_swath import Ground

    ref, sec = pair["safes"]
    truth = np.load(pair["truth"])
    ground = Ground(pair["scene"])
    o1 = g.orbit_from_dataset(_open(ref, "/orbit"))
    o2 = g.orbit_from_dataset(_open(sec, "/orbit"))
    a1, a2 = _open(ref).attrs, _open(sec).attrs
    rng = np.random.default_rng(0)
    for k in range(2):
        t1 = o1.seconds(np.datetime64(_burst_times(ref)[k]))
        t2 = o2.seconds(np.datetime64(_burst_times(sec)[k]))
        grid1 = g.RadarGrid(
            t1, a1["azimuth_time_interval"], a1["image_slant_range_time"], a1["range_sampling_rate"]
        )
        grid2 = g.RadarGrid(
            t2, a2["azimuth_time_interval"], a2["image_slant_range_time"], a2["range_sampling_rate"]
        )
        lines = rng.uniform(0, a1["lines_per_burst"] - 1, 300)
        pixels = rng.uniform(0, pair["samples"] - 1, 300)
        h = np.full(lines.shape, ground.mean_height)
        for _ in range(4):
            pt = g.radar_to_ground(o1, grid1.time(lines), grid1.tau(pixels), h)
            x, y = ground.to_utm.transform(pt.longitude, pt.latitude)
            h = ground.height(np.asarray(x), np.asarray(y))
        pt = g.radar_to_ground(o1, grid1.time(lines), grid1.tau(pixels), h)
        rc = g.ground_to_radar(o2, pt.longitude, pt.latitude, h, grid=grid2)
        assert rc.line is not None and rc.pixel is not None
        from scipy.interpolate import RegularGridInterpolator

        nodes = (truth[f"offset_lines_{k}"], truth[f"offset_pixels_{k}"])
        ol = RegularGridInterpolator(nodes, truth[f"offset_line_{k}"])((lines, pixels))
        op = RegularGridInterpolator(nodes, truth[f"offset_pixel_{k}"])((lines, pixels))
        # DEM heights are nearest-neighbour: a node and a pixel may sit on different DEM cells
        assert np.abs(rc.line - lines - ol).max() < 0.005
        assert np.abs(rc.pixel - pixels - op).max() < 0.01
