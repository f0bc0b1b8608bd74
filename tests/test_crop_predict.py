"""classify_cube on rule-based stand-in models, the shipped model, and the simulated scene."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr

from eolab.crop.cli import SHIPPED_MODEL, cli_classify, tutorial_crop_map
from eolab.crop.metrics import overall_accuracy
from eolab.crop.model import load
from eolab.crop.postprocess import parcel_labels, parcel_majority, rasterize_parcels
from eolab.crop.predict import NODATA, classify_cube
from eolab.errors import CubeMismatchError, ModelIntegrityError

BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12")


class BrightestBand:
    """Stand-in model with a known answer: the class is the index of the band of largest mean."""

    labels = np.arange(9) * 2 + 1                     # labels 1, 3, ..., 17 (not 0..n-1)
    bands = BANDS
    n_steps = 12

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, x, *, bands=None, device="cpu"):
        assert tuple(bands) == self.bands and x.shape[1:] == (12, 9)
        self.calls.append(x.shape[0])
        m = np.nanmean(x, axis=1)
        e = np.exp(10 * (m - m.max(axis=1, keepdims=True)))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _composites(ny=7, nx=5, *, seed=0, bands=BANDS):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0, 0.3, (12, len(bands), ny, nx)).astype(np.float32)
    winner = rng.integers(0, len(bands), (ny, nx))
    for k in range(len(bands)):
        v[:, k][:, winner == k] += 0.5
    ds = xr.Dataset({"reflectance": (("month", "band", "y", "x"), v),
                     "filled": (("month", "y", "x"), np.zeros((12, ny, nx), dtype=bool))},
                    coords={"month": np.arange(12), "band": list(bands),
                            "y": 5_340_000.0 - 10 * np.arange(ny),
                            "x": 438_000.0 + 10 * np.arange(nx)})
    return ds.rio.write_crs("EPSG:32633"), winner


def test_classify_cube__known_answer_across_chunks_and_nodata():
    ds, winner = _composites()
    ds["filled"][:, 0, 0] = True                               # all months filled: no data
    ds["reflectance"][:, :, 1, 1] = np.nan                     # all NaN: no data
    ds["filled"][:11, 2, 2] = True                             # one real month: classified
    model = BrightestBand()
    out = classify_cube(ds, model, chunk=6, progress=False)   # 6 px -> one row (5 px) per chunk
    expected = model.labels[winner].astype(np.uint8)
    expected[0, 0] = expected[1, 1] = NODATA
    np.testing.assert_array_equal(out["crop_class"].values, expected)
    assert out["crop_class"].dtype == np.uint8 and out.rio.crs.to_epsg() == 32633
    assert len(model.calls) == 7 and sum(model.calls) == 7 * 5 - 2
    p = out["probability"]
    assert p.dims == ("class", "y", "x") and p.dtype == np.float32
    np.testing.assert_array_equal(p["class"].values, model.labels)
    np.testing.assert_allclose(p.values.sum(axis=0)[out["valid"].values], 1, atol=1e-5)
    assert (p.values[:, 0, 0] == 0).all() and not out["valid"].values[0, 0]
    np.testing.assert_array_equal(p.values.argmax(axis=0)[2:], winner[2:])
    small = classify_cube(ds, model, probability="max", progress=False)
    assert small["probability"].dims == ("y", "x")
    np.testing.assert_allclose(small["probability"].values, p.values.max(axis=0), rtol=1e-6)


def test_classify_cube__band_selection_order_and_months_checked():
    model = BrightestBand()
    ds, winner = _composites()
    swapped = ds.isel(band=[0, 1, 3, 2, 4, 5, 6, 7, 8])
    with pytest.raises(CubeMismatchError, match="band"):
        classify_cube(swapped, model, progress=False)
    # selecting by name restores the model's order: same answer as the original
    out = classify_cube(swapped, model, bands=model.bands, progress=False)
    np.testing.assert_array_equal(out["crop_class"].values, model.labels[winner])
    extra, _ = _composites(bands=BANDS[:6] + ("B08",) + BANDS[6:])
    with pytest.raises(CubeMismatchError, match="B08"):
        classify_cube(extra, model, progress=False)
    with pytest.raises(CubeMismatchError, match="lacks band"):
        classify_cube(ds.isel(band=slice(0, 8)), model, bands=model.bands, progress=False)
    with pytest.raises(CubeMismatchError, match="months"):
        classify_cube(ds.isel(month=slice(0, 11)), model, progress=False)
    with pytest.raises(CubeMismatchError, match="dims"):
        classify_cube(ds["reflectance"].isel(month=0), model, progress=False)


# --- the shipped model ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load(SHIPPED_MODEL)


def test_shipped_model__simulated_crops_only_and_small(shipped):
    cfg = json.loads((SHIPPED_MODEL / "config.json").read_text())
    assert "simulated" in cfg["training"]["note"] and "knows only" in cfg["training"]["note"]
    assert shipped.bands == BANDS and shipped.n_steps == 12
    assert set(shipped.labels.tolist()) <= set(range(16))
    assert (SHIPPED_MODEL / "weights.safetensors").stat().st_size < 1_000_000


def test_shipped_model__tampering_refused(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, copy)
    raw = bytearray((copy / "weights.safetensors").read_bytes())
    raw[-3] ^= 0xFF                                            # one altered weight byte
    (copy / "weights.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        load(copy)
    (copy / "weights.safetensors").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        load(copy)


def test_classify_cube__shipped_model_wrong_band_order_refused(shipped):
    ds, _ = _composites()
    with pytest.raises(CubeMismatchError, match="order|match"):
        classify_cube(ds.isel(band=[1, 0, 2, 3, 4, 5, 6, 7, 8]), shipped, progress=False)


def test_classify_cube__shipped_model_all_cloud_pixels_are_nodata(shipped):
    ds, _ = _composites()
    ds["filled"][:, :, 2] = True                               # a column never seen clear
    out = classify_cube(ds, shipped, progress=False)
    assert (out["crop_class"].values[:, 2] == NODATA).all()
    assert (out["crop_class"].values[:, [0, 1, 3, 4]] != NODATA).all()
    assert set(np.unique(out["crop_class"].values)) - {NODATA} <= set(shipped.labels.tolist())


# --- accuracy on the simulated scene --------------------------------------------------------

@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from eolab.samples.build import data_dir
    from eolab.samples.crop import CROP_CUBE, CROP_PARCELS, write_crop_samples

    built = data_dir()          # the samples folder, used when it holds the crop scene
    if (built / CROP_CUBE).exists() and (built / CROP_PARCELS).exists():
        return built
    dest = tmp_path_factory.mktemp("crop_scene")
    write_crop_samples(dest)
    return dest


@pytest.fixture(scope="module")
def scene_result(scene, shipped):
    from eolab.crop.composites import monthly
    from eolab.crop.timeseries import open_cube
    from eolab.samples.crop import CROP_CUBE, CROP_PARCELS

    comp = monthly(open_cube(scene / CROP_CUBE), snow=True).compute()
    parcels = gpd.read_file(scene / CROP_PARCELS)
    return comp, classify_cube(comp, shipped, bands=shipped.bands, progress=False), parcels


def test_shipped_model__parcel_accuracy_on_simulated_scene(scene_result):
    _, result, parcels = scene_result
    ids = rasterize_parcels(parcels, result["crop_class"])
    truth = parcels["crop_class"].to_numpy()
    inside = ids.values > 0
    pixel_truth = truth[ids.values[inside] - 1]
    pixel_oa = overall_accuracy(pixel_truth, result["crop_class"].values[inside])
    voted = parcel_majority(result, parcels)
    parcel_oa = overall_accuracy(truth, parcel_labels(voted, ids))
    print(f"pixel OA {pixel_oa:.3f}, parcel OA {parcel_oa:.3f}")
    assert parcel_oa >= 0.90
    assert parcel_oa > pixel_oa
    # every pixel of a parcel carries the parcel's vote
    for i in range(1, len(parcels) + 1):
        vals = np.unique(voted.values[ids.values == i])
        assert vals.size <= 1 or (vals.size == 2 and NODATA in vals)


def test_cli_classify__composites_file_parcels_geotiff(scene, scene_result, tmp_path):
    from eolab.crop.composites import write_composites
    from eolab.samples.crop import CROP_PARCELS

    comp, result, parcels = scene_result
    path = write_composites(comp, tmp_path / "composites.nc")
    out = cli_classify(path, tmp_path / "crop_map.tif", parcels=scene / CROP_PARCELS,
                       progress=False)
    with rasterio.open(out) as src:
        band = src.read(1)
        assert src.crs.to_epsg() == 32633 and src.nodata == NODATA
        assert src.tags()["CLASS_12"] == "Winter wheat"
        assert src.colormap(1)[NODATA][3] == 0
    np.testing.assert_array_equal(band, parcel_majority(result, parcels).values)
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*"))


def test_tutorial_crop_map__writes_map_and_prints_accuracy(scene, tmp_path, capsys):
    paths = tutorial_crop_map(scene, tmp_path)
    assert paths == [tmp_path / "crop_map.tif"] and paths[0].exists()
    text = capsys.readouterr().out
    assert "pixel-level OA" in text and "parcel-level OA" in text
    oa = float(text.split("parcel-level OA ")[1].split()[0])
    assert oa >= 0.90
    assert Path(paths[0]).stat().st_size > 1000
