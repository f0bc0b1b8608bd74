"""Scores of eolab's masks on public labelled datasets, next to a naive baseline.

Readers for three public layouts, and the scores the issue asks for:

* **Sen1Floods11** (Bonafilia et al. 2020), hand-labelled chips: Sentinel-2
  L1C ``<chip>_S2Hand.tif`` (13 bands, TOA × 10 000) and
  ``<chip>_LabelHand.tif`` (1 water, 0 not, −1 no data). Scored: water IoU of
  :func:`eolab.water.water_mask` against MNDWI with Otsu's threshold.
* **OMBRIA** (Drakonakis et al. 2022) Sentinel-2 test split: 256 × 256 8-bit
  three-band PNG triplets ``S2_{before,after,mask}_NNNN.png`` with Copernicus
  EMS flood masks (255 flood). Scored: pooled flood IoU of
  :func:`eolab.water.flood_change_mask` against the CVA magnitude with Otsu.
* **OSCD** (Caye Daudt et al. 2018): six labelled cities, L1C band GeoTIFFs
  per date (``imgs_1``, ``imgs_2``) and ``<city>-cm.tif`` (2 change, 1 not).
  Scored: pooled change F1 of :func:`eolab.change.classify` (any change
  class) against the CVA magnitude with Otsu.

"Pooled" sums true and false positives over all chips or cities before the
ratio. Nothing here is fitted to the labels: they only score.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr

from eolab._thresholds import auto_threshold
from eolab.change import classify, cva
from eolab.errors import ProductError, ThresholdError
from eolab.water import flood_change_mask, water_index, water_mask

__all__ = ["OSCD_CITIES", "S2_L1C_BANDS", "ombria_pairs", "oscd_pair", "pooled_scores",
           "score_ombria", "score_oscd", "score_sen1floods11", "sen1floods11_chip",
           "score_sen1floods11_s1", "ombria_s1_pairs", "score_ombria_s1"]

S2_L1C_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
                "B11", "B12")
OSCD_CITIES = ("aguasclaras", "bercy", "bordeaux", "nantes", "paris", "rennes")


def pooled_scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    """IoU, F1, precision and recall of pooled counts (NaN for a zero denominator)."""
    def ratio(a: float, b: float) -> float:
        return float(a) / float(b) if b else float("nan")

    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "iou": ratio(tp, tp + fp + fn),
            "f1": ratio(2 * tp, 2 * tp + fp + fn), "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn)}


def _counts(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    pred, truth = pred & valid, truth & valid
    return np.array([np.count_nonzero(pred & truth), np.count_nonzero(pred & ~truth),
                     np.count_nonzero(~pred & truth)])


def _read(path: Path) -> xr.DataArray:
    import rioxarray

    if not path.exists():
        raise ProductError(f"{path} not found")
    return rioxarray.open_rasterio(path).load()


# --- Sen1Floods11 -------------------------------------------------------------------------------

def sen1floods11_chip(root: str | os.PathLike[str], chip: str = "Spain_7370579"
                      ) -> tuple[xr.Dataset, xr.DataArray]:
    """Reflectance Dataset (B01…B12, 0–1) and label (1 water, 0 not, −1 no data) of a chip."""
    root = Path(root)
    s2 = _read(root / f"{chip}_S2Hand.tif")
    if s2.sizes["band"] != len(S2_L1C_BANDS):
        raise ProductError(f"{chip}_S2Hand.tif has {s2.sizes['band']} bands, expected 13")
    reflectance = s2.astype(np.float32).where(s2 != 0) / 10_000.0
    ds = xr.Dataset({b: reflectance.isel(band=i, drop=True) for i, b in enumerate(S2_L1C_BANDS)})
    label = _read(root / f"{chip}_LabelHand.tif").isel(band=0, drop=True).rename("water_label")
    return ds.rio.write_crs(s2.rio.crs), label


def score_sen1floods11(root: str | os.PathLike[str], *, chip: str = "Spain_7370579",
                       index: str = "awei_sh", method: str = "ki") -> dict[str, Any]:
    """Water IoU of :func:`water_mask` and of the baseline (MNDWI, Otsu) on one chip."""
    ds, label = sen1floods11_chip(root, chip)
    valid, truth = label.values >= 0, label.values == 1
    ours = water_mask(ds, index=index, method=method)
    mndwi = water_index(ds, index="mndwi")
    base = mndwi.values >= auto_threshold(mndwi, method="otsu")
    return {"dataset": "sen1floods11", "chip": chip, "index": index, "method": method,
            "threshold": ours.attrs["threshold"],
            "eolab": pooled_scores(*_counts(ours.values == 1, truth, valid & (ours.values != 255))),
            "baseline": pooled_scores(*_counts(base, truth, valid)),
            "baseline_name": "MNDWI, Otsu"}


def score_sen1floods11_s1(root: str | os.PathLike[str], *, chip: str = "Spain_7370579",
                          method: str = "ki") -> dict[str, Any]:
    """Water IoU of :func:`eolab.s1.flood.sar_water` on the chip's VV and VH, and of Otsu.

    ``<chip>_S1Hand.tif`` holds VV and VH sigma0 in dB (GRD, terrain corrected).
    """
    from eolab.s1.flood import sar_water

    root = Path(root)
    s1 = _read(root / f"{chip}_S1Hand.tif")
    if s1.sizes["band"] != 2:
        raise ProductError(f"{chip}_S1Hand.tif has {s1.sizes['band']} bands, expected VV and VH")
    label = _read(root / f"{chip}_LabelHand.tif").isel(band=0, drop=True).values
    valid, truth = label >= 0, label == 1
    out: dict[str, Any] = {"dataset": "sen1floods11_s1", "chip": chip, "method": method,
                           "baseline_name": "dB, Otsu"}
    for i, pol in enumerate(("VV", "VH")):
        db = s1.isel(band=i, drop=True).astype(np.float32)
        linear = 10.0 ** (db / 10.0)
        ours = sar_water(linear, method=method)
        base_t = auto_threshold(db, method="otsu")
        ok = valid & np.isfinite(db.values)
        out[pol] = {"threshold_db": ours.attrs["threshold_db"], "baseline_threshold_db": base_t,
                    "eolab": pooled_scores(*_counts(ours.values == 1, truth,
                                                    ok & (ours.values != 255))),
                    "baseline": pooled_scores(*_counts(db.values <= base_t, truth, ok))}
    return out


def ombria_s1_pairs(root: str | os.PathLike[str]
                    ) -> Iterator[tuple[str, xr.DataArray, xr.DataArray, np.ndarray]]:
    """``(id, before, after, flood mask)`` of each OMBRIA S1 test triplet.

    The 8-bit backscatter (scaling undocumented; 0 = no data) is returned as
    a pseudo-linear power ``10^(DN/25.5)``: a DN scaled linearly from dB keeps
    log-ratios proportional to dB differences, and the automatic thresholds
    do not depend on that scale.
    """
    split = Path(root) / "OmbriaS1" / "test"
    befores = sorted((split / "BEFORE").glob("S1_before_*.png"))
    if not befores:
        raise ProductError(f"no S1_before_*.png under {split / 'BEFORE'}")

    def power(values: np.ndarray) -> xr.DataArray:
        v = values.astype(np.float32)
        v = v[..., 0] if v.ndim == 3 else v
        return xr.DataArray(np.where(v > 0, 10.0 ** (v / 25.5), np.nan).astype(np.float32),
                            dims=("y", "x"))

    for path in befores:
        ident = path.stem.rsplit("_", 1)[1]
        after = _png(split / "AFTER" / f"S1_after_{ident}.png")
        mask = _png(split / "MASK" / f"S1_mask_{ident}.png")
        yield ident, power(_png(path)), power(after), mask > 127


def score_ombria_s1(root: str | os.PathLike[str], *, method: str = "ki") -> dict[str, Any]:
    """Pooled flood IoU of :func:`eolab.s1.flood.sar_flood` per chip and of the baseline.

    Baseline: the backscatter difference (after − before) with Otsu's
    threshold, flooded at or below it. Also the IoU of calling every pixel
    flooded, for scale (a third of OMBRIA's pixels are flooded).
    """
    from eolab.s1.flood import log_ratio, sar_flood

    ours, base, every = (np.zeros(3, np.int64) for _ in range(3))
    chips = failed = 0
    for _, before, after, truth in ombria_s1_pairs(root):
        chips += 1
        valid = np.isfinite(before.values) & np.isfinite(after.values)
        try:
            flood = sar_flood(before, after, method=method).values == 1
        except ThresholdError:
            flood, failed = np.zeros(truth.shape, bool), failed + 1
        ours += _counts(flood, truth, valid)
        ratio = log_ratio(before, after).values
        base += _counts(ratio <= auto_threshold(ratio, method="otsu"), truth, valid)
        every += _counts(np.ones(truth.shape, bool), truth, valid)
    return {"dataset": "ombria_s1_test", "chips": chips, "method": method,
            "chips_without_threshold": failed, "eolab": pooled_scores(*ours),
            "baseline": pooled_scores(*base), "all_flooded": pooled_scores(*every),
            "baseline_name": "backscatter difference, Otsu"}


# --- OMBRIA -------------------------------------------------------------------------------------

def _png(path: Path) -> np.ndarray:
    from PIL import Image

    if not path.exists():
        raise ProductError(f"{path} not found")
    with Image.open(path) as img:
        return np.asarray(img)


def _rgb_dataset(values: np.ndarray) -> xr.Dataset:
    """An 8-bit three-band image as a Dataset of unnamed bands scaled to 0–1."""
    scaled = values.astype(np.float32) / 255.0
    return xr.Dataset({f"band{i + 1}": (("y", "x"), scaled[..., i]) for i in range(3)})


def ombria_pairs(root: str | os.PathLike[str]
                 ) -> Iterator[tuple[str, xr.Dataset, xr.Dataset, np.ndarray]]:
    """``(id, before, after, flood mask)`` of each OMBRIA S2 test triplet, in id order."""
    split = Path(root) / "OmbriaS2" / "test"
    befores = sorted((split / "BEFORE").glob("S2_before_*.png"))
    if not befores:
        raise ProductError(f"no S2_before_*.png under {split / 'BEFORE'}")
    for path in befores:
        ident = path.stem.rsplit("_", 1)[1]
        after = _png(split / "AFTER" / f"S2_after_{ident}.png")
        mask = _png(split / "MASK" / f"S2_mask_{ident}.png")
        yield ident, _rgb_dataset(_png(path)), _rgb_dataset(after), mask > 127


def score_ombria(root: str | os.PathLike[str], *, method: str = "ki",
                 scope: str = "chip") -> dict[str, Any]:
    """Pooled flood IoU of :func:`flood_change_mask` and of the baseline (magnitude, Otsu).

    ``scope`` is where each threshold is drawn: ``"chip"`` (each 256 × 256
    chip on its own, as the baseline of the issue) or ``"split"`` (once over
    all chips of the test split, as one would over a whole scene).
    """
    if scope not in ("chip", "split"):
        raise ValueError(f"scope must be 'chip' or 'split', got {scope!r}")
    pairs = [(cva(b, a), m) for _, b, a, m in ombria_pairs(root)]
    ours_t = base_t = None
    if scope == "split":
        probe = [flood_change_mask(c, threshold=0.0) for c, _ in pairs]
        cand = np.concatenate([c["magnitude"].values[p.values == 1] for (c, _), p in
                               zip(pairs, probe, strict=True)])
        ours_t = auto_threshold(cand, method=method)
        base_t = auto_threshold(np.concatenate([c["magnitude"].values.ravel()
                                                for c, _ in pairs]), method="otsu")
    ours, base = np.zeros(3, np.int64), np.zeros(3, np.int64)
    for c, truth in pairs:
        valid = np.ones(truth.shape, bool)
        flood = flood_change_mask(c, method=method, threshold=ours_t)
        ours += _counts(flood.values == 1, truth, valid)
        mag = c["magnitude"].values
        base += _counts(mag >= (auto_threshold(mag, method="otsu") if base_t is None
                                else base_t), truth, valid)
    return {"dataset": "ombria_s2_test", "chips": len(pairs), "method": method, "scope": scope,
            "eolab": pooled_scores(*ours), "baseline": pooled_scores(*base),
            "baseline_name": "CVA magnitude, Otsu"}


# --- OSCD ---------------------------------------------------------------------------------------

def oscd_pair(root: str | os.PathLike[str], city: str, *,
              bands: Sequence[str] = ("B03", "B04", "B08")
              ) -> tuple[xr.Dataset, xr.Dataset, xr.DataArray]:
    """Both dates of an OSCD city as reflectance Datasets (10 m bands), and its change label."""
    root = Path(root)
    dates = []
    for k in (1, 2):
        folder = root / "images" / city / f"imgs_{k}"
        data = {}
        for band in bands:
            found = sorted(folder.glob(f"*_{band}.tif"))
            if not found:
                raise ProductError(f"band {band} of {city} (imgs_{k}) not found in {folder}")
            da = _read(found[0]).isel(band=0, drop=True)
            data[band] = (da.astype(np.float32) / 10_000.0).rio.write_crs(da.rio.crs)
        dates.append(xr.Dataset(data))
    shapes = {tuple(v.shape) for ds in dates for v in ds.data_vars.values()}
    if len(shapes) != 1:
        raise ProductError(f"{city}: bands {list(bands)} differ in size {sorted(shapes)}; use "
                           "10 m bands (B02, B03, B04, B08)")
    label = _read(root / "train_labels" / city / "cm" / f"{city}-cm.tif").isel(band=0, drop=True)
    return dates[0], dates[1], (label == 2).rename("change_label")


def score_oscd(root: str | os.PathLike[str], *, cities: Sequence[str] = OSCD_CITIES,
               method: str = "ki") -> dict[str, Any]:
    """Pooled change F1 of :func:`classify` (any class) and of the baseline (magnitude, Otsu)."""
    ours, base = np.zeros(3, np.int64), np.zeros(3, np.int64)
    per_city = {}
    for city in cities:
        before, after, label = oscd_pair(root, city)
        c = cva(before, after)
        classes = classify(c, method=method).values
        truth = label.values
        valid = classes < 254
        counts = _counts((classes != 0) & valid, truth, valid)
        per_city[city] = pooled_scores(*counts)["f1"]
        ours += counts
        mag = c["magnitude"].values
        base += _counts(mag >= auto_threshold(mag, method="otsu"), truth, np.isfinite(mag))
    return {"dataset": "oscd", "cities": list(cities), "method": method,
            "eolab": pooled_scores(*ours), "baseline": pooled_scores(*base),
            "baseline_name": "CVA magnitude, Otsu", "eolab_f1_per_city": per_city}
