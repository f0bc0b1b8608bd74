"""Assemble one simulated IW SLC product: measurement TIFF, XML files, manifest, zip."""

from __future__ import annotations

import hashlib
import math
import warnings
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from eolab.io.rasters import atomic_path
from eolab.s1.geometry import SPEED_OF_LIGHT
from eolab.samples import _s1safe_signal as sig
from eolab.samples._s1safe_manifest import ManifestInfo, manifest_xml
from eolab.samples._s1safe_orbit import relative_orbit
from eolab.samples._s1safe_swath import (
    AZIMUTH_TIME_INTERVAL,
    RADAR_FREQUENCY,
    RANGE_SAMPLING_RATE,
    STEERING_RATE,
    Ground,
    Swath,
    nodes,
)
from eolab.samples._s1safe_xml import (
    Annotation,
    Header,
    annotation_xml,
    calibration_xml,
    noise_xml,
)
from eolab.samples.s2safe import _Zip

A_BETA = 237.0  #: calibration amplitude (beta nought), constant as in real IW SLC
DN_LUT = 200.8
NESZ_DB = -30.0
IMAGE_NUMBER = {"IW1": "004", "IW2": "005", "IW3": "006"}  # VV


def _tiff(
    data: np.ndarray, gcps: list[GroundControlPoint], rows: list[int]
) -> tuple[bytes, list[int]]:
    """Uncompressed one-line-strip CInt16 GeoTIFF with GCPs; byte offsets of ``rows``."""
    height, width = data.shape
    with MemoryFile(ext=".tiff") as mem, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # GCPs are set after opening
        with mem.open(
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype="complex_int16",
            blockysize=1,
            tiled=False,
        ) as dst:
            dst.write(data, 1)
            dst.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))
        with mem.open() as src:
            offsets = [int(src.get_tag_item(f"BLOCK_OFFSET_0_{r}", "TIFF", bidx=1)) for r in rows]
        return bytes(mem.read()), offsets


def _heading(sw: Swath, t: float, lon: float, lat: float) -> float:
    v = sw.orbit.velocity(np.array(t))
    lo, la = math.radians(lon), math.radians(lat)
    east = np.array([-math.sin(lo), math.cos(lo), 0.0])
    north = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])
    return math.degrees(math.atan2(float(v @ east), float(v @ north)))


def write_product(
    dest: Path,
    sw: Swath,
    bursts: list[np.ndarray],
    ground: Ground,
    *,
    date: int,
    seed: int,
    absolute_orbit: int,
    vector_start: float,
) -> Path:
    """Write ``<NAME>.zip`` of one acquisition; ``bursts`` are sigma0-scaled unit fields."""
    anx = sw.anx

    def when(t: float) -> datetime:
        return anx + timedelta(seconds=t)

    lpb, nb, ns = sw.lines_per_burst, len(bursts), sw.samples
    first_line = when(sw.burst_start(0))
    last_line = when(sw.burst_start(nb - 1) + (lpb - 1) * AZIMUTH_TIME_INTERVAL)
    datatake = 0x0459F2 + (absolute_orbit - 36969) * 5
    uid = hashlib.md5(f"eolab-s1-{date}".encode()).hexdigest()[:4].upper()  # not the seed
    start_s, stop_s = first_line.replace(microsecond=0), last_line.replace(microsecond=0)
    name = (
        f"S1A_IW_SLC__1SDV_{start_s:%Y%m%dT%H%M%S}_{stop_s:%Y%m%dT%H%M%S}_"
        f"{absolute_orbit:06d}_{datatake:06X}_{uid}"
    )
    stem = (
        f"s1a-{sw.swath.lower()}-slc-vv-{start_s:%Y%m%dt%H%M%S}-{stop_s:%Y%m%dt%H%M%S}-"
        f"{absolute_orbit:06d}-{datatake:06x}-{IMAGE_NUMBER[sw.swath]}"
    )

    # geolocation grid: each burst's first line and the last line
    gcp_px = nodes(ns, 80)
    rows = [(k, 0.0, k * lpb) for k in range(nb)] + [(nb - 1, float(lpb - 1), nb * lpb - 1)]
    gcps, tiff_gcps = [], []
    for k, line, row in rows:
        g, _, _ = ground.locate(sw, k, np.full(gcp_px.shape, line), gcp_px)
        t = sw.grid(k).time(line)
        for j, p in enumerate(gcp_px):
            gcps.append(
                {
                    "time": when(float(t)),
                    "tau": float(sw.tau(p)),
                    "line": row,
                    "pixel": int(p),
                    "lat": g.latitude[j],
                    "lon": g.longitude[j],
                    "height": g.height[j],
                    "incidence": g.incidence_angle[j],
                    "elevation": g.elevation_angle[j],
                }
            )
            tiff_gcps.append(
                GroundControlPoint(
                    row=row,
                    col=int(p),
                    x=float(g.longitude[j]),
                    y=float(g.latitude[j]),
                    z=float(g.height[j]),
                )
            )
    # calibration: incidence along the middle line of burst 0
    lut_px = nodes(ns, 40)
    gmid, _, _ = ground.locate(sw, 0, np.full(lut_px.shape, lpb / 2), lut_px)
    inc = np.radians(gmid.incidence_angle)
    a_sigma = A_BETA / np.sqrt(np.sin(inc))
    a_gamma = A_BETA / np.sqrt(np.tan(inc))
    amp = np.interp(np.arange(ns), lut_px, a_sigma)
    first_valid, last_valid = sig.valid_samples(lpb, ns)
    dn = np.concatenate([sig.quantise(b, amp, first_valid, last_valid) for b in bursts])
    tiff, offsets = _tiff(dn, tiff_gcps, [k * lpb for k in range(nb)])

    header = Header(
        "S1A",
        sw.swath,
        "VV",
        first_line,
        last_line,
        absolute_orbit,
        datatake,
        IMAGE_NUMBER[sw.swath],
    )
    vec_times, pos, vel = sw.model.state_vectors(vector_start, 17)
    mids = [sw.burst_mid(k) for k in range(-1, nb + 1)]
    centre = gcps[len(gcps) // 2]
    tmid = sw.burst_mid(0)
    vs = float(np.linalg.norm(sw.orbit.velocity(np.array(tmid))))
    az_spacing = (
        vs
        * 6_371_000.0
        / float(np.linalg.norm(sw.orbit.position(np.array(tmid))))
        * AZIMUTH_TIME_INTERVAL
    )
    ann = Annotation(
        header=header,
        anx=anx,
        heading=_heading(sw, tmid, centre["lon"], centre["lat"]),
        range_sampling_rate=RANGE_SAMPLING_RATE,
        radar_frequency=RADAR_FREQUENCY,
        steering_rate=STEERING_RATE[sw.swath],
        first_line=first_line,
        last_line=last_line,
        slant_range_time=sw.slant_range_time,
        range_spacing=SPEED_OF_LIGHT / 2 / RANGE_SAMPLING_RATE,
        azimuth_spacing=az_spacing,
        azimuth_time_interval=AZIMUTH_TIME_INTERVAL,
        samples=ns,
        lines=nb * lpb,
        incidence_mid=float(np.degrees(inc[inc.size // 2])),
        lines_per_burst=lpb,
        burst_times=[when(sw.burst_start(k)) for k in range(nb)],
        byte_offsets=offsets,
        first_valid=first_valid,
        last_valid=last_valid,
        orbit=[(t.replace(tzinfo=None), p, v) for t, p, v in zip(vec_times, pos, vel, strict=True)],
        fm_rates=[(when(t), sw.slant_range_time, sw.fm_rate_poly(t)) for t in mids],
        dc=[(when(t), sw.slant_range_time, sw.dc_poly()) for t in mids],
        gcps=gcps,
    )
    cal_vectors = [(when(sw.burst_start(k)), k * lpb) for k in range(nb)] + [
        (last_line, nb * lpb - 1)
    ]
    noise_vectors = [(when(sw.burst_start(k)), k * lpb) for k in range(nb)]
    eta = 10 ** (NESZ_DB / 10) * a_sigma**2
    files = [
        ("s1Level1ProductSchema", f"./annotation/{stem}.xml", annotation_xml(ann)),
        (
            "s1Level1NoiseSchema",
            f"./annotation/calibration/noise-{stem}.xml",
            noise_xml(header, noise_vectors, lut_px, eta, nb * lpb, ns),
        ),
        (
            "s1Level1CalibrationSchema",
            f"./annotation/calibration/calibration-{stem}.xml",
            calibration_xml(header, cal_vectors, lut_px, a_sigma, A_BETA, a_gamma, DN_LUT),
        ),
        ("s1Level1MeasurementSchema", f"./measurement/{stem}.tiff", tiff),
    ]
    corners = [gcps[0], gcps[len(gcp_px) - 1], gcps[-1], gcps[-len(gcp_px)]]
    manifest = manifest_xml(
        ManifestInfo(
            mission="S1A",
            swath=sw.swath,
            pol="VV",
            absolute_orbit=absolute_orbit,
            relative_orbit=relative_orbit(absolute_orbit),
            anx=anx,
            datatake=datatake,
            start=first_line,
            stop=last_line,
            footprint=[(float(c["lat"]), float(c["lon"])) for c in corners],
            files=files,
        )
    )
    path = dest / f"{name}.zip"
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compresslevel=1) as archive:
        out = _Zip(archive, last_line.replace(tzinfo=UTC))
        out.add(f"{name}.SAFE/manifest.safe", manifest, compress=True)
        for _, href, data in files:
            out.add(f"{name}.SAFE/{href[2:]}", data, compress=True)
        out.add_dirs(f"{name}.SAFE/support/")
        out.add_dirs(f"{name}.SAFE/preview/")
    return path
