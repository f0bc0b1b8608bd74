"""The tutorial's flood chain with GDAL's tools against eolab, on a full 20 m tile.

Builds (not timed) the two dates of a Sentinel-2 tile at 20 m: 5490 × 5490 px, bands
B3, B4, B8 as float32 reflectance GeoTIFFs (tiled, band-interleaved), by mirror-tiling the
sample scene (parcels, noise, a river and a flood). Pixels that are cloud, shadow or no data
(SCL) on either date are NaN in both files, so both chains mask the same pixels. Then times, as
whole processes on the same two files:

* the tutorial's tools, five processes: a numpy CVA script (GDAL's Python bindings, as the
  tutorial's S2-CD service: reads both dates, writes the two-band CVA GeoTIFF, magnitude and
  angle), ``gdal_calc.py`` (levels), ``gdal_sieve.py -st 10 -4``,
  ``gdal_calc.py --calc "(A>=4)*A"`` and ``gdal_polygonize.py`` to an ESRI Shapefile;
* one eolab process (:data:`EOLAB_CHAIN`, the public API as a user would write it):
  read both dates (dask, chunks of one band x 1536 rows), ``cva``, ``classify`` (S2-CD classes at the
  tutorial's 4 %, written as a byte GeoTIFF) in one dask pass, the CVA GeoTIFF,
  ``flood_mask(sieve_size=10, min_level=4)``, ``write_vectors`` (Shapefile).

Both write their rasters with the same GeoTIFF options (uncompressed and without overviews,
as GDAL's tools write by default; tiled 256) and run with the same ``GDAL_CACHEMAX``
(:data:`ENV`: GDAL's default, 5 % of the RAM, is a cache that alone would hold 1.2 GB here).
The polygons are then compared (count, area per ``floodLevel`` to 1 m²; the level 0 polygons
``gdal_polygonize.py`` also writes are left out) and one JSON line is printed, with the ratio
eolab / GDAL. Skips when the GDAL tools are absent (``.ci/install-gdal-tools.sh``).

``python benchmarks/bench_flood_chain.py [--keep DIR]`` (``--keep``: build the inputs in
``DIR``, reuse them when there, and keep the outputs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

TILE = 5490                    # pixels of a Sentinel-2 tile at 20 m
BANDS = ("B3", "B4", "B8")
TOOLS = ("gdal_calc.py", "gdal_sieve.py", "gdal_polygonize.py")
TIME = "/usr/bin/time"
GDAL_PYTHON = "/usr/bin/python3"   # the interpreter of Debian's GDAL tools (python3-gdal)

# The tutorial's S2-CD step as a numpy script on GDAL's bindings; the arithmetic is that of
# eolab.change.cva in float32 (reflectance percent), so both magnitudes are bit for bit equal.
NUMPY_CVA = """
import sys
import numpy as np
from osgeo import gdal

gdal.UseExceptions()
before, after = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
d = [(after.GetRasterBand(i).ReadAsArray() - before.GetRasterBand(i).ReadAsArray())
     * np.float32(100) for i in (1, 2, 3)]
magnitude = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
with np.errstate(invalid="ignore", divide="ignore"):
    cosine = np.clip((d[0] + d[1] + d[2]) / (np.float32(np.sqrt(3)) * magnitude), -1, 1)
del d
angle = np.degrees(np.arccos(cosine)).astype(np.float32)
angle[~(magnitude > 0)] = np.nan
out = gdal.GetDriverByName("GTiff").Create(
    sys.argv[3], before.RasterXSize, before.RasterYSize, 2, gdal.GDT_Float32,
    options=["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "BIGTIFF=IF_SAFER"])
out.SetGeoTransform(before.GetGeoTransform())
out.SetProjection(before.GetProjection())
for i, (values, name) in enumerate(((magnitude, "CVA magnitude"), (angle, "CVA direction")), 1):
    band = out.GetRasterBand(i)
    band.SetNoDataValue(float("nan"))
    band.SetDescription(name)
    band.WriteArray(values)
out = None
"""

EOLAB_CHAIN = """
import sys
from pathlib import Path

import dask
import numpy as np
import rioxarray

from eolab.change import classify, cva
from eolab.flood import flood_mask, write_vectors
from eolab.io.rasters import write_geotiff


def read(path):
    # one band per chunk: the files are band-interleaved, and a chunk holding all three
    # bands would be copied band by band when the Dataset selects them
    bands = rioxarray.open_rasterio(path, chunks={"band": 1, "y": 1536, "x": -1}, lock=False)
    return bands.assign_coords(band=["B3", "B4", "B8"]).to_dataset(dim="band")


before, after, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
change = cva(read(before), read(after))                   # lazy
classes = classify(change, threshold=4)                   # the tutorial's 4 %
change, classes = dask.compute(change[["magnitude", "direction"]], classes)
write_geotiff(change, out / "cva.tif", compress="NONE", overviews=False)
write_geotiff(classes, out / "classes.tif", dtype=np.uint8, nodata=255, compress="NONE",
              overviews=False)
flood = flood_mask(change["magnitude"], sieve_size=10, min_level=4)
write_vectors(flood, out, "flood_mask", formats=("shp",))
"""
# GDAL's block cache (by default 5 % of the RAM) keeps every block a process reads or writes,
# up to that size: the same cap for every process of both chains.
ENV = {"GDAL_CACHEMAX": "256"}


def build_dates(outdir: Path) -> tuple[Path, Path]:
    """Write the mirror-tiled sample scene, before and after, as 3-band float32 GeoTIFFs."""
    import numpy as np
    import rasterio
    import xarray as xr
    from affine import Affine

    from eolab.io.sentinel2 import CLOUD_SHADOW_CLASSES, open_l2a
    from eolab.samples import ensure_samples
    from eolab.tutorial import flood_products

    paths = (outdir / "before.tif", outdir / "after.tif")
    if all(p.exists() for p in paths):
        return paths
    products = flood_products(ensure_samples())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = [open_l2a(p, bands=[*BANDS, "SCL"], resolution=20).compute() for p in products]
    names = [str(v) for v in dates[0].data_vars if v != "SCL"]      # B03, B04, B08
    bad = np.zeros(dates[0]["SCL"].shape, dtype=bool)
    for ds in dates:
        scl = ds["SCL"].values
        bad |= np.isnan(scl) | np.isin(scl, [0, 1, *CLOUD_SHADOW_CLASSES])
        for name in names:
            bad |= ~np.isfinite(ds[name].values)
    ny, nx = bad.shape
    transform = dates[0].rio.transform()
    x0, y0 = transform.c, transform.f
    xs = x0 + 20.0 * (np.arange(TILE) + 0.5)
    ys = y0 - 20.0 * (np.arange(TILE) + 0.5)
    # Mirror-tile: the scene, its mirror image, the scene, ... so edges join without seams.
    pad = ((0, -(-TILE // ny) * ny), (0, -(-TILE // nx) * nx))
    for ds, path in zip(dates, paths, strict=True):
        stack = []
        for name in names:
            values = np.where(bad, np.nan, ds[name].values).astype(np.float32)
            stack.append(np.pad(values, pad, mode="symmetric")[:TILE, :TILE])
        da = xr.DataArray(np.stack(stack), dims=("band", "y", "x"),
                          coords={"band": list(BANDS), "y": ys, "x": xs}, name="reflectance")
        da = da.rio.write_crs(dates[0].rio.crs).rio.write_transform(
            Affine(20.0, 0, x0, 0, -20.0, y0))
        # One file a date, band-interleaved (each band contiguous, as S2's one file a band).
        profile = {"driver": "GTiff", "width": TILE, "height": TILE, "count": len(BANDS),
                   "dtype": "float32", "crs": da.rio.crs, "transform": da.rio.transform(),
                   "nodata": float("nan"), "tiled": True, "blockxsize": 256,
                   "blockysize": 256, "interleave": "band"}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(da.values)
            dst.descriptions = BANDS
    return paths


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd`` as a process; return its wall time (s), peak RSS (MB) and CPU time (s)."""
    timed = os.access(TIME, os.X_OK)
    full = [TIME, "-v", *cmd] if timed else cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True, env={**os.environ, **ENV},
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    if timed:
        line = next(x for x in proc.stderr.splitlines() if "Maximum resident set size" in x)
        peak_mb = int(line.rsplit(":", 1)[1]) / 1024
    else:       # the largest of all children so far: a bound, not this process alone
        peak_mb = after.ru_maxrss / 1024
    return wall, peak_mb, cpu


def gdal_chain(before: Path, after: Path, out: Path) -> dict[str, tuple[float, float, float]]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    steps = {
        "cva": [GDAL_PYTHON, "-c", NUMPY_CVA, str(before), str(after), str(out / "cva.tif")],
        "levels": ["gdal_calc.py", "--quiet", "-A", str(out / "cva.tif"), "--A_band", "1",
                   "--outfile", str(out / "levels.tif"), "--type", "Byte",
                   "--calc", "numpy.minimum(numpy.floor(A),254)"],
        "sieve": ["gdal_sieve.py", "-q", "-st", "10", "-4", str(out / "levels.tif"),
                  str(out / "sieved.tif")],
        "threshold": ["gdal_calc.py", "--quiet", "-A", str(out / "sieved.tif"), "--outfile",
                      str(out / "thr.tif"), "--type", "Byte", "--calc", "(A>=4)*A"],
        "polygonize": ["gdal_polygonize.py", "-q", str(out / "thr.tif"), "-f", "ESRI Shapefile",
                       str(out / "flood_mask.shp"), "flood_mask", "floodLevel"],
    }
    return {name: run(cmd) for name, cmd in steps.items()}


def eolab_chain(before: Path, after: Path, out: Path) -> tuple[float, float, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    return run([sys.executable, "-c", EOLAB_CHAIN, str(before), str(after), str(out)])


def compare(gdal_shp: Path, eolab_shp: Path) -> dict[str, object]:
    import geopandas as gpd
    import numpy as np

    ref = gpd.read_file(gdal_shp)
    ours = gpd.read_file(eolab_shp)
    n_gdal_all = len(ref)
    ref = ref[ref["floodLevel"] != 0]          # gdal_polygonize also writes level 0 regions
    a_ref = ref.area.groupby(ref["floodLevel"]).sum().sort_index()
    a_ours = ours.area.groupby(ours["floodLevel"]).sum().sort_index()
    same_levels = list(a_ref.index) == list(a_ours.index)
    max_diff = (float(np.abs(a_ref.values - a_ours.values).max())
                if same_levels and len(a_ref) else None)
    agree = (len(ref) == len(ours) and same_levels
             and (max_diff is None or max_diff <= 1.0))
    return {"polygons_gdal": len(ref), "polygons_gdal_with_level0": n_gdal_all,
            "polygons_eolab": len(ours), "max_area_diff_m2_per_level": max_diff,
            "outputs_agree": agree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build inputs here and keep the outputs")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run both chains this many times, alternately; the fastest of "
                             "each side counts (on a busy machine)")
    args = parser.parse_args()
    missing = [t for t in (*TOOLS, GDAL_PYTHON) if shutil.which(t) is None]
    if missing:
        print(f"SKIP bench_flood_chain: GDAL tools not found: {', '.join(missing)} "
              "(run .ci/install-gdal-tools.sh)")
        return
    with tempfile.TemporaryDirectory(prefix="eolab-bench-flood-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        before, after = build_dates(work)
        gdal_runs, eolab_runs = [], []
        for _ in range(max(1, args.repeat)):
            gdal_runs.append(gdal_chain(before, after, work / "gdal"))
            eolab_runs.append(eolab_chain(before, after, work / "eolab"))
        check = compare(work / "gdal" / "flood_mask.shp", work / "eolab" / "flood_mask.shp")
    gdal_steps = min(gdal_runs, key=lambda r: sum(w for w, _, _ in r.values()))
    eolab_s, _, eolab_cpu = min(eolab_runs)
    gdal_s = sum(wall for wall, _, _ in gdal_steps.values())
    print(json.dumps({
        "benchmark": "flood_chain_5490x5490_20m",
        "gdal_s": round(gdal_s, 2), "eolab_s": round(eolab_s, 2),
        "ratio_eolab_over_gdal": round(eolab_s / gdal_s, 3),
        "gdal_steps_s": {k: round(wall, 2) for k, (wall, _, _) in gdal_steps.items()},
        "gdal_cpu_s": round(sum(cpu for _, _, cpu in gdal_steps.values()), 2),
        "eolab_cpu_s": round(eolab_cpu, 2),
        "gdal_peak_rss_mb": round(max(mb for r in gdal_runs for _, mb, _ in r.values()), 1),
        "eolab_peak_rss_mb": round(max(r[1] for r in eolab_runs), 1),
        "runs": max(1, args.repeat), **check,
    }))


if __name__ == "__main__":
    main()
