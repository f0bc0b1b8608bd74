"""The tutorial's services from the command line, on a small window of the simulated scene."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from eolab.cli import main
from eolab.samples import PRODUCTS, build_samples

SMALL = (290040.0, 6270040.0, 293040.0, 6273040.0)  # 3 km of the default scene's floodplain


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    dest = tmp_path_factory.mktemp("small")
    build_samples(dest, window=SMALL, progress=False)
    names = {date: dest / f"{n}.zip" for n, (date, baseline) in PRODUCTS.items()
             if baseline == "02.14"}
    return dest, names["20210315"], names["20210325"]


def test_s2cd_then_flood_mask(products, tmp_path, capsys):
    dest, before, after = products
    out = tmp_path / "out"
    assert main(["S2-CD", "-i1", str(before), "-i2", str(after), "-b", "B3,B4,B8", "-r", "20",
                 "-outdir", str(out), "-q"]) == 0
    cva = out / "S2_CVA_20210315_20210325_B3B4B8_20.tif"
    cd = out / "S2_CD_20210315_20210325_B3B4B8_20.tif"
    with rasterio.open(cva) as src:
        assert src.count == 2 and src.dtypes == ("float32", "float32")
        assert src.descriptions == ("CVA magnitude", "CVA direction")
    with rasterio.open(cd) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert "flooding" in src.tags()["classes"] and src.tags()["threshold_method"] == "ki"
        classes = src.read(1)
    with rasterio.open(dest / "flood_truth.tif") as src:
        truth = src.read(1) == 1
    clear = classes < 254
    flood = classes == 1
    iou = (flood & truth & clear).sum() / ((flood | truth) & clear).sum()
    assert iou > 0.85  # against the generator's truth
    # the tutorial's chain and the flood-specific chain
    assert main(["flood-mask", "-i", str(cva), "--sieve", "10", "--min-level", "4",
                 "--outdir", str(out), "-q"]) == 0
    shp = gpd.read_file(out / "flood_mask.shp")
    gpkg = gpd.read_file(out / "flood_mask.gpkg")
    assert len(shp) == len(gpkg) > 0 and (shp["floodLevel"] >= 4).all()
    assert main(["flood-mask", "-i", str(cva), "--classes", str(cd), "--flood-only",
                 "-outdir", str(out), "-q"]) == 0
    extent = gpd.read_file(out / "flood_extent.gpkg")
    assert (extent["floodLevel"] >= 4).all() and extent.geometry.is_valid.all()
    lonlat = gpd.read_file(out / "flood_extent_4326.gpkg")
    assert lonlat.crs.to_epsg() == 4326 and len(lonlat) == len(extent)
    assert abs(lonlat.to_crs(32756).area.sum() - extent.area.sum()) < 1e-6 * extent.area.sum()
    printed = capsys.readouterr().out
    assert "wrote" in printed and "flood_extent.gpkg" in printed


def test_s2cd__refuses_existing_outputs_without_overwrite(products, tmp_path, capsys):
    _, before, after = products
    args = ["S2-CD", "-i1", str(before), "-i2", str(after), "-outdir", str(tmp_path), "-q"]
    assert main(args) == 0
    stamp = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert main(args) == 1
    assert "already exist" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamp
    assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize("extra, message", [
    (["-b", "B3,B13"], "unknown Sentinel-2 L2A band"),
    (["-r", "30"], "10, 20 or 60"),
    (["-p", "POLYGON((10 50, 11 50, 11 51, 10 51, 10 50))"], "does not overlap"),
    (["-p", "POLYGON((150 -33"], "invalid WKT"),
])
def test_s2cd__bad_input_one_line_error_no_files(products, tmp_path, capsys, extra, message):
    _, before, after = products
    code = main(["S2-CD", "-i1", str(before), "-i2", str(after), *extra, "-outdir",
                 str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and message in err[-1] and err[-1].startswith("eolab: error:")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_flood_mask__flood_only_needs_classes(products, tmp_path, capsys):
    assert main(["flood-mask", "-i", str(tmp_path / "x.tif"), "--flood-only", "-outdir",
                 str(tmp_path)]) == 1
    assert "--classes" in capsys.readouterr().err


@pytest.mark.slow
def test_s2cd__all_cloud_aoi_is_an_error(samples_dir, tmp_path, capsys):
    """An AOI entirely under cloud on date 2 must not give silent zeros."""
    import shapely
    from pyproj import Transformer
    from scipy import ndimage

    from eolab.tutorial import flood_products

    with rasterio.open(samples_dir / "cloud_truth_20210325.tif") as src:
        cloud = src.read(1) == 1
        t = src.transform
    core = ndimage.binary_erosion(cloud, iterations=8)
    r, c = np.argwhere(core)[len(np.argwhere(core)) // 2]
    x0, y0 = t.c + (c + 0.5) * 20, t.f - (r + 0.5) * 20
    tr = Transformer.from_crs(32756, 4326, always_xy=True)
    box = shapely.box(x0 - 60, y0 - 60, x0 + 60, y0 + 60)
    wkt = shapely.transform(box, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))).wkt
    before, after = flood_products(samples_dir)
    code = main(["S2-CD", "-i1", str(before), "-i2", str(after), "-p", wkt, "-outdir",
                 str(tmp_path), "-q"])
    assert code == 1 and "cloud" in capsys.readouterr().err.lower()
    assert not list(tmp_path.glob("*.tif"))
