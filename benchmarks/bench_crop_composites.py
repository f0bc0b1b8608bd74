"""Monthly composites of a large cloudy cube: wall time and peak memory (fresh process).

Default: a 1000 x 1000 px cube of 50 dates x 9 bands (float32, 1.8 GB if it were loaded),
generated lazily by dask in (y, x) chunks with about 40 % of the observations cloudy,
composited to 12 months and reduced (so that nothing is kept in memory); the peak RSS
shows that the computation streams chunk by chunk. ``--netcdf`` writes the cube to a
temporary NetCDF first (int16, as the sample cube) and composites it from the file through
``open_cube``. ``--realdata`` also prints the share of filled (pixel, month) cells of
eo-learn's TestEOPatch (needs ../shared/realdata).

    python benchmarks/bench_crop_composites.py [--size 1000] [--dates 50] [--chunk 250]
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure


def _cube(size: int, dates: int, chunk: int) -> Any:
    import dask.array as da
    import numpy as np
    import pandas as pd
    import xarray as xr

    times = pd.date_range("2017-09-03", "2018-08-28", periods=dates)
    rs = da.random.RandomState(0)
    shape = (dates, 9, size, size)
    chunks = (dates, 9, chunk, chunk)
    refl = rs.uniform(0.0, 0.5, size=shape, chunks=chunks).astype(np.float32)
    clear = rs.uniform(0.0, 1.0, size=(dates, size, size), chunks=(dates, chunk, chunk)) > 0.4
    coords = {"time": times, "y": 5342000.0 - 5 - 10 * np.arange(size),
              "x": 438005.0 + 10 * np.arange(size)}
    refl_da = xr.DataArray(refl, dims=("time", "band", "y", "x"),
                           coords={**coords, "band": [f"B{i}" for i in range(1, 10)]},
                           name="reflectance").rio.write_crs("EPSG:32633")
    return refl_da, xr.DataArray(clear, dims=("time", "y", "x"), coords=coords)


def _run(size: int, dates: int, chunk: int) -> dict[str, Any]:
    import dask

    from eolab.crop.composites import monthly

    refl, clear = _cube(size, dates, chunk)
    out = monthly(refl, clear=clear)
    with dask.config.set(scheduler="threads", num_workers=2):
        total, filled = dask.compute(out["reflectance"].sum(), out["filled"].mean())
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    return {"pixels": size * size, "dates": dates, "chunk": chunk,
            "checksum": round(float(total), 1), "filled_share": round(float(filled), 5),
            "cpu_s": round(cpu.ru_utime + cpu.ru_stime, 1)}


def _run_netcdf(size: int, dates: int, chunk: int) -> dict[str, Any]:
    import dask
    import numpy as np

    from eolab.crop.composites import monthly
    from eolab.crop.timeseries import open_cube, write_cube

    refl, clear = _cube(size, dates, chunk)
    scl = (~clear).astype(np.int8) * 9 + clear.astype(np.int8) * 4
    ds = refl.to_dataset().assign(scl=scl.rename("scl"))
    ds["reflectance"].encoding = {"dtype": "int16", "scale_factor": np.float32(1e-4),
                                  "_FillValue": -32768}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cube.nc"
        with dask.config.set(scheduler="threads", num_workers=2):
            write_cube(ds, path)
            cube = open_cube(path, chunks={"time": -1, "band": -1, "y": chunk, "x": chunk})
            out = monthly(cube)
            filled = float(out["filled"].mean().compute())
    return {"pixels": size * size, "dates": dates, "from": "netcdf",
            "filled_share": round(filled, 5)}


def _realdata() -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import realdata_root  # type: ignore[import-not-found]
    from test_crop_realdata import load_testeopatch  # type: ignore[import-not-found]

    from eolab.crop.composites import monthly

    root = realdata_root()
    if root is None:
        return {"skipped": "no ../shared/realdata"}
    ndvi, clm, is_data = load_testeopatch(root)
    out = monthly(ndvi, clear=~clm & is_data)
    filled = out["filled"].values
    return {"cells": int(filled.size), "filled": int(filled.sum()),
            "filled_share": round(float(filled.mean()), 4),
            "clear_share": round(float((~clm & is_data).values.mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--dates", type=int, default=50)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--netcdf", action="store_true")
    parser.add_argument("--realdata", action="store_true")
    args = parser.parse_args()
    measure("crop_monthly_composites", functools.partial(_run, args.size, args.dates, args.chunk))
    if args.netcdf:
        measure("crop_monthly_composites_netcdf",
                functools.partial(_run_netcdf, args.size, args.dates, args.chunk))
    if args.realdata:
        measure("crop_composites_testeopatch", _realdata)


if __name__ == "__main__":
    main()
