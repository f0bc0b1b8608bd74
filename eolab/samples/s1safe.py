"""Simulated Sentinel-1A IW SLC pair over the tutorial's flood scene, in the real SAFE layout.

:func:`write_slc_pair` writes two zipped products named like the tutorial's
(S1A, IW, SLC, 1SDV, 12 and 24 March 2021, descending relative orbit 147)::

    NAME.SAFE/
      manifest.safe
      annotation/s1a-iw2-slc-vv-<start>-<stop>-<orbit>-<datatake>-005.xml
      annotation/calibration/{calibration,noise}-s1a-iw2-slc-vv-...-005.xml
      measurement/s1a-iw2-slc-vv-...-005.tiff      CInt16, bursts stacked, with GCPs
      support/  preview/                             (empty)

and ``s1_truth.npz`` next to them. xarray-sentinel opens every group of the
unzipped products (it cannot read a measurement inside a zip). Everything is
simulated; what differs from real products:

* **Geometry.** A circular Keplerian orbit anchored on a real S1A state vector
  and the 12-day / 175-orbit repeat (:mod:`eolab.samples._s1safe_orbit`):
  absolute orbits 36969 (12 March, ~19:16 UTC, descending, 06:16 local time
  on the 13th) and 37144 (24 March), relative orbit 147; the pass, burst
  timing and product names depend on neither the seed nor the window. The
  model's track is moved 14 km across track so that the flood lies in IW2 (incidence
  ~37-39 deg, slant range ~858 km). Secondary orbit: the same one 175 orbits
  later, offset 30 m radially and 140 m across track (baseline ~140 m), and
  bursts 0.37 line later: the offsets (+0.124 line, +10.82...+11.06 px)
  vary across the scene, so coregistration has to use the
  geometry (one constant shift errs by up to 0.13 px).
* **Size.** One sub-swath (IW2), VV only (VH would double the size; the name
  keeps ``1SDV``, the manifest lists VV only), 2 bursts of the real 1513
  lines, the real 1342-line burst cycle and azimuth time interval; the range
  window is cropped to :data:`SAMPLES` samples around the flood and the range
  sampling rate is **a quarter of the real one** (16.09 MHz: 9.3 m slant,
  ~15 m ground), so each product is ~12 MB zipped and covers ~23 km (range)
  x ~39 km (azimuth): the whole flood and most of the scene. The annotation
  (rangeSamplingRate, rangePixelSpacing, numberOfSamples, samplesPerBurst,
  LUT pixels, GCP grid) says so consistently. 20 edge lines per burst and 8
  edge samples are invalid (zero; firstValidSample -1 on those lines).
* **Signal** (:mod:`eolab.samples._s1safe_signal`): VV sigma0 per land-cover
  class (:data:`SIGMA0_DB`; :data:`FLOOD_SIGMA0_DB` where flooded on date 2),
  fully developed speckle (circular Gaussian, 0.8 of the band in azimuth and
  range, no weighting), true coherence per class (:data:`COHERENCE`;
  :data:`FLOOD_COHERENCE` where the flood changed the surface), the TOPS
  azimuth ramp from the annotated FM rate, Doppler centroid and steering
  rate (deramp before resampling), and the interferometric phase of the
  baseline (flat earth and topography, from the scene's DEM). Ground points
  come from radar -> ground on the scene's DEM (nearest 20 m cell); outside
  the scene the class is 0 (sigma0 -12 dB, coherence 0.3). No thermal noise
  is added; the noise LUTs annotate a NESZ of -30 dB (the real one is about
  -23 dB), so that noise subtraction barely changes the simulated sigma0.
* **Calibration**: A_beta = 237 (constant), A_sigma = A_beta / sqrt(sin inc),
  A_gamma = A_beta / sqrt(tan inc), dn = 200.8, one vector at each burst
  start and the last line, every 40 samples; absoluteCalibrationConstant 1.
* Not written: attitude, antenna pattern, replica, RFI, quick-look, KML,
  the support XSDs (xarray-sentinel does not read them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from eolab.io.rasters import atomic_path
from eolab.s1.geometry import ground_to_radar
from eolab.samples import _s1safe_signal as sig
from eolab.samples._flood_spec import FULL_WINDOW
from eolab.samples._s1safe_orbit import PERIOD, KeplerOrbit, _pick_pass, relative_orbit
from eolab.samples._s1safe_product import write_product
from eolab.samples._s1safe_swath import (
    AZIMUTH_TIME_INTERVAL,
    RANGE_SAMPLING_RATE,
    Ground,
    Swath,
)

__all__ = [
    "COHERENCE",
    "DATES",
    "FLOOD_COHERENCE",
    "FLOOD_SIGMA0_DB",
    "SAMPLES",
    "SIGMA0_DB",
    "write_slc_pair",
]

COHERENCE = sig.COHERENCE
FLOOD_COHERENCE = sig.FLOOD_COHERENCE
SIGMA0_DB = sig.SIGMA0_DB
FLOOD_SIGMA0_DB = sig.FLOOD_SIGMA0_DB
DATES = ("20210312", "20210324")
SAMPLES = 1536  #: range samples per product
BURSTS = 2
SWATH = "IW2"
GROUND_RANGE_KM = 467.5  #: the scene centre, right of the ground track
BURST_SHIFT_LINES = 0.37  #: date-2 burst timing, relative to date 1 (lines)
BASELINE = {"radial_offset": 30.0, "cross_offset": 140.0, "cross_rate": 0.0}


def _scene_view(scene: Any) -> SimpleNamespace:
    """The truth a pair needs, from a FloodScene or a mapping of the same names."""

    def get(key: str, default: Any = None) -> Any:
        if isinstance(scene, Mapping):
            return scene.get(key, default)
        return getattr(scene, key, default)

    missing = [k for k in ("bounds", "landcover", "flood", "dem") if get(k) is None]
    if missing:
        raise ValueError(
            f"scene lacks {', '.join(missing)}: pass a FloodScene or a mapping with "
            "bounds, landcover, flood and dem (20 m grid of EPSG:32756)"
        )
    return SimpleNamespace(
        bounds=tuple(float(v) for v in get("bounds")),
        landcover=np.asarray(get("landcover")),
        flood=np.asarray(get("flood"), dtype=bool),
        dem=np.asarray(get("dem")),
        crs=get("crs", "EPSG:32756"),
    )


def _flood_x(scene: Any) -> float:
    """UTM x the range window is centred on: the flood's median x (the scene's middle if dry)."""
    _, cols = np.nonzero(scene.flood)
    x0, _, x1, _ = scene.bounds
    return float((x0 + x1) / 2 if cols.size == 0 else x0 + 20.0 * (float(np.median(cols)) + 0.5))


def _swaths(scene: Any, ground: Ground) -> tuple[Swath, Swath, dict[str, Any]]:
    # the pass (orbit, burst timing, product names) is fixed by the tutorial scene's centre;
    # only the range window follows the flood of the given scene
    fx0, fy0, fx1, fy1 = FULL_WINDOW
    lon, lat = ground.to_lonlat.transform((fx0 + fx1) / 2, (fy0 + fy1) / 2)
    day = datetime(2021, 3, 12, tzinfo=UTC)
    absolute, anx1, node, t_pass = _pick_pass(day, lat, lon, GROUND_RANGE_KM)
    anx1 = anx1.replace(tzinfo=None)
    anx2 = anx1 + timedelta(seconds=round(175 * PERIOD * 1e6) / 1e6)
    lpb = 1513
    first = round((t_pass - (1342 + lpb) / 2 * AZIMUTH_TIME_INTERVAL) * 1e6) / 1e6
    vec_start = math.floor(first - 70.0) - (anx1.microsecond / 1e6)
    m1 = KeplerOrbit(anx1, node)
    m2 = KeplerOrbit(anx2, node, ref_time=t_pass, **BASELINE)
    o1, o2 = m1.fitted(vec_start, 17), m2.fitted(vec_start, 17)
    flon, flat = ground.to_lonlat.transform(_flood_x(scene), (fy0 + fy1) / 2)
    rc = ground_to_radar(o1, flon, flat, ground.mean_height, t_guess=t_pass)
    tau0 = float(rc.slant_range_time) - SAMPLES / 2 / RANGE_SAMPLING_RATE
    sw1 = Swath(SWATH, m1, o1, first, BURSTS, SAMPLES, tau0)
    first2 = round((first + BURST_SHIFT_LINES * AZIMUTH_TIME_INTERVAL) * 1e6) / 1e6
    sw2 = Swath(SWATH, m2, o2, first2, BURSTS, SAMPLES, tau0)
    info = {
        "absolute_orbits": (absolute, absolute + 175),
        "relative_orbit": relative_orbit(absolute),
        "vector_start": vec_start,
        "centre_lonlat": (float(flon), float(flat)),
    }
    return sw1, sw2, info


def write_slc_pair(scene: Any, dest: str | os.PathLike[str], *, seed: int = 2021) -> dict[str, Any]:
    """Write the simulated S1A IW SLC pair of ``scene`` and its truth into ``dest``.

    Parameters
    ----------
    scene
        :class:`eolab.samples.flood.FloodScene` (only the truth is used, so
        ``simulate_flood_scene(bands=())`` is enough), or a mapping with
        ``bounds``, ``landcover``, ``flood`` and ``dem`` on its 20 m grid
        (EPSG:32756), e.g. the truth of ``eolab.samples.build``'s renderer.
    dest
        Folder receiving the two ``<NAME>.zip`` and ``s1_truth.npz``.
    seed
        Seeds the speckle (same seed and scene, same bytes).

    Returns
    -------
    dict
        ``products`` (two zip paths, date order), ``names``, ``truth`` (npz
        path), ``dates``, ``sigma0_db`` and ``coherence`` per land-cover code,
        ``flood_sigma0_db``, ``flood_coherence``, ``relative_orbit``,
        ``absolute_orbits``, ``swath``, ``polarisation``, ``bursts``,
        ``lines_per_burst``, ``samples``, ``range_sampling_rate``,
        ``baseline_m``. The npz holds, per burst ``k``, the reference-grid
        offsets ``offset_line_k``/``offset_pixel_k`` (date-2 minus date-1
        line/pixel at date-1 nodes ``offset_lines_k`` x ``offset_pixels_k``;
        bilinear interpolation between nodes is good to 1e-3 px), the
        radar-geometry truth ``class1_k``/``class2_k`` (land-cover code of each
        date's pixels, 7 = flooded on date 2, 0 = outside the scene) and
        ``coherence2_k`` (true gamma at date-2 pixels), and the tables.
    """
    scene = _scene_view(scene)
    ground = Ground(scene)
    sw1, sw2, info = _swaths(scene, ground)
    w1 = sig.white_field(sig.rng_for(seed, 1), (BURSTS - 1) * 1342 + sw1.lines_per_burst, SAMPLES)
    w2 = sig.white_field(sig.rng_for(seed, 2), (BURSTS - 1) * 1342 + sw2.lines_per_burst, SAMPLES)
    truth: dict[str, np.ndarray] = {}
    bursts: dict[int, list[np.ndarray]] = {1: [], 2: []}
    inner = (slice(sig.MARGIN, -sig.MARGIN), slice(sig.MARGIN, -sig.MARGIN))
    lines = np.arange(sw1.lines_per_burst, dtype=np.float64)
    pixels = np.arange(SAMPLES, dtype=np.float64)
    for k in range(BURSTS):
        t1 = sig.classify(ground, sw1, k, 1)
        t2 = sig.classify(ground, sw2, k, 2)
        b1 = sig.baseband(sw1, k, w1)
        s1 = b1[inner] * np.exp(-1j * sw1.phase(k, lines[:, None], pixels[None, :]))
        bursts[1].append(s1 * np.sqrt(t1["sigma0"]))
        u2 = sig.baseband(sw2, k, w2)[inner] * np.exp(
            -1j * sw2.phase(k, lines[:, None], pixels[None, :])
        )
        back = sig.offsets(ground, sw2, sw1, k)
        bursts[2].append(sig.secondary_burst(sw1, sw2, k, b1, back, t2, u2))
        fwd = sig.offsets(ground, sw1, sw2, k, step=(8, 16))
        truth[f"offset_lines_{k}"] = fwd["lines"]
        truth[f"offset_pixels_{k}"] = fwd["pixels"]
        truth[f"offset_line_{k}"] = (fwd["line_dem"] - fwd["lines"][:, None]).astype(np.float64)
        truth[f"offset_pixel_{k}"] = (fwd["pixel_dem"] - fwd["pixels"][None, :]).astype(np.float64)
        truth[f"class1_{k}"] = t1["class"]
        truth[f"class2_{k}"] = t2["class"]
        truth[f"coherence2_{k}"] = t2["coherence"].astype(np.float32)
    dest_dir = Path(dest)
    dest_dir.mkdir(parents=True, exist_ok=True)
    paths, names = [], []
    for date, sw, data in ((1, sw1, bursts[1]), (2, sw2, bursts[2])):
        path = write_product(
            dest_dir,
            sw,
            data,
            ground,
            date=date,
            seed=seed,
            absolute_orbit=info["absolute_orbits"][date - 1],
            vector_start=info["vector_start"],
        )
        paths.append(path)
        names.append(path.name[:-4])
    tables = {"sigma0_db": SIGMA0_DB, "coherence": COHERENCE}
    truth["sigma0_db_table"] = np.array([SIGMA0_DB[c] for c in range(7)] + [FLOOD_SIGMA0_DB])
    truth["coherence_table"] = np.array([COHERENCE[c] for c in range(7)] + [FLOOD_COHERENCE])
    truth_path = dest_dir / "s1_truth.npz"
    with atomic_path(truth_path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **truth)  # type: ignore[arg-type]
    return {
        "products": paths,
        "names": names,
        "truth": truth_path,
        "dates": DATES,
        **tables,
        "flood_sigma0_db": FLOOD_SIGMA0_DB,
        "flood_coherence": FLOOD_COHERENCE,
        "relative_orbit": info["relative_orbit"],
        "absolute_orbits": info["absolute_orbits"],
        "swath": SWATH,
        "polarisation": "VV",
        "bursts": BURSTS,
        "lines_per_burst": sw1.lines_per_burst,
        "samples": SAMPLES,
        "range_sampling_rate": RANGE_SAMPLING_RATE,
        "baseline_m": dict(BASELINE),
        "burst_shift_lines": BURST_SHIFT_LINES,
        "centre_lonlat": info["centre_lonlat"],
    }
