"""The tutorial's GDAL flood chain against ``eolab.flood.flood_mask`` on a full 20 m tile.

Builds a 5490 × 5490 px CVA magnitude raster (a Sentinel-2 tile at 20 m) by mirror-tiling
the sample scene's magnitude (not timed), then times, as whole processes on that same file:

* the tutorial's chain, four processes: ``gdal_calc.py`` (levels), ``gdal_sieve.py -st 10 -4``,
  ``gdal_calc.py --calc "(A>=4)*A"`` and ``gdal_polygonize.py`` to an ESRI Shapefile;
* one eolab process: ``rioxarray.open_rasterio`` → ``flood_mask(sieve_size=10, min_level=4)``
  → ``write_vectors(..., formats=("shp",))``.

Both outputs are then compared (polygon count, area per ``floodLevel`` to 1 m²; the level 0
polygons ``gdal_polygonize.py`` also writes are left out) and one JSON line is printed.
Skips when the GDAL tools are absent (``.ci/install-gdal-tools.sh`` installs them).
"""

from __future__ import annotations

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
TOOLS = ("gdal_calc.py", "gdal_sieve.py", "gdal_polygonize.py")
TIME = "/usr/bin/time"

EOLAB_CHAIN = """
import sys
import rioxarray
from eolab.flood import flood_mask
from eolab.io.vectors import write_vectors
mag = rioxarray.open_rasterio(sys.argv[1]).squeeze("band", drop=True)
gdf = flood_mask(mag, sieve_size=10, min_level=4)
write_vectors(gdf, sys.argv[2], "flood_mask", formats=("shp",))
"""


def build_tile(path: Path) -> None:
    """Write the mirror-tiled CVA magnitude of the sample scene as a float32 GeoTIFF."""
    import numpy as np
    import xarray as xr
    from affine import Affine

    from eolab.change import cva
    from eolab.io.rasters import write_geotiff
    from eolab.io.sentinel2 import open_l2a
    from eolab.samples import ensure_samples
    from eolab.tutorial import flood_products

    before, after = flood_products(ensure_samples())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = [open_l2a(p, bands=["B3", "B4", "B8", "SCL"], resolution=20)
              for p in (before, after)]
        mag = cva(ds[0], ds[1]).magnitude
        crs, transform = mag.rio.crs, mag.rio.transform()
        values = np.nan_to_num(mag.values.astype(np.float32), nan=0.0)
    ny, nx = values.shape
    # Mirror-tile: the scene, its mirror image, the scene, ... so edges join without seams.
    reps = (-(-TILE // ny) + 1, -(-TILE // nx) + 1)
    tile = np.pad(values, ((0, reps[0] * ny - ny), (0, reps[1] * nx - nx)),
                  mode="symmetric")[:TILE, :TILE]
    x0, y0 = transform.c, transform.f
    xs = x0 + 20.0 * (np.arange(TILE) + 0.5)
    ys = y0 - 20.0 * (np.arange(TILE) + 0.5)
    da = xr.DataArray(np.ascontiguousarray(tile), dims=("y", "x"), coords={"y": ys, "x": xs},
                      name="magnitude", attrs={"units": "%", "long_name": "CVA magnitude"})
    da = da.rio.write_crs(crs).rio.write_transform(Affine(20.0, 0, x0, 0, -20.0, y0))
    write_geotiff(da, path, overviews=False)


def run(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` as a process; return its wall time (s) and peak RSS (MB)."""
    timed = os.access(TIME, os.X_OK)
    full = [TIME, "-v", *cmd] if timed else cmd
    start = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    if timed:
        line = next(x for x in proc.stderr.splitlines() if "Maximum resident set size" in x)
        peak_mb = int(line.rsplit(":", 1)[1]) / 1024
    else:       # the largest of all children so far: a bound, not this process alone
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak_mb


def gdal_chain(src: Path, out: Path) -> tuple[float, float]:
    out.mkdir()
    steps = [
        ["gdal_calc.py", "--quiet", "-A", str(src), "--outfile", str(out / "levels.tif"),
         "--type", "Byte", "--calc", "numpy.minimum(numpy.floor(A),254)"],
        ["gdal_sieve.py", "-q", "-st", "10", "-4", str(out / "levels.tif"),
         str(out / "sieved.tif")],
        ["gdal_calc.py", "--quiet", "-A", str(out / "sieved.tif"), "--outfile",
         str(out / "thr.tif"), "--type", "Byte", "--calc", "(A>=4)*A"],
        ["gdal_polygonize.py", "-q", str(out / "thr.tif"), "-f", "ESRI Shapefile",
         str(out / "flood_mask.shp"), "flood_mask", "floodLevel"],
    ]
    walls, peaks = zip(*(run(cmd) for cmd in steps))
    return sum(walls), max(peaks)


def eolab_chain(src: Path, out: Path) -> tuple[float, float]:
    return run([sys.executable, "-c", EOLAB_CHAIN, str(src), str(out)])


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
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"SKIP bench_flood_chain: GDAL tools not found: {', '.join(missing)} "
              "(run .ci/install-gdal-tools.sh)")
        return
    with tempfile.TemporaryDirectory(prefix="eolab-bench-flood-") as tmp:
        tmp = Path(tmp)
        src = tmp / "cva_magnitude.tif"
        build_tile(src)
        gdal_s, gdal_mb = gdal_chain(src, tmp / "gdal")
        eolab_s, eolab_mb = eolab_chain(src, tmp / "eolab")
        check = compare(tmp / "gdal" / "flood_mask.shp", tmp / "eolab" / "flood_mask.shp")
    print(json.dumps({
        "benchmark": "flood_chain_5490x5490_20m",
        "gdal_s": round(gdal_s, 2), "eolab_s": round(eolab_s, 2),
        "ratio_eolab_over_gdal": round(eolab_s / gdal_s, 3),
        "gdal_peak_rss_mb": round(gdal_mb, 1), "eolab_peak_rss_mb": round(eolab_mb, 1),
        **check,
    }))


if __name__ == "__main__":
    main()
