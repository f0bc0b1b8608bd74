"""Crop-map inference benchmark (issue 6): a 1,000 x 1,000 px composite cube classified.

Prints one JSON line per measurement, each in a fresh process (``_measure.py``):

* ``classify_baseline``: the same process up to the synthetic cube (imports, model,
  cube in memory) without classifying: the floor under the next figure's peak RSS;
* ``classify_cube``: :func:`eolab.crop.predict.classify_cube` over a synthetic
  ``(12 months, 9 bands, size, size)`` float32 composite cube (5 % of the pixels
  never clear, so no-data) with the shipped model (the default architecture of
  ``fit``) or ``--model DIR``; wall time, peak RSS (goal <= 1.5 GB) and pixel
  sequences per second (goal >= 20,000/s on 2 CPU cores, ``--threads 2``).

    python benchmarks/bench_crop_classify.py [--size 1000] [--threads 2] [--model DIR]
                                             [--chunk 65536] [--probability all|max]

Timings depend on the machine's load: run it on a quiet machine for figures to report.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure

N_MONTHS = 12
BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12")


def _cube(size: int, seed: int = 0):
    """Synthetic composites: a seasonal NIR peak, noise, 5 % of pixels without clear months."""
    import numpy as np
    import rioxarray  # noqa: F401
    import xarray as xr

    rng = np.random.default_rng(seed)
    v = np.empty((N_MONTHS, len(BANDS), size, size), dtype=np.float32)
    peak = rng.uniform(2, 10, (size, size)).astype(np.float32)
    for m in range(N_MONTHS):
        green = np.exp(-0.5 * ((m - peak) / 1.5) ** 2)
        for b in range(len(BANDS)):
            v[m, b] = 0.05 + (0.4 if BANDS[b] in ("B07", "B8A") else 0.05) * green
        v[m] += rng.normal(0, 0.01, (size, size)).astype(np.float32)
    filled = np.zeros((N_MONTHS, size, size), dtype=bool)
    filled[:, rng.random((size, size)) < 0.05] = True
    ds = xr.Dataset({"reflectance": (("month", "band", "y", "x"), v),
                     "filled": (("month", "y", "x"), filled)},
                    coords={"band": list(BANDS), "y": 5_340_000.0 - 10 * np.arange(size),
                            "x": 438_000.0 + 10 * np.arange(size)})
    return ds.rio.write_crs("EPSG:32633", inplace=True)  # no copy of the cube


def _setup(size: int, threads: int, model: str | None):
    import torch

    from eolab.crop.cli import SHIPPED_MODEL
    from eolab.crop.model import load

    torch.set_num_threads(threads)
    clf = load(model or SHIPPED_MODEL)
    return clf, _cube(size)


def bench_baseline(size: int, threads: int, model: str | None) -> dict:
    _setup(size, threads, model)
    return {"size": size}


def bench_classify(size: int, threads: int, model: str | None, chunk: int,
                   probability: str) -> dict:
    import numpy as np

    from eolab.crop.predict import NODATA, classify_cube

    clf, cube = _setup(size, threads, model)
    start = time.perf_counter()
    out = classify_cube(cube, clf, chunk=chunk, probability=probability, progress=False)
    dt = time.perf_counter() - start
    valid = int(out["valid"].sum())
    nodata = int((out["crop_class"].values == NODATA).sum())
    assert nodata == size * size - valid
    return {"size": size, "threads": threads, "chunk": chunk, "probability": probability,
            "architecture": clf.architecture, "classify_s": round(dt, 2),
            "pixels_classified": valid, "no_data_pixels": nodata,
            "sequences_per_s": round(valid / dt), "goal_per_s": 20_000,
            "goal_peak_rss_mb": 1536, "classes_seen": int(np.unique(out["crop_class"]).size)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    ap.add_argument("--chunk", type=int, default=65_536)
    ap.add_argument("--probability", choices=("all", "max"), default="all")
    a = ap.parse_args()
    measure("classify_baseline", functools.partial(bench_baseline, a.size, a.threads, a.model))
    measure("classify_cube", functools.partial(bench_classify, a.size, a.threads, a.model,
                                               a.chunk, a.probability))


if __name__ == "__main__":
    main()
