"""Speed and memory of one full-size Sentinel-1 IW burst pair, from SLC samples to the map grid.

Builds in memory (not timed) a full-size burst pair (``--samples`` 21000 range samples, the
product's lines per burst, complex64): band-limited circular-Gaussian speckle (0.67 of the
azimuth and 0.88 of the range band) with a known coherence ``--gamma`` between the dates, a
secondary that sees the ground at the offsets given by the two orbits plus a known residual
(an orbit/timing error the correlation must find), both TOPS-ramped with their own
:class:`~eolab.s1.tops.TopsRamp`, scaled to digital numbers of σ0 = 0.05 with the product's
calibration LUT, and with invalid (zero) edge lines and near-range samples as real bursts have.
The metadata — burst timing, TOPS ramp, orbits, calibration LUT — come from the simulated
sample pair in ``data_samples/`` (``eolab samples build``) read with
:func:`eolab.io.sentinel1.open_slc`, or, without samples, from the real S1B IW1 annotation in
``../shared/realdata/s1_safe_xarray_sentinel`` (the secondary's orbit then displaced by a
140 m baseline and its burst 0.4 line late). The range sampling rate is IW's 64.345238 MHz
(the samples simulate 4 times coarser range pixels), so ``--samples`` cover a real sub-swath
width; the calibration LUT's pixel nodes are stretched over them.

Then times the chain as a user writes it with the public API (one JSON line per step: wall
and CPU seconds, 1-minute load average):

1. ``geometric offsets``: a 32 × 64 lattice of reference samples to the ground
   (:func:`~eolab.s1.geometry.radar_to_ground`) and into the secondary
   (:func:`~eolab.s1.geometry.ground_to_radar`), bilinear to every sample (float32);
2. ``refine_offsets``: 12 × 24 deramped patches of 64², resampled only there (``offsets=``),
   a constant residual added (``OffsetFit.evaluate(dtype=float32)``);
3. ``resample_burst``: 8-tap sinc with TOPS deramp/reramp, ``--threads`` threads;
4. ``coherence``: 3 × 10 window, ``--threads`` threads (``--flat-earth``: with the
   flat-earth phase of the range offsets removed, as the S1-CD chain does; the synthetic pair
   carries no such phase, so this only measures its cost);
5. ``sigma0 + multilook``: :func:`~eolab.io.sentinel1.calibrate` of each date in its own
   geometry, on dask chunks (as :func:`~eolab.io.sentinel1.open_slc` gives them), multilooked
   ``--looks`` (mean of linear σ0), and the coherence multilooked the same way;
6. ``map_grid + radar_coordinates``: the ``--resolution`` m UTM grid of the burst's footprint
   and each pixel's radar line/pixel in each date's geometry (:mod:`eolab.s1.geocode`);
7. ``geocode``: the three multilooked layers onto that grid.

(The secondary is synthesised with :func:`~eolab.s1.coregister.resample_burst` itself, whose
8-tap kernel has a passband gain above 1 at fractional shifts, so its σ0 median reads up to
about 1 dB above the reference's; the mean coherence is unaffected.)

A summary line follows: total wall time of the chain, its peak resident memory (the peak is
reset after the build on Linux, ``/proc/self/clear_refs``; elsewhere ``ru_maxrss`` of the
whole process, build included), the coherence step's samples per second, checks of the
result (refined offsets against the truth, mean coherence against the estimator's expectation)
and the targets: total ≤ 30 s, peak ≤ 2 GB, coherence ≥ 20 M samples/s. ``--check`` exits
with status 1 when a target is missed. Wall times depend on the other work on the machine:
compare runs with their load average.

``python benchmarks/bench_s1_burst.py [--samples 21000] [--lines N] [--threads 2]
[--looks 1 4] [--resolution 20] [--gamma 0.6] [--flat-earth] [--source auto|samples|realdata]
[--check]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eolab.s1.coherence import coherence, expected_coherence, flat_earth_phase
from eolab.s1.coregister import refine_offsets, resample_burst
from eolab.s1.geocode import geocode, map_grid, radar_coordinates
from eolab.s1.geometry import (
    SPEED_OF_LIGHT,
    Orbit,
    RadarGrid,
    orbit_from_dataset,
    radar_to_ground,
)
from eolab.s1.pair import BurstGeometry
from eolab.s1.pair import geometric_offsets as pair_offsets
from eolab.s1.tops import TopsRamp, phasor

REPO = Path(__file__).resolve().parents[1]
TARGET_WALL_S = 30.0
TARGET_PEAK_MB = 2048.0
TARGET_COHERENCE = 20e6  # samples per second
RESIDUAL = (0.04, -0.06)  # lines, pixels: the "orbit error" refine_offsets must recover
SIGMA0 = 0.05
TRUTH_STEP = 8  # the true offsets are kept on every 8th line and sample
IW_RANGE_SAMPLING_RATE = 64.345238e6  # Hz; the samples are simulated 4 times coarser in range


@dataclass(frozen=True)
class Side:
    """What one date of the pair needs: orbit, burst grid, TOPS ramp, calibration LUT."""

    orbit: Orbit
    grid: RadarGrid
    ramp: TopsRamp
    calibration: xr.Dataset
    first_line: int  # the burst's first line in the swath (the LUT's line numbering)
    wavelength: float


# ---------------------------------------------------------------- metadata


def _side(tree: xr.DataTree, swath: str, index: int) -> Side:
    node = tree[swath]
    burst = node[str(index)].to_dataset()
    attrs = burst.attrs
    orbit = orbit_from_dataset(node["orbit"].to_dataset())
    attrs = {**attrs, "range_sampling_rate": IW_RANGE_SAMPLING_RATE}
    dt = float(attrs["azimuth_time_interval"])
    t0 = float(orbit.seconds(np.datetime64(attrs["burst_start_time"], "ns")))
    grid = RadarGrid(first_line_time=t0, azimuth_time_interval=dt,
                     slant_range_time=float(attrs["slant_range_time"]),
                     range_sampling_rate=IW_RANGE_SAMPLING_RATE)
    mid = np.float64(t0 + int(attrs["lines_per_burst"]) * dt / 2)
    velocity = float(np.linalg.norm(orbit.velocity(mid)))
    return Side(orbit=orbit, grid=grid, ramp=TopsRamp.from_attrs(attrs, velocity=velocity),
                calibration=node["calibration"].to_dataset(),
                first_line=int(burst["line"].values[0]), wavelength=float(attrs["wavelength"]))


def _from_samples() -> tuple[Side, Side, str] | None:
    from eolab.io.sentinel1 import match_bursts, open_slc

    root = Path(os.environ.get("EOLAB_DATA_DIR", REPO / "data_samples"))
    zips = sorted(root.glob("S1*_IW_SLC__*.zip"))
    if len(zips) < 2:
        return None
    trees = [open_slc(z, verify=False) for z in zips[:2]]
    swath, k1, k2 = match_bursts(trees[0], trees[1])[0]
    return _side(trees[0], swath, k1), _side(trees[1], swath, k2), f"{root.name} {swath}"


def _from_realdata() -> tuple[Side, Side, str] | None:
    from eolab.io.sentinel1 import open_slc

    root = Path(os.environ.get("EOLAB_REALDATA", REPO.parent / "shared" / "realdata"))
    safes = sorted((root / "s1_safe_xarray_sentinel").glob("S1B_IW_SLC__1SDV_*.SAFE"))
    if not safes:
        return None
    tree = open_slc(safes[0], swaths=["IW1"], verify=False)
    ref = _side(tree, "IW1", 3)
    # the repeat pass: the same orbit 140 m away across track, the burst 0.4 line later
    t = ref.grid.first_line_time
    pos, vel = ref.orbit.position(np.float64(t)), ref.orbit.velocity(np.float64(t))
    across = np.cross(pos, vel)
    coef = ref.orbit.coefficients.copy()
    coef[0] += 140.0 * across / np.linalg.norm(across)
    grid = replace(ref.grid, first_line_time=t - 0.4 * ref.grid.azimuth_time_interval)
    sec = replace(ref, orbit=replace(ref.orbit, coefficients=coef), grid=grid)
    return ref, sec, f"{safes[0].name[:32]} IW1/3 (secondary: displaced orbit)"


def _metadata(source: str) -> tuple[Side, Side, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaders = {"samples": [_from_samples], "realdata": [_from_realdata],
                   "auto": [_from_samples, _from_realdata]}[source]
        for load in loaders:
            found = load()
            if found is not None:
                return found
    raise SystemExit("no metadata source: build the samples (eolab samples build) or provide "
                     "../shared/realdata ($EOLAB_REALDATA)")


def _stretch(cal: xr.Dataset, samples: int) -> xr.Dataset:
    """The calibration LUT with its pixel nodes stretched over ``samples`` range samples."""
    pixel = cal["pixel"].values.astype(np.float64)
    return cal.assign_coords(pixel=np.round(pixel * (samples - 1) / pixel.max()).astype(int))


# ---------------------------------------------------------------- geometry helpers


def burst_geometry(side: Side, shape: tuple[int, int],
                   valid: tuple[int, int, int, int] | None = None) -> BurstGeometry:
    """The :class:`eolab.s1.pair.BurstGeometry` of one side (valid lines/samples as given)."""
    first_l, last_l, first_s, last_s = valid or (0, shape[0] - 1, 0, shape[1] - 1)
    return BurstGeometry(orbit=side.orbit, grid=side.grid, ramp=side.ramp, shape=shape,
                         wavelength=side.wavelength, first_valid_line=first_l,
                         last_valid_line=last_l, first_valid_sample=first_s,
                         last_valid_sample=last_s)


def geometric_offsets(ref: Side, sec: Side, shape: tuple[int, int]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Secondary-minus-reference (line, pixel) of every reference sample, from the orbits
    (:func:`eolab.s1.pair.geometric_offsets` at height 0)."""
    ds = pair_offsets(burst_geometry(ref, shape), burst_geometry(sec, shape))
    return ds["az_offset"].values, ds["rg_offset"].values


def footprint_wkt(side: Side, shape: tuple[int, int]) -> str:
    """Lon/lat polygon of the burst's border at height 0."""
    nl, ns = shape
    lines = np.r_[np.zeros(8), np.linspace(0, nl - 1, 8), np.full(8, nl - 1.0),
                  np.linspace(nl - 1, 0, 8)]
    pixels = np.r_[np.linspace(0, ns - 1, 8), np.full(8, ns - 1.0), np.linspace(ns - 1, 0, 8),
                   np.zeros(8)]
    g = radar_to_ground(side.orbit, side.grid.time(lines), side.grid.tau(pixels), 0.0)
    pts = ", ".join(f"{x:.6f} {y:.6f}" for x, y in zip(g.longitude, g.latitude, strict=True))
    first = f"{g.longitude[0]:.6f} {g.latitude[0]:.6f}"
    return f"POLYGON(({pts}, {first}))"


# ---------------------------------------------------------------- the synthetic pair


def _speckle(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-power circular-Gaussian speckle, band-limited to 0.67 (azimuth) × 0.88 (range)."""
    from scipy import fft

    x = np.empty(shape, np.complex64)
    x.real = rng.standard_normal(shape, np.float32)
    x.imag = rng.standard_normal(shape, np.float32)
    spec = fft.fft2(x, overwrite_x=True, workers=-1)
    del x
    spec *= (np.abs(np.fft.fftfreq(shape[0])) < 0.67 / 2)[:, None]
    spec *= (np.abs(np.fft.fftfreq(shape[1])) < 0.88 / 2)[None, :]
    out = fft.ifft2(spec, overwrite_x=True, workers=-1)
    out /= np.sqrt(np.mean(np.abs(out[::7, ::7]) ** 2))
    return np.asarray(out, np.complex64)


def _ramped(values: np.ndarray, ramp: TopsRamp, scale: float) -> np.ndarray:
    """values·scale·e^{−jφ} in place (what the instrument delivers), by row blocks."""
    pixels = np.arange(values.shape[1], dtype=np.float64)[None, :]
    for r in range(0, values.shape[0], 128):
        lines = np.arange(r, min(r + 128, values.shape[0]), dtype=np.float64)[:, None]
        values[r:r + 128] *= phasor(ramp(lines, pixels), -1.0) * np.float32(scale)
    return values


def _invalidate(values: np.ndarray) -> None:
    values[:20] = 0
    values[-20:] = 0
    values[:, :40] = 0


@dataclass
class Pair:
    ref: np.ndarray
    sec: np.ndarray
    az_true: np.ndarray  # every TRUTH_STEP-th line and sample
    rg_true: np.ndarray


def build_pair(ref: Side, sec: Side, shape: tuple[int, int], gamma: float, seed: int = 0
               ) -> Pair:
    rng = np.random.default_rng(seed)
    az_g, rg_g = geometric_offsets(ref, sec, shape)
    az_true, rg_true = az_g + np.float32(RESIDUAL[0]), rg_g + np.float32(RESIDUAL[1])
    del az_g, rg_g
    base = _speckle(shape, rng)
    mixed = _speckle(shape, rng)
    mixed *= np.float32(np.sqrt(1.0 - gamma**2))
    mixed += np.float32(gamma) * base
    # sec(l + az, p + rg) = mixed(l, p): the secondary is mixed read at (l − az, p − rg)
    secondary = resample_burst(mixed, -az_true, -rg_true)
    del mixed
    a = float(np.nanmean(ref.calibration["sigmaNought"].values))
    scale = np.sqrt(SIGMA0) * a
    reference = _ramped(base, ref.ramp, scale)
    secondary = _ramped(secondary, sec.ramp, scale)
    _invalidate(reference)
    _invalidate(secondary)
    sub = (slice(None, None, TRUTH_STEP), slice(None, None, TRUTH_STEP))
    return Pair(reference, secondary, az_true[sub].copy(), rg_true[sub].copy())


# ---------------------------------------------------------------- measuring


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _peak_mb(reset: bool) -> float:
    if reset:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Steps:
    """Times each step (wall, CPU, peak RSS) and prints one JSON line per step.

    With ``/proc/self/clear_refs`` (Linux) the resident-memory peak is reset before each
    step, so ``peak_mb`` is the step's own; the chain's peak is the largest of them.
    """

    def __init__(self, reset: bool) -> None:
        self.reset = reset
        self.wall: dict[str, float] = {}
        self.peak = 0.0

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.reset:
            _reset_peak()
        before = _rss_mb()
        w0, c0 = time.perf_counter(), _cpu()
        out = fn()
        wall, cpu = time.perf_counter() - w0, _cpu() - c0
        peak = _peak_mb(self.reset)
        self.wall[name] = wall
        self.peak = max(self.peak, peak)
        print(json.dumps({"step": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                          "rss_before_mb": round(before, 1), "peak_mb": round(peak, 1),
                          "load": round(os.getloadavg()[0], 2)}),
              flush=True)
        return out


def _dask_burst(values: np.ndarray, first_line: int) -> xr.DataArray:
    import dask.array as da

    nl, ns = values.shape
    return xr.DataArray(da.from_array(values, chunks=(256, -1)),
                        dims=("azimuth_time", "slant_range_time"),
                        coords={"line": ("azimuth_time", first_line + np.arange(nl)),
                                "pixel": ("slant_range_time", np.arange(ns))})


def _multilook(data: xr.DataArray, looks: tuple[int, int]) -> xr.DataArray:
    return data.coarsen(azimuth_time=looks[0], slant_range_time=looks[1],
                        boundary="trim").mean().compute()


def run_components(pair: Pair, ref: Side, sec: Side, args: argparse.Namespace,
                   steps: Steps) -> dict[str, Any]:
    """The chain step by step with the public API; returns the checks of the result."""
    import dask

    from eolab.io.sentinel1 import calibrate

    shape = pair.ref.shape
    looks = (int(args.looks[0]), int(args.looks[1]))
    az_g, rg_g = steps.run("geometric offsets", lambda: geometric_offsets(ref, sec, shape))

    def refine() -> tuple[np.ndarray, np.ndarray]:
        fit = refine_offsets(pair.ref, pair.sec, phase=ref.ramp, offsets=(az_g, rg_g),
                             sec_phase=sec.ramp, grid=(12, 24), degree=0, min_quality=0.1)
        daz, drg = fit.evaluate(dtype=np.float32)
        daz += az_g
        drg += rg_g
        return daz, drg

    az, rg = steps.run("refine_offsets", refine)
    del az_g, rg_g
    sec_r = steps.run("resample_burst", lambda: resample_burst(pair.sec, az, rg,
                                                               phase=sec.ramp,
                                                               threads=args.threads))
    flat = None
    if args.flat_earth:
        spacing = SPEED_OF_LIGHT / (2.0 * ref.grid.range_sampling_rate)
        flat = np.empty(shape, np.float32)
        for r in range(0, shape[0], 256):
            flat[r:r + 256] = np.remainder(flat_earth_phase(
                rg[r:r + 256], range_pixel_spacing=spacing, wavelength=ref.wavelength),
                2.0 * np.pi)
    coh = steps.run("coherence", lambda: coherence(pair.ref, sec_r, flat_phase=flat,
                                                   threads=args.threads))
    del flat
    sub = (slice(None, None, TRUTH_STEP), slice(None, None, TRUTH_STEP))
    checks = {"offset_error_az": float(np.abs(az[sub] - pair.az_true)[4:-4].max()),
              "offset_error_rg": float(np.abs(rg[sub] - pair.rg_true)[4:-4].max())}
    del az, rg
    inner = coh.values[40:-40, 80:-80]
    checks["mean_coherence"] = float(np.nanmean(inner))
    del sec_r

    def sigma0_multilook() -> list[xr.DataArray]:
        with dask.config.set(scheduler="threads", num_workers=args.threads):
            out = [_multilook(calibrate(_dask_burst(v, s.first_line),
                                        _stretch(s.calibration, shape[1])), looks)
                   for v, s in ((pair.ref, ref), (pair.sec, sec))]
        coh_da = coh.rename({coh.dims[0]: "azimuth_time", coh.dims[1]: "slant_range_time"})
        return [_multilook(coh_da, looks), *out]

    layers = steps.run("sigma0 + multilook", sigma0_multilook)
    del coh

    def grid_and_coordinates() -> list[xr.Dataset]:
        grid = map_grid(footprint_wkt(ref, shape), resolution=args.resolution)
        return [radar_coordinates(grid, s.orbit, s.grid) for s in (ref, sec)]

    coords = steps.run("map_grid + radar_coordinates", grid_and_coordinates)
    maps = steps.run("geocode", lambda: [
        geocode(layer.values, coords[i], looks=looks)
        for layer, i in zip(layers, (0, 0, 1), strict=True)])
    checks["map_shape"] = list(maps[0].shape)
    checks["map_valid_fraction"] = round(float(np.isfinite(maps[0].values).mean()), 3)
    checks["sigma0_db_median"] = [round(float(10 * np.log10(np.nanmedian(m.values))), 2)
                                  for m in maps[1:]]
    return checks


# ---------------------------------------------------------------- the chain itself
# ``--chain`` times eolab.s1.chain.burst_pair_to_map, the per-burst body of the S1-CD chain
# (pair_to_map): coregistration with the refined orbit offsets, coherence with the flat-earth
# phase removed, sigma0 of both dates (eager calibration, multilook to the resolution, Lee
# 5 x 5), and geocoding of the three layers onto the map grid of the burst, in one call.


def run_chain(pair: Pair, ref: Side, sec: Side, args: argparse.Namespace,
              steps: Steps) -> dict[str, Any]:
    from eolab.s1.chain import burst_pair_to_map

    shape = pair.ref.shape
    rows = np.flatnonzero((pair.ref != 0).any(axis=1))
    cols = np.flatnonzero((pair.ref != 0).any(axis=0))
    spacing = SPEED_OF_LIGHT / (2.0 * ref.grid.range_sampling_rate)

    def burst(values: np.ndarray, side: Side) -> xr.DataArray:
        return xr.DataArray(values, dims=("azimuth_time", "slant_range_time"),
                            coords={"line": ("azimuth_time", side.first_line
                                             + np.arange(shape[0])),
                                    "pixel": ("slant_range_time", np.arange(shape[1]))},
                            attrs={"azimuth_pixel_spacing": 13.9,
                                   "range_pixel_spacing": spacing})

    valid = (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))

    def geometry(side: Side) -> BurstGeometry:
        return burst_geometry(side, shape, valid)

    grid = map_grid(footprint_wkt(ref, shape), resolution=args.resolution)
    cal = (_stretch(ref.calibration, shape[1]), _stretch(sec.calibration, shape[1]))
    result = steps.run("burst_pair_to_map", lambda: burst_pair_to_map(
        burst(pair.ref, ref), burst(pair.sec, sec), geometry(ref), geometry(sec), grid,
        calibration=cal, incidence=39.0, resolution=args.resolution, threads=args.threads))
    coh = result.layers["coherence"]
    return {"map_shape": list(coh.shape),
            "map_valid_fraction": round(float(np.isfinite(coh).mean()), 3),
            "looks": list(result.looks),
            "mean_coherence_map": float(np.nanmedian(coh)),
            "residual_az": result.offsets.get("residual_az"),
            "residual_rg": result.offsets.get("residual_rg"),
            "sigma0_db_median": [round(float(10 * np.log10(np.nanmedian(result.layers[k]))), 2)
                                 for k in ("sigma0_1", "sigma0_2")]}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=21000)
    parser.add_argument("--lines", type=int, default=None,
                        help="lines (default: the product's lines per burst)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--looks", type=int, nargs=2, default=(1, 4),
                        metavar=("AZIMUTH", "RANGE"))
    parser.add_argument("--resolution", type=float, default=20.0)
    parser.add_argument("--gamma", type=float, default=0.6)
    parser.add_argument("--flat-earth", action="store_true")
    parser.add_argument("--source", choices=("auto", "samples", "realdata"), default="auto")
    parser.add_argument("--chain", action="store_true",
                        help="time eolab.s1.chain.burst_pair_to_map in one call instead of the "
                        "components")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    ref, sec, source = _metadata(args.source)
    shape = (args.lines or ref.ramp.lines_per_burst, args.samples)
    pair = build_pair(ref, sec, shape, args.gamma)
    print(json.dumps({"build": source, "shape": list(shape), "gamma": args.gamma,
                      "build_s": round(time.perf_counter() - t0, 1),
                      "threads": args.threads}), flush=True)
    reset = _reset_peak()
    steps = Steps(reset)
    w0 = time.perf_counter()
    runner = run_chain if args.chain else run_components
    checks = runner(pair, ref, sec, args, steps)
    total = time.perf_counter() - w0
    peak = max(steps.peak, _peak_mb(reset))
    size = shape[0] * shape[1]
    rate = size / steps.wall["coherence"] if "coherence" in steps.wall else float("nan")
    if args.chain:  # the coherence rate is measured by the component run
        ok_rate = True
    else:
        ok_rate = rate >= TARGET_COHERENCE
    expect = float(expected_coherence(args.gamma, 30.0))
    ok = {"wall": total <= TARGET_WALL_S, "peak": peak <= TARGET_PEAK_MB,
          "coherence_rate": ok_rate}
    print(json.dumps({"total_wall_s": round(total, 2), "peak_rss_mb": round(peak, 1),
                      "peak_scope": "chain" if reset else "process",
                      "coherence_msamples_per_s": round(rate / 1e6, 1),
                      "expected_coherence_30_looks": round(expect, 3),
                      **{k: (round(v, 4) if isinstance(v, float) else v)
                         for k, v in checks.items()},
                      "targets": {"wall_s": TARGET_WALL_S, "peak_mb": TARGET_PEAK_MB,
                                  "coherence_msamples_per_s": TARGET_COHERENCE / 1e6},
                      "met": ok}), flush=True)
    return 1 if args.check and not all(ok.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
