"""Change Vector Analysis, automatic thresholds and S2-CD classes, checked against
hand-computed vectors, known mixtures and the simulated scene's truth."""

from __future__ import annotations

import warnings

import dask.array as darr
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.windows import from_bounds
from scipy import ndimage
from scipy.optimize import brentq
from scipy.stats import norm

from eolab.change import (
    CHANGE_CLASSES,
    THRESHOLD_METHODS,
    ThresholdError,
    ThresholdResult,
    auto_threshold,
    classify,
    cva,
    threshold_histogram,
)
from eolab.errors import AOIError, BandError, CRSError, EolabError, ProductError

BANDS3 = ("B03", "B04", "B08")


def _ds(values: dict[str, np.ndarray], *, x0: float = 300000.0, y0: float = 6270000.0,
        res: float = 20.0, crs: str | None = "EPSG:32756", date: str = "") -> xr.Dataset:
    """Dataset of (y, x) float32 variables, pixel centres on a grid from (x0, y0) (upper left)."""
    ny, nx = next(iter(values.values())).shape
    coords = {"y": y0 - (np.arange(ny) + 0.5) * res, "x": x0 + (np.arange(nx) + 0.5) * res}
    ds = xr.Dataset({k: (("y", "x"), np.asarray(v, np.float32)) for k, v in values.items()},
                    coords=coords, attrs={"datetime": date})
    return ds.rio.write_crs(crs) if crs else ds


def _pixels(spectra: list[tuple[float, ...]], bands=BANDS3, scl=None) -> dict[str, np.ndarray]:
    """One row of pixels, one per spectrum (reflectance fractions)."""
    arr = np.asarray(spectra, np.float32).T[:, None, :]
    out = {b: arr[i] for i, b in enumerate(bands)}
    if scl is not None:
        out["SCL"] = np.asarray(scl, np.float32)[None, :]
    return out


# --- CVA formulas ---------------------------------------------------------------------------

def test_cva__magnitude_and_direction_of_hand_made_vectors():
    base = (0.10, 0.10, 0.10)
    steps = [(0.01, 0.01, 0.01), (0.01, -0.01, 0.0), (-0.01, -0.01, -0.01), (0.0, 0.0, 0.0),
             (0.03, 0.0, -0.04)]
    before = _ds(_pixels([base] * len(steps)), date="2021-03-15T00:02:41.000Z")
    after = _ds(_pixels([tuple(b + s for b, s in zip(base, st)) for st in steps]),
                date="2021-03-25T00:02:41.000Z")
    out = cva(before, after)
    mag, ang = out["magnitude"].values[0], out["direction"].values[0]
    np.testing.assert_allclose(mag, [np.sqrt(3), np.sqrt(2), np.sqrt(3), 0.0, 5.0], atol=1e-4)
    np.testing.assert_allclose(ang[:3], [0.0, 90.0, 180.0], atol=0.05)
    assert np.isnan(ang[3])  # no change: no direction
    expected = np.degrees(np.arccos((3 - 4) / (np.sqrt(3) * 5)))
    assert ang[4] == pytest.approx(expected, abs=0.05)
    np.testing.assert_allclose(out["delta_B08"].values[0], [1, 0, -1, 0, -4], atol=1e-4)
    assert out["magnitude"].dtype == np.float32 and out["magnitude"].attrs["units"] == "%"
    assert out["direction"].attrs["units"] == "degree"
    assert out.attrs["bands"] == list(BANDS3)
    assert out.attrs["datetime_before"].startswith("2021-03-15")
    assert out.attrs["datetime_after"].startswith("2021-03-25")
    assert out.rio.crs == before.rio.crs


def test_cva__bands_subset_and_names_without_crs():
    before = _ds({"B3": np.full((2, 2), 0.1), "B8": np.full((2, 2), 0.3),
                  "B4": np.full((2, 2), 0.05)}, crs=None)
    after = _ds({"B3": np.full((2, 2), 0.13), "B8": np.full((2, 2), 0.26),
                 "B4": np.full((2, 2), 0.9)}, crs=None)
    out = cva(before, after, bands=["B03", "B08"])  # canonical names find "B3"/"B8"
    np.testing.assert_allclose(out["magnitude"].values, 5.0, atol=1e-4)
    assert set(out.data_vars) == {"magnitude", "direction", "delta_B03", "delta_B08", "masked"}
    assert out.rio.crs is None


def test_cva__nan_and_scl_masks():
    spectra = [(0.1, 0.1, 0.3)] * 5
    before = _pixels(spectra, scl=[4, 9, 4, 4, 0])
    after = _pixels(spectra, scl=[4, 4, 3, 4, 4])
    before["B04"][0, 3] = np.nan
    out = cva(_ds(before), _ds(after))
    mag = out["magnitude"].values[0]
    assert mag[0] == 0.0 and np.isnan(mag[1:]).all()
    np.testing.assert_array_equal(out["masked"].values[0], [False, True, True, False, False])
    classes = classify(out, threshold=4).values[0]
    np.testing.assert_array_equal(classes, [0, 254, 254, 255, 255])
    # without cloud masking the SCL is ignored; the NaN band stays no data
    raw = cva(_ds(before), _ds(after), mask_clouds=False)
    assert np.isfinite(raw["magnitude"].values[0, [0, 1, 2, 4]]).all()
    assert classify(raw, threshold=4).values[0, 3] == 255


def test_cva__all_cloud_or_all_nan_is_an_error_never_zeros():
    spectra = [(0.1, 0.1, 0.3)] * 4
    with pytest.raises(ProductError, match="cloud"):
        cva(_ds(_pixels(spectra, scl=[9, 8, 3, 10])), _ds(_pixels(spectra, scl=[4] * 4)))
    lazy = _ds(_pixels(spectra, scl=[4] * 4)).chunk()
    cloudy = _ds(_pixels(spectra, scl=[9] * 4)).chunk()
    with pytest.raises(ProductError):
        cva(lazy, cloudy)
    empty = _pixels(spectra)
    empty["B08"][:] = np.nan
    with pytest.raises(ProductError):
        cva(_ds(empty), _ds(_pixels(spectra)))


def test_cva__band_errors():
    a = _ds(_pixels([(0.1, 0.1, 0.3)]))
    b = _ds(_pixels([(0.1, 0.1, 0.3)], bands=("B03", "B04", "B8A")))
    with pytest.raises(BandError, match="different bands"):
        cva(a, b)
    with pytest.raises(BandError, match="B8A"):
        cva(a, a, bands=["B03", "B8A"])
    with pytest.raises(BandError):
        cva(a, a, bands=["B03", "SCL"])
    with pytest.raises(EolabError):
        cva(a, a, bands=[])


# --- grids --------------------------------------------------------------------------------

def _field(ds_like: xr.Dataset, slope: tuple[float, float], offset: float) -> np.ndarray:
    xx, yy = np.meshgrid(ds_like["x"].values, ds_like["y"].values)
    return offset + slope[0] * (xx - 300000.0) + slope[1] * (yy - 6270000.0)


def test_cva__aligned_windows_are_cut_to_common_pixels():
    before = _ds({b: np.zeros((10, 12)) for b in BANDS3})
    after = _ds({b: np.zeros((8, 9)) for b in BANDS3}, x0=300000.0 + 3 * 20, y0=6270000.0 - 40)
    for ds in (before, after):
        for b in BANDS3:
            ds[b][:] = _field(ds, (1e-5, 2e-5), 0.2)
    after["B08"] = after["B08"] - 0.05
    out = cva(before, after)
    assert out.sizes == {"y": 8, "x": 9}
    np.testing.assert_allclose(out["x"].values, after["x"].values)
    np.testing.assert_allclose(out["magnitude"].values, 5.0, atol=1e-3)


def test_cva__other_crs_is_reprojected_onto_the_before_grid():
    before = _ds({b: np.zeros((30, 30)) for b in BANDS3} | {"SCL": np.full((30, 30), 4.0)})
    # the same UTM zone in the northern-hemisphere CRS: identical positions, y - 10 000 km,
    # on a grid shifted by half a pixel and reaching beyond the before grid
    after = _ds({b: np.zeros((40, 40)) for b in BANDS3} | {"SCL": np.full((40, 40), 4.0)},
                x0=300000.0 - 90.0, y0=6270000.0 - 1e7 + 110.0, crs="EPSG:32656")
    for b in BANDS3:
        before[b][:] = _field(before, (1e-4, -2e-4), 0.2)
    shifted = after.assign_coords(y=after["y"] + 1e7)
    for b in BANDS3:
        after[b][:] = _field(shifted, (1e-4, -2e-4), 0.2) + (0.02 if b == "B04" else 0.0)
    after["SCL"][:20] = 9.0
    with pytest.warns(UserWarning, match="reprojected"):
        out = cva(before, after)
    assert out.rio.crs == before.rio.crs and out.sizes == before.sizes
    inner = out["magnitude"].values[1:-1, 1:-1]
    finite = inner[np.isfinite(inner)]
    assert finite.size > 300
    np.testing.assert_allclose(finite, 2.0, atol=1e-3)  # bilinear is exact on a linear field
    mask = out["masked"].values
    assert set(np.unique(mask)) == {False, True}  # the SCL cloud rows came across (nearest)


def test_cva__grids_that_do_not_overlap_or_cannot_be_matched():
    before = _ds({b: np.ones((4, 4)) * 0.1 for b in BANDS3})
    far = _ds({b: np.ones((4, 4)) * 0.1 for b in BANDS3}, x0=500000.0)
    with pytest.raises(AOIError, match="overlap"):
        cva(before, far)
    off = _ds({b: np.ones((4, 4)) * 0.1 for b in BANDS3}, x0=300007.0)
    with pytest.raises(AOIError, match="overlap"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cva(before, off.rio.write_crs("EPSG:32656"))
    no_crs = _ds({b: np.ones((4, 4)) * 0.1 for b in BANDS3}, x0=300007.0, crs=None)
    with pytest.raises(CRSError, match="CRS"):
        cva(before, no_crs)


def test_cva__stays_lazy_with_dask_inputs():
    calls = {"n": 0}

    def counted(block):
        calls["n"] += block.size > 0  # dask also calls it on empty arrays for metadata
        return block

    rng = np.random.default_rng(1)
    before = _ds({b: rng.uniform(0.05, 0.3, (64, 64)) for b in BANDS3}).chunk(32)
    after = _ds({b: rng.uniform(0.05, 0.3, (64, 64)) for b in BANDS3}).chunk(32)
    for b in BANDS3:
        after[b] = after[b].copy(data=after[b].data.map_blocks(counted, dtype=np.float32))
    out = cva(before, after)
    assert isinstance(out["magnitude"].data, darr.Array) and calls["n"] == 0
    assert out["magnitude"].chunks == ((32, 32), (32, 32))
    eager = cva(before.compute(), after.compute())
    np.testing.assert_allclose(out["magnitude"].values, eager["magnitude"].values, rtol=1e-6)


def test_cva__strips_in_threads_and_dask_chunks_give_identical_results(monkeypatch):
    import eolab._cva_kernel as kernel

    monkeypatch.setattr(kernel, "STRIP_PIXELS", 200)      # many strips, traced in threads
    rng = np.random.default_rng(2)
    shape = (70, 50)
    before = _ds({b: rng.uniform(0.05, 0.3, shape) for b in BANDS3}
                 | {"SCL": rng.choice([0, 3, 4, 5, 6, 9], shape).astype(np.float32)})
    after = _ds({b: rng.uniform(0.05, 0.3, shape) for b in BANDS3}
                | {"SCL": rng.choice([4, 5, 6, 8], shape).astype(np.float32)})
    after["B04"][3:9, 4:7] = np.nan
    eager = cva(before, after)
    lazy = cva(before.chunk(16), after.chunk(16))
    assert isinstance(lazy["magnitude"].data, darr.Array)
    xr.testing.assert_identical(eager, lazy.compute())
    d = {b: (after[b].values - before[b].values) * np.float32(100) for b in BANDS3}
    mag = np.sqrt(sum(v * v for v in d.values()))
    scl = np.isin(before["SCL"].values, [0, 3, 9]) | np.isin(after["SCL"].values, [8])
    mag[scl | np.isnan(mag)] = np.nan
    np.testing.assert_array_equal(eager["magnitude"].values, mag)
    for threshold in (None, 4.0):
        classes = classify(eager, threshold=threshold)
        xr.testing.assert_identical(classes, classify(lazy, threshold=threshold).compute())
        assert set(np.unique(classes.values)) <= set(CHANGE_CLASSES) | {254, 255}


# --- thresholds ---------------------------------------------------------------------------

def _mixture(frac: float, m0: float, s0: float, m1: float, s1: float, n: int = 400_000,
             seed: int = 0) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    k = int(n * frac)
    x = np.r_[rng.normal(m0, s0, n - k), rng.normal(m1, s1, k)]
    bayes = brentq(lambda t: (1 - frac) * norm.pdf(t, m0, s0) - frac * norm.pdf(t, m1, s1), m0, m1)
    return rng.permutation(x), bayes


@pytest.mark.parametrize("method", THRESHOLD_METHODS)
def test_auto_threshold__balanced_bimodal_mixture(method):
    x, bayes = _mixture(0.4, 2.0, 0.6, 8.0, 1.0)
    t = auto_threshold(x, method=method)
    assert 2.0 + 3 * 0.6 < t < 8.0 - 2 * 1.0  # between the peaks
    if method != "otsu":
        assert t == pytest.approx(bayes, abs=0.15)


@pytest.mark.parametrize("frac", [0.01, 0.03])
def test_auto_threshold__unbalanced_change_ki_and_em_cope(frac):
    """Change on 1–3 % of the pixels, wider than the no-change peak.

    KI and EM land near the Bayes boundary; Otsu does not (documented): on
    1 % it cuts into the no-change peak (about 2.1 here, far below the boundary).
    """
    x, bayes = _mixture(frac, 2.0, 0.8, 6.0, 1.5, seed=3)
    errors = {m: abs(auto_threshold(x, method=m) - bayes) for m in THRESHOLD_METHODS}
    assert errors["ki"] < 0.35 and errors["em"] < 0.2
    assert errors["otsu"] > 0.6  # Otsu's known bias on unbalanced classes


def test_auto_threshold__nan_ignored_and_dask_read_once():
    x, bayes = _mixture(0.05, 1.0, 0.5, 6.0, 1.0, n=200_000, seed=5)
    grid = x.reshape(400, 500).astype(np.float32)
    grid[:10] = np.nan
    calls = {"n": 0}

    def counted(block):
        calls["n"] += block.size > 0  # dask also calls it on empty arrays for metadata
        return block

    lazy = darr.from_array(grid, chunks=(100, 250)).map_blocks(counted, dtype=np.float32)
    t_lazy = auto_threshold(xr.DataArray(lazy, dims=("y", "x")), method="em", max_samples=50_000)
    assert calls["n"] == 8  # each block computed once, no second pass
    assert t_lazy == pytest.approx(auto_threshold(grid, method="em"), abs=0.2)
    assert t_lazy == pytest.approx(bayes, abs=0.3)


def test_auto_threshold__errors_and_degenerate_inputs():
    with pytest.raises(ThresholdError, match="otsu, ki, em"):
        auto_threshold(np.arange(100.0), method="magic")
    with pytest.raises(ValueError):
        auto_threshold(np.arange(100.0), method="magic")
    with pytest.raises(ThresholdError, match="finite"):
        auto_threshold(np.r_[np.full(100, np.nan), 1.0, 2.0])
    with pytest.raises(ThresholdError, match="equal"):
        auto_threshold(np.full(100, 3.0), method="ki")
    two = np.r_[np.zeros(90), np.ones(10)]  # two values only: split between them
    for method in THRESHOLD_METHODS:
        assert 0.0 < auto_threshold(two, method=method) <= 1.0


def test_threshold_histogram__for_plotting():
    x, _ = _mixture(0.1, 2.0, 0.5, 7.0, 1.0, n=50_000)
    res = threshold_histogram(x, method="ki", bins=64)
    assert isinstance(res, ThresholdResult) and res.method == "ki"
    assert res.counts.shape == (64,) and res.edges.shape == (65,)
    assert res.counts.sum() == res.n_values == x.size
    assert res.threshold == auto_threshold(x, method="ki")
    em = threshold_histogram(x, method="em")
    assert em.params["means"][0] == pytest.approx(2.0, abs=0.1)
    assert em.params["weights"][1] == pytest.approx(0.1, abs=0.02)


# --- classes ------------------------------------------------------------------------------

# Typical BOA reflectance (green, red, NIR) of surfaces; the S2-CD classes of their changes.
GRASS, CROP, FOREST = (0.075, 0.055, 0.31), (0.07, 0.035, 0.40), (0.045, 0.03, 0.26)
SOIL, TURBID, CLEAR = (0.11, 0.15, 0.225), (0.115, 0.125, 0.068), (0.038, 0.022, 0.008)
CLOUD, DRY = (0.55, 0.55, 0.57), (0.10, 0.135, 0.25)


def _mix(a, b, f):
    return tuple((1 - f) * x + f * y for x, y in zip(a, b))


CASES = [  # (before, after, class)
    (GRASS, TURBID, 1), (CROP, TURBID, 1), (SOIL, TURBID, 1), (GRASS, CLEAR, 1),
    (FOREST, _mix(FOREST, TURBID, 0.5), 1), (GRASS, _mix(GRASS, TURBID, 0.3), 1),
    (CROP, SOIL, 2), (GRASS, SOIL, 2), (GRASS, DRY, 2),
    (GRASS, _mix(GRASS, CLOUD, 0.3), 3), (SOIL, _mix(SOIL, CLOUD, 0.8), 3),
    (TURBID, GRASS, 5), (SOIL, CROP, 5),
    (GRASS, tuple(0.6 * v for v in GRASS[:2]) + (GRASS[2] * 0.9,), 4),  # visible darkens
    (GRASS, GRASS, 0),
]


def test_classify__classes_of_typical_changes():
    before = _ds(_pixels([c[0] for c in CASES]))
    after = _ds(_pixels([c[1] for c in CASES]))
    out = classify(cva(before, after), threshold=4.0)
    np.testing.assert_array_equal(out.values[0], [c[2] for c in CASES])
    assert out.dtype == np.uint8 and out.name == "change_class"
    assert out.attrs["flag_values"] == list(CHANGE_CLASSES)
    assert len(out.attrs["flag_meanings"].split()) == len(CHANGE_CLASSES)
    assert out.attrs["threshold"] == 4.0 and out.attrs["threshold_method"] == "fixed"
    assert out.rio.crs == before.rio.crs
    assert {0, 1, 2, 3, 4, 254, 255} <= set(CHANGE_CLASSES)


def test_classify__flooding_with_other_band_lists():
    # green + NIR only (no red): new water still found
    gn = ("B03", "B08")
    before = _ds(_pixels([(GRASS[0], GRASS[2]), (SOIL[0], SOIL[2])], bands=gn))
    after = _ds(_pixels([(TURBID[0], TURBID[2]), (CLOUD[0], CLOUD[2])], bands=gn))
    np.testing.assert_array_equal(classify(cva(before, after), threshold=4).values[0], [1, 3])
    # green, B8A and SWIR: SWIR tells flooding (falls) from bare soil exposure (rises)
    bands = ("B03", "B8A", "B11")
    before = _ds(_pixels([(0.075, 0.325, 0.24), (0.07, 0.415, 0.21)], bands=bands))
    after = _ds(_pixels([(0.115, 0.06, 0.018), (0.11, 0.24, 0.31)], bands=bands))
    np.testing.assert_array_equal(classify(cva(before, after), threshold=4).values[0], [1, 2])
    # no green/NIR: only magnitude and direction (brightening or other)
    bands = ("B02", "B12")
    before = _ds(_pixels([(0.04, 0.14), (0.04, 0.14), (0.04, 0.14)], bands=bands))
    after = _ds(_pixels([(0.5, 0.3), (0.04, 0.01), (0.04, 0.14)], bands=bands))
    np.testing.assert_array_equal(classify(cva(before, after), threshold=4).values[0], [3, 4, 0])


def test_classify__automatic_threshold_recorded_and_errors():
    rng = np.random.default_rng(2)
    n = 60
    before = {b: rng.normal(v, 0.006, (n, n)) for b, v in zip(BANDS3, GRASS)}
    after = {b: rng.normal(v, 0.006, (n, n)) for b, v in zip(BANDS3, GRASS)}
    for i, b in enumerate(BANDS3):
        after[b][:, :10] = rng.normal(TURBID[i], 0.006, (n, 10))
    out = cva(_ds(before), _ds(after))
    for method in THRESHOLD_METHODS:
        classes = classify(out, method=method)
        assert classes.attrs["threshold_method"] == method
        assert 2.0 < classes.attrs["threshold"] < 20.0
        assert (classes.values[:, :10] == 1).all() and (classes.values[:, 10:] == 0).mean() > 0.99
    with pytest.raises(ThresholdError):
        classify(out, method="bogus")
    with pytest.raises(ThresholdError):
        classify(out, threshold=-1)
    with pytest.raises(BandError):
        classify(out[["masked"]])


# --- the simulated scene (truth) ----------------------------------------------------------

WINDOW = (288480.0, 6268540.0, 291480.0, 6271540.0)  # 3 km: flood, river, clouds on 25 March


@pytest.fixture(scope="module")
def window_scene():
    from eolab.samples import simulate_flood_scene

    scene = simulate_flood_scene(window=WINDOW, bands=BANDS3)
    ny, nx = scene.shape(20)
    t = scene.transform(20)

    def dataset(date: str) -> xr.Dataset:  # what open_l2a gives at 20 m (2 x 2 means)
        values = {b: scene.noisy[date][b].reshape(ny, 2, nx, 2).mean(axis=(1, 3)) for b in BANDS3}
        values["SCL"] = scene.scl[date]
        return _ds(values, x0=t.c, y0=t.f, date=date)

    return scene, dataset(scene.dates[0]), dataset(scene.dates[1])


def _iou(pred: np.ndarray, truth: np.ndarray, where: np.ndarray) -> float:
    return float((pred & truth & where).sum() / ((pred | truth) & where).sum())


def test_scene_window__flood_clouds_and_permanent_water_against_truth(window_scene):
    scene, before, after = window_scene
    out = cva(before, after)
    clear = out["magnitude"].notnull().values
    clouds = (scene.clouds[scene.dates[0]] > 0) | (scene.clouds[scene.dates[1]] > 0)
    assert scene.clouds[scene.dates[1]].any()
    for method in ("ki", "em"):
        classes = classify(out, method=method).values
        assert _iou(classes == 1, scene.flood, clear) >= 0.9, method
        np.testing.assert_array_equal(classes == 254, clouds)  # cloud/shadow/cirrus → 254
        inner_water = ndimage.binary_erosion(scene.permanent_water, np.ones((3, 3)))
        assert inner_water.sum() > 50 and not (classes == 1)[inner_water].any()


def test_scene_window__no_silent_zeros_when_all_cloud(window_scene):
    _, before, after = window_scene
    cloudy = after.assign(SCL=xr.full_like(after["SCL"], 9.0))
    with pytest.raises(ProductError):
        cva(before, cloudy)


@pytest.mark.slow
def test_scene__flood_class_iou_on_the_tutorial_aoi(samples_dir):
    """The full simulated scene through the reader (B3, B4, B8 at 20 m, tutorial AOI).

    Measured (seed 2021): thresholds Otsu 11.8, KI 4.4, EM 3.9 (%); flood IoU on
    clear pixels 0.852, 0.937, 0.942; the tutorial's fixed 4: 0.941.
    """
    from eolab.aoi import TUTORIAL_AOI_WKT
    from eolab.io.sentinel2 import open_l2a
    from eolab.tutorial import S2_AFTER, S2_BEFORE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the AOI reaches beyond the tile: clipped
        before, after = (open_l2a(samples_dir / f"{name}.zip", bands=["B3", "B4", "B8", "SCL"],
                                  resolution=20, aoi=TUTORIAL_AOI_WKT)
                         for name in (S2_BEFORE, S2_AFTER))
    out = cva(before, after)
    assert isinstance(out["magnitude"].data, darr.Array)
    out = out.compute()

    def truth(name: str) -> np.ndarray:
        with rasterio.open(samples_dir / name) as src:
            win = from_bounds(*out.rio.bounds(), transform=src.transform)
            return src.read(1, window=win.round_offsets().round_lengths()) == 1

    flood, water = truth("flood_truth.tif"), truth("permanent_water_truth.tif")
    with rasterio.open(samples_dir / "cloud_truth_20210325.tif") as src:
        win = from_bounds(*out.rio.bounds(), transform=src.transform)
        cloud2 = src.read(1, window=win.round_offsets().round_lengths()) > 0
    assert flood.shape == out["magnitude"].shape
    clear = out["magnitude"].notnull().values
    ious = {}
    for method in (*THRESHOLD_METHODS, 4.0):
        kw = {"threshold": method} if isinstance(method, float) else {"method": method}
        classes = classify(out, **kw).values
        ious[method] = _iou(classes == 1, flood, clear)
        assert (classes[cloud2 & ~np.isnan(before["B03"].values)] == 254).all()
        inner_water = ndimage.binary_erosion(water, np.ones((3, 3)))
        assert not (classes == 1)[inner_water].any()
    assert ious["ki"] >= 0.85 and ious["em"] >= 0.85 and ious[4.0] >= 0.85, ious


def test_scene_window__rasters_as_the_s2cd_service_writes_them(window_scene, tmp_path):
    """The two outputs of `eolab S2-CD`: CVA (magnitude, angle; float32) and classes (byte)."""
    from eolab.change import CHANGE_COLORS
    from eolab.io.rasters import write_geotiff

    _, before, after = window_scene
    out = cva(before, after)
    classes = classify(out, method="ki")
    cva_path = write_geotiff(out[["magnitude", "direction"]], tmp_path / "cva.tif")
    tags = {k: str(classes.attrs[k]) for k in ("flag_values", "flag_meanings", "classes",
                                               "threshold", "threshold_method")}
    cd_path = write_geotiff(classes, tmp_path / "cd.tif", tags=tags, colormap=CHANGE_COLORS)
    with rasterio.open(cva_path) as src:
        assert src.count == 2 and src.dtypes == ("float32", "float32")
        np.testing.assert_array_equal(src.read(1), out["magnitude"].values)
    with rasterio.open(cd_path) as src:
        assert src.dtypes == ("uint8",) and src.nodata == 255
        assert src.tags()["flag_meanings"].split()[1] == "flooding"
        assert float(src.tags()["threshold"]) == classes.attrs["threshold"]
        np.testing.assert_array_equal(src.read(1), classes.values)


def test_cut_to_common__half_pixel_centres_never_collide():
    """Centres at (k + 0.5) * 20 m: rounding halves to even once mapped two pixels to one."""
    from eolab._cva_grid import _cut_to_common

    def grid(x0, n):
        xs = x0 + 20 * (np.arange(n) + 0.5)
        ys = 6e6 - 20 * (np.arange(3) + 0.5)
        return xr.Dataset({"a": (("y", "x"), np.zeros((3, n)))}, coords={"x": xs, "y": ys})

    a, b = _cut_to_common(grid(0.0, 10), grid(40.0, 10))
    assert a.sizes["x"] == b.sizes["x"] == 8
    np.testing.assert_array_equal(a.x.values, b.x.values)
    np.testing.assert_array_equal(a.x.values, 50.0 + 20 * np.arange(8))
