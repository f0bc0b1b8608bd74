"""GDAL's sieve against eolab's strip sieve on a levels tile: same pixels, wall clock and CPU.

Levels are made as ``gdal_calc.py --calc "minimum(floor(A),254)" --type Byte`` makes them
from a CVA magnitude GeoTIFF (band 1; NaN becomes 0), e.g. the 5490 x 5490 tile that
``bench_flood_chain.py --keep DIR`` builds. Then, ``--reps`` times each, best kept:

* ``gdal``: :func:`rasterio.features.sieve` (GDALSieveFilter), ``-st 10 -4``;
* ``strips w=N``: :func:`eolab._sieve_run.sieve_strips` in N forked processes.

Every result is checked to be identical to GDAL's. CPU counts this process and its children;
the load average is printed because other work on the machine skews wall-clock times.

``python benchmarks/bench_sieve.py MAGNITUDE.tif [--reps 3] [--workers 1 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import rasterio
import rasterio.features

from eolab._sieve_run import sieve_strips


def cpu_seconds() -> float:
    own, kids = (resource.getrusage(who) for who in
                 (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("magnitude")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", type=int, default=10)
    args = parser.parse_args()
    with rasterio.open(args.magnitude) as src:
        magnitude = src.read(1)
    levels = np.minimum(np.floor(np.nan_to_num(magnitude, nan=0.0)), 254).clip(0)
    levels = levels.astype(np.uint8)
    runs = {"gdal": lambda: rasterio.features.sieve(levels, args.size, connectivity=4)}
    for n in args.workers:
        runs[f"strips w={n}"] = lambda n=n: sieve_strips(levels, size=args.size,
                                                         strip_rows=512, workers=n)
    reference = runs["gdal"]()
    best: dict[str, list[float]] = {}
    for _ in range(args.reps):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), cpu_seconds()
            out = run()
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            if not np.array_equal(out, reference):
                raise SystemExit(f"{name}: {(out != reference).sum()} pixels differ from GDAL")
            old = best.setdefault(name, [wall, cpu])
            best[name] = [min(old[0], wall), min(old[1], cpu)]
    print(json.dumps({"shape": list(levels.shape), "size": args.size, "identical": True,
                      "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                      "wall_s": {k: round(v[0], 2) for k, v in best.items()},
                      "cpu_s": {k: round(v[1], 2) for k, v in best.items()}}))


if __name__ == "__main__":
    main()
