"""The S1-CD chain on the simulated IW SLC pair, against the simulator's truth.

The truth is the generator's: per-burst offsets on a node grid, the land
cover and flood of the scene (``landcover_truth.tif``, ``flood_truth.tif``)
and the true coherence per class (``eolab.samples._s1safe_signal``).
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import shapely
from scipy import ndimage

from eolab.aoi import TUTORIAL_AOI_WKT
from eolab.cli import main
from eolab.composites import acd_composite
from eolab.errors import AOIError, CorruptProductError, ProductError, ProductTypeError
from eolab.io.rasters import match_grid
from eolab.io.sentinel1 import open_slc
from eolab.s1.chain import pair_to_map
from eolab.s1.coherence import expected_coherence
from eolab.s1.flood import sar_flood
from eolab.s1.pair import burst_geometry, coregister_burst, geometric_offsets
from eolab.samples._s1safe_signal import COHERENCE, FLOOD_COHERENCE
from eolab.samples.build import S1_PRODUCTS
from eolab.workflows import s1_change_detection


@pytest.fixture(scope="module")
def pair(samples_dir: Path) -> tuple[Path, Path]:
    return samples_dir / f"{S1_PRODUCTS[0]}.zip", samples_dir / f"{S1_PRODUCTS[1]}.zip"


@pytest.fixture(scope="module")
def dem(samples_dir: Path):
    return rioxarray.open_rasterio(samples_dir / "dem.tif").squeeze(drop=True)


@pytest.fixture(scope="module")
def trees(pair):
    return (open_slc(pair[0], aoi=TUTORIAL_AOI_WKT), open_slc(pair[1], aoi=TUTORIAL_AOI_WKT))


@pytest.fixture(scope="module")
def s1map(pair, dem):
    return pair_to_map(pair[0], pair[1], aoi=TUTORIAL_AOI_WKT, resolution=20, height=dem)


@pytest.fixture(scope="module")
def truth(samples_dir: Path, s1map):
    def load(name: str) -> np.ndarray:
        da = rioxarray.open_rasterio(samples_dir / name).squeeze(drop=True)
        return match_grid(da, s1map["sigma0_1"]).values

    return {"flood": load("flood_truth.tif"), "landcover": load("landcover_truth.tif"),
            "offsets": np.load(samples_dir / "s1_truth.npz")}


def _at_nodes(ds, npz, k):
    lines = npz[f"offset_lines_{k}"].astype(int)
    pixels = npz[f"offset_pixels_{k}"].astype(int)
    az = ds["az_offset"].values[np.ix_(lines, pixels)]
    rg = ds["rg_offset"].values[np.ix_(lines, pixels)]
    return (np.abs(az - npz[f"offset_line_{k}"]).max(),
            np.abs(rg - npz[f"offset_pixel_{k}"]).max())


def test_geometric_offsets__follow_the_orbits(trees, dem, truth):
    for k in (0, 1):
        g1, g2 = burst_geometry(trees[0], "IW2", k), burst_geometry(trees[1], "IW2", k)
        geo = geometric_offsets(g1, g2, height=dem)
        err_az, err_rg = _at_nodes(geo, truth["offsets"], k)
        assert err_az < 0.01 and err_rg < 0.01, (k, err_az, err_rg)
        # the offsets vary across the burst: one constant shift would not do
        assert np.ptp(geo["rg_offset"].values) > 0.1


@pytest.mark.parametrize("k", [0, 1])
def test_coregister_burst__offsets_within_005_px_everywhere(trees, dem, truth, k):
    g1, g2 = burst_geometry(trees[0], "IW2", k), burst_geometry(trees[1], "IW2", k)
    m1 = trees[0][f"IW2/{k}"]["measurement"].values
    m2 = trees[1][f"IW2/{k}"]["measurement"].values
    ds = coregister_burst(m1, m2, g1, g2, height=dem)
    assert ds.attrs["refined"] == 1 and ds.attrs["patches_used"] >= 20
    err_az, err_rg = _at_nodes(ds, truth["offsets"], k)
    assert err_az <= 0.05 and err_rg <= 0.05, (err_az, err_rg)
    if k == 0:
        # a geometry wrong by 0.2 line and 0.4 pixel (orbit/timing error) is recovered
        wrong = dataclasses.replace(g2, grid=dataclasses.replace(
            g2.grid, first_line_time=g2.grid.first_line_time - 0.2 * g2.grid.azimuth_time_interval,
            slant_range_time=g2.grid.slant_range_time + 0.4 / g2.grid.range_sampling_rate))
        bad = coregister_burst(m1, m2, g1, wrong, height=dem, refine=False)
        assert min(_at_nodes(bad, truth["offsets"], k)) > 0.15
        fixed = coregister_burst(m1, m2, g1, wrong, height=dem)
        err_az, err_rg = _at_nodes(fixed, truth["offsets"], k)
        assert err_az <= 0.05 and err_rg <= 0.05, (err_az, err_rg)


def test_pair_to_map__grid_attrs_and_units(s1map):
    assert s1map.rio.crs.to_epsg() == 32756
    assert dict(s1map.sizes) == {"y": 1724, "x": 1547}  # the tutorial AOI on the 20 m S2 grid
    assert set(s1map.data_vars) == {"sigma0_1", "sigma0_2", "coherence"}
    assert all(s1map[v].dtype == np.float32 for v in s1map.data_vars)
    assert (s1map.attrs["date_1"], s1map.attrs["date_2"]) == ("20210312", "20210324")
    assert s1map.attrs["bursts"] == ["IW2:0-0", "IW2:1-1"]
    coh = s1map["coherence"].values
    assert np.nanmin(coh) >= 0 and np.nanmax(coh) <= 1
    covered = np.isfinite(s1map["sigma0_1"].values)
    assert 0.5 < covered.mean() < 0.95  # the pair covers most of the AOI, not all of it
    # outside the AOI polygon (its corners in UTM) nothing is written
    assert np.isnan(s1map["sigma0_1"].values[0, 0]) or np.isnan(s1map["sigma0_1"].values[-1, -1])


def test_pair_to_map__coherence_per_class_matches_the_estimator(s1map, truth):
    coh = s1map["coherence"].values
    flooded = truth["flood"] == 1
    looks = 3 * 10
    checked = 0
    for code, gamma in [*COHERENCE.items(), ("flood", FLOOD_COHERENCE)]:
        if code == 0:
            continue
        mask = flooded if code == "flood" else (truth["landcover"] == code) & ~flooded
        inner = ndimage.binary_erosion(mask, structure=np.ones((5, 11))) & np.isfinite(coh)
        if inner.sum() < 1000:
            continue
        expected = float(expected_coherence(gamma, looks))
        assert abs(float(coh[inner].mean()) - expected) <= 0.05, (code, coh[inner].mean(),
                                                                  expected)
        checked += 1
    assert checked >= 6


def test_pair_to_map__sar_flood_and_acd_against_the_flood_truth(s1map, truth):
    flood = sar_flood(s1map["sigma0_1"], s1map["sigma0_2"]).values
    covered = flood != 255
    reference = truth["flood"] == 1
    detected = flood == 1
    iou = (detected & reference & covered).sum() / ((detected | reference) & covered).sum()
    assert iou >= 0.80, iou
    acd = acd_composite(s1map["sigma0_1"], s1map["sigma0_2"]).values
    inside = reference & covered & (acd[0] > 0)
    red = (acd[0] > acd[1]) & (acd[0] > acd[2])
    assert red[inside].mean() >= 0.90
    dry = ~reference & covered & (acd[0] > 0)
    assert red[dry].mean() < 0.5  # unchanged land is grey, not red


def test_pair_to_map__flat_earth_removal_matters(trees, dem):
    g1, g2 = burst_geometry(trees[0], "IW2", 0), burst_geometry(trees[1], "IW2", 0)
    from eolab.s1.coherence import coherence

    m1 = trees[0]["IW2/0"]["measurement"].values
    ds = coregister_burst(m1, trees[1]["IW2/0"]["measurement"].values, g1, g2, height=dem,
                          refine=False)
    with_phase = coherence(m1, ds["secondary"].values, flat_phase=ds["flat_phase"].values)
    without = coherence(m1, ds["secondary"].values)
    assert float(np.nanmean(with_phase)) > float(np.nanmean(without)) + 0.05


def _small_aoi(trees) -> str:
    centre = shapely.from_wkt(trees[0]["IW2/0"].attrs["footprint_wkt"]).centroid
    return shapely.box(centre.x - 0.03, centre.y - 0.03, centre.x + 0.03, centre.y + 0.03).wkt


def test_cli_s1cd__writes_the_tutorials_files(pair, trees, samples_dir, tmp_path, capsys):
    aoi = _small_aoi(trees)
    args = ["S1-CD", "-i1", str(pair[0]), "-i2", str(pair[1]), "-r", "20", "-p", aoi,
            "--dem", str(samples_dir / "dem.tif"), "-q", "-outdir", str(tmp_path)]
    assert main(args) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["S1_ACD_20210312_20210324_VV_20.tif", "S1_COH_20210312_20210324_VV_20.tif",
                     "S1_MTC_20210312_20210324_VV_20.tif", "S1_SIGMA0_20210312_VV_20.tif",
                     "S1_SIGMA0_20210324_VV_20.tif"]
    with rasterio.open(tmp_path / "S1_ACD_20210312_20210324_VV_20.tif") as src:
        assert (src.count, src.dtypes[0], src.nodata) == (3, "uint8", 0)
        rgb = src.read()
        assert np.array_equal(rgb[1], rgb[2])  # G and B are date 2
        assert rgb[:, rgb[0] > 0].min() >= 1
    with rasterio.open(tmp_path / "S1_COH_20210312_20210324_VV_20.tif") as src:
        coh = src.read(1)
        assert src.dtypes[0] == "float32" and np.nanmax(coh) <= 1.0
    with rasterio.open(tmp_path / "S1_SIGMA0_20210312_VV_20.tif") as src:
        s0 = src.read(1)
        assert src.dtypes[0] == "float32" and 1e-4 < np.nanmedian(s0) < 1.0  # linear power
    capsys.readouterr()
    assert main(args) == 1  # outputs exist, no --overwrite
    assert "already exist" in capsys.readouterr().err


def _truncated_copy(src: Path, dest: Path) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if "/measurement/" in info.filename and info.filename.endswith(".tiff"):
                data = data[: len(data) // 2]
            zout.writestr(info, data)
    return dest


def test_s1cd__bad_input_gives_clear_errors_and_no_outputs(pair, trees, tmp_path, realdata):
    aoi = _small_aoi(trees)
    out = tmp_path / "out"
    broken = _truncated_copy(pair[1], tmp_path / pair[1].name)
    with pytest.raises(CorruptProductError):
        s1_change_detection(pair[0], broken, aoi=aoi, outdir=out)
    assert not out.exists() or not any(out.iterdir())
    not_safe = tmp_path / "S1A_IW_SLC__1SDV_20210401T191602_20210401T191608_037319_0462C1_AAAA.zip"
    with zipfile.ZipFile(not_safe, "w") as z:
        z.writestr("readme.txt", "not a product")
    with pytest.raises(ProductError):
        s1_change_detection(pair[0], not_safe, aoi=aoi, outdir=out)
    with pytest.raises(AOIError):
        pair_to_map(pair[0], pair[1], aoi="POLYGON((10 45, 10.1 45, 10.1 45.1, 10 45.1, 10 45))")
    with pytest.raises(ProductError, match="same acquisition"):
        pair_to_map(pair[0], pair[0], aoi=aoi)
    grd = next((realdata / "s1_safe_sarsen").glob("S1B_IW_GRDH_*.SAFE"))
    with pytest.raises(ProductTypeError, match="sigma0 and ACD still work"):
        pair_to_map(pair[0], grd, aoi=aoi)
    other_track = next((realdata / "s1_safe_sarsen").glob("S1A_IW_SLC__*.SAFE"))
    with pytest.raises(ProductError, match="relative orbit|pass"):
        s1_change_detection(pair[0], other_track, aoi=aoi, outdir=out)
    with pytest.raises(ProductError):
        pair_to_map(pair[0], pair[1], aoi=aoi, pol="HH")
    assert not out.exists() or not any(out.iterdir())
