"""Water indices and masks: known spectra, the simulated scene's truth, bad input."""

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from eolab import flood
from eolab.change import cva
from eolab.errors import BandError
from eolab.io.rasters import match_grid
from eolab.io.sentinel2 import open_l2a
from eolab.water import WATER_INDICES, flood_change_mask, water_index, water_mask
from eolab._thresholds import ThresholdError

# Reflectance spectra (B02, B03, B04, B08, B11, B12) of clear water and of grass.
WATER = dict(B02=0.045, B03=0.040, B04=0.030, B08=0.010, B11=0.004, B12=0.002)
GRASS = dict(B02=0.035, B03=0.070, B04=0.045, B08=0.350, B11=0.220, B12=0.120)


def _scene(water_share=0.2, shape=(60, 50), seed=0, scl=None):
    rng = np.random.default_rng(seed)
    is_water = np.zeros(shape, bool)
    is_water[: int(round(water_share * shape[0])), :] = True
    data = {}
    for band in WATER:
        values = np.where(is_water, WATER[band], GRASS[band])
        data[band] = (("y", "x"), (values + rng.normal(0, 0.004, shape)).astype(np.float32))
    if scl is not None:
        data["SCL"] = (("y", "x"), scl)
    return xr.Dataset(data), is_water


def test_water_index__published_formulas_on_known_spectra():
    _, is_water = _scene()
    w, g = WATER, GRASS
    expected = {
        "ndwi": lambda v: (v["B03"] - v["B08"]) / (v["B03"] + v["B08"]),
        "mndwi": lambda v: (v["B03"] - v["B11"]) / (v["B03"] + v["B11"]),
        "awei_nsh": lambda v: 4 * (v["B03"] - v["B11"]) - (0.25 * v["B08"] + 2.75 * v["B12"]),
        "awei_sh": lambda v: v["B02"] + 2.5 * v["B03"] - 1.5 * (v["B08"] + v["B11"])
        - 0.25 * v["B12"],
        "wi2015": lambda v: 1.7204 + 171 * v["B03"] + 3 * v["B04"] - 70 * v["B08"]
        - 45 * v["B11"] - 71 * v["B12"],
    }
    clean = xr.Dataset({b: (("y", "x"), np.where(is_water, w[b], g[b]).astype(np.float32))
                        for b in WATER})
    for name, formula in expected.items():
        out = water_index(clean, index=name)
        assert out.name == name and out.dtype == np.float32
        np.testing.assert_allclose(out.values[0, 0], formula(w), rtol=1e-5)
        np.testing.assert_allclose(out.values[-1, 0], formula(g), rtol=1e-5)
        assert out.values[0, 0] > 0 > out.values[-1, 0]   # the published threshold 0 holds
    assert set(expected) == set(WATER_INDICES)


@pytest.mark.parametrize("share", [0.02, 0.2, 0.5])
def test_water_mask__finds_the_water_at_any_share(share):
    ds, is_water = _scene(water_share=share)
    out = water_mask(ds)
    assert out.dtype == np.uint8 and out.attrs["threshold_method"] == "ki"
    np.testing.assert_array_equal(out.values == 1, is_water)


def test_water_mask__scl_clouds_and_no_data_are_255():
    scl = np.full((60, 50), 4, np.uint8)
    scl[:, :5] = 9          # cloud
    scl[:, 5:7] = 0         # no data
    ds, is_water = _scene(scl=scl)
    out = water_mask(ds)
    assert (out.values[:, :7] == 255).all()
    np.testing.assert_array_equal(out.values[:, 7:] == 1, is_water[:, 7:])
    kept = water_mask(ds, mask_clouds=False)
    assert (kept.values[:, :5] != 255).all() and (kept.values[:, 5:7] == 255).all()


def test_water_mask__bad_input():
    ds, _ = _scene()
    with pytest.raises(BandError, match=r"awei_sh water index needs band\(s\) B12"):
        water_mask(ds.drop_vars("B12"))
    with pytest.raises(BandError, match="unknown water index 'ndvi'"):
        water_index(ds, index="ndvi")
    with pytest.raises(ThresholdError, match="unknown threshold method"):
        water_mask(ds, method="mean")
    all_cloud = ds.assign(SCL=(("y", "x"), np.full((60, 50), 9, np.uint8)))
    with pytest.raises(ThresholdError, match="no water threshold.*all cloud"):
        water_mask(all_cloud)
    fixed = water_mask(all_cloud, threshold=0.0)
    assert (fixed.values == 255).all()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_water_mask__simulated_scene_both_dates(samples_dir):
    """Permanent water (1 % of the scene) before, plus the flood (5 %) after, vs the truth."""
    import rioxarray as rxr

    from eolab.tutorial import flood_products

    landcover = rxr.open_rasterio(samples_dir / "landcover_truth.tif").isel(band=0, drop=True)
    flood_truth = rxr.open_rasterio(samples_dir / "flood_truth.tif").isel(band=0, drop=True)
    scores = {}
    for date, path in zip(("before", "after"), flood_products(samples_dir), strict=True):
        ds = open_l2a(path, bands=["B2", "B3", "B4", "B8", "B11", "B12", "SCL"], resolution=20)
        water = water_mask(ds).compute()
        truth = match_grid(landcover, water) == 1
        if date == "after":
            truth = truth | (match_grid(flood_truth, water) == 1)
        scores[date] = flood.accuracy(water == 1, truth, ignore=(water == 255).values)["iou"]
    # measured: 0.921 before, 0.810 after (clouds' edges and mixed flood pixels)
    assert scores["before"] >= 0.90 and scores["after"] >= 0.78, scores


def _rgb(values):
    return xr.Dataset({f"band{i + 1}": (("y", "x"), values[..., i]) for i in range(3)})


def test_flood_change_mask__unnamed_bands_keep_brightening_out():
    rng = np.random.default_rng(1)
    before = np.full((40, 40, 3), 0.3, np.float32) + rng.normal(0, 0.005, (40, 40, 3))
    after = before + rng.normal(0, 0.005, (40, 40, 3))
    after[:10] -= np.array([0.20, 0.10, 0.02])     # darkening: flood-like
    after[30:] += 0.25                               # brightening: a cloud
    out = flood_change_mask(cva(_rgb(before), _rgb(after)), method="otsu")
    assert out.attrs["candidates"].startswith("any direction but brightening")
    assert (out.values[:10] == 1).all()
    assert (out.values[10:] == 0).all()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_flood_change_mask__named_bands_use_the_flooding_class(samples_dir):
    import rioxarray as rxr

    from eolab.tutorial import flood_products

    ds = [open_l2a(p, bands=["B3", "B4", "B8", "SCL"], resolution=20)
          for p in flood_products(samples_dir)]
    c = cva(*ds).compute()
    out = flood_change_mask(c)
    assert out.attrs["candidates"].startswith("S2-CD class 1")
    truth = match_grid(rxr.open_rasterio(samples_dir / "flood_truth.tif")
                       .isel(band=0, drop=True), out) == 1
    score = flood.accuracy(out == 1, truth, ignore=(out >= 254).values)
    assert score["iou"] >= 0.90, score      # measured 0.95 (KI on the class-1 candidates)
    assert set(np.unique(out.values)) <= {0, 1, 254, 255}
