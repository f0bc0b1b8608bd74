"""Speed of the S1 signal-processing core on a full-size IW burst pair (1500 × 21000 complex64).

* ``coherence`` (3 × 10 window) with 1 and 2 threads: samples per second (target ≥ 20 M/s
  on 2 cores), best of ``--reps``;
* with ``--coreg``: ``resample_burst`` (8-tap sinc, deramp/reramp with an IW1-like ramp,
  smooth offset fields) and ``refine_offsets`` (6 × 12 patches of 64²), on a resampled
  secondary or resampling the patches only (``offsets=``).

Prints one JSON line per measurement with wall and CPU seconds, and the load average (other
work on the machine skews wall-clock times), then the peak RSS of the process.

``python benchmarks/bench_s1_coherence.py [--lines 1500] [--samples 21000] [--reps 3] [--coreg]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from eolab.s1.coherence import coherence
from eolab.s1.coregister import refine_offsets, resample_burst
from eolab.s1.tops import TopsRamp


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _best(fn: Callable[[], Any], reps: int) -> tuple[float, float]:
    best = (np.inf, np.inf)
    for _ in range(reps):
        w0, c0 = time.perf_counter(), _cpu()
        fn()
        best = min(best, (time.perf_counter() - w0, _cpu() - c0))
    return best


def _report(name: str, size: int, wall: float, cpu: float) -> None:
    print(json.dumps({"benchmark": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "msamples_per_s": round(size / wall / 1e6, 1),
                      "load": round(os.getloadavg()[0], 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1500)
    parser.add_argument("--samples", type=int, default=21000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--coreg", action="store_true")
    args = parser.parse_args()
    shape = (args.lines, args.samples)
    rng = np.random.default_rng(0)
    s1 = np.empty(shape, np.complex64)
    s2 = np.empty(shape, np.complex64)
    for arr in (s1, s2):
        arr.real = rng.standard_normal(shape, np.float32)
        arr.imag = rng.standard_normal(shape, np.float32)
    s2 = (0.6 * s1 + 0.8 * s2).astype(np.complex64)
    for threads in (1, 2):
        wall, cpu = _best(lambda t=threads: coherence(s1, s2, threads=t), args.reps)
        _report(f"coherence 3x10 threads={threads}", s1.size, wall, cpu)
    if args.coreg:
        ramp = TopsRamp(steering_rate=1.590368784, radar_frequency=5.405e9, velocity=7591.0,
                        fm_rate=(-2321.0, 1.2e5, 0.0), fm_rate_t0=5.34e-3, dc=(-7.0, 3e3),
                        dc_t0=5.34e-3, slant_range_time=5.34e-3, range_sampling_rate=64.345238e6,
                        azimuth_time_interval=2.0555563e-3, lines_per_burst=args.lines)
        u = np.linspace(0, 1, args.lines)[:, None]
        v = np.linspace(0, 1, args.samples, dtype=np.float32)[None, :]
        az = (0.1 + 0.3 * u + 0.2 * v * v).astype(np.float32)
        rg = (0.6 - 0.3 * u * v - 0.2 * v).astype(np.float32)
        for threads in (1, 2):
            wall, cpu = _best(lambda t=threads: resample_burst(s2, az, rg, phase=ramp, threads=t),
                              1)
            _report(f"resample_burst tops threads={threads}", s1.size, wall, cpu)
        out = resample_burst(s2, az, rg, phase=ramp)
        wall, cpu = _best(lambda: refine_offsets(s1, out, phase=ramp), 1)
        _report("refine_offsets 6x12 patches (resampled secondary)", s1.size, wall, cpu)
        wall, cpu = _best(lambda: refine_offsets(s1, s2, phase=ramp, offsets=(az, rg),
                                                 sec_phase=ramp), 1)
        _report("refine_offsets 6x12 patches (patches resampled)", s1.size, wall, cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"benchmark": "peak", "peak_rss_mb": round(peak, 1)}))


if __name__ == "__main__":
    main()
