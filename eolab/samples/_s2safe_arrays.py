"""Image data of an L2A product: input checks, coarser band copies, SCL statistics."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from eolab.errors import BandError
from eolab.samples._s2safe_product import BAND_RESOLUTIONS, L2A_BANDS, PRODUCT_BANDS

# --------------------------------------------------------------------------- arrays


def _check_arrays(
    bands: Mapping[str, np.ndarray], scl: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    if not isinstance(bands, Mapping):
        raise TypeError(
            f"bands must be a mapping of band name to array, got {type(bands).__name__}"
        )
    unknown = sorted(set(bands) - set(L2A_BANDS))
    if unknown:
        raise BandError(
            f"unknown L2A band(s) {unknown}; expected exactly {sorted(L2A_BANDS)} "
            "(B10 is not part of L2A products; B08 is spelled 'B08')"
        )
    missing = [name for name in L2A_BANDS if name not in bands]
    if missing:
        raise BandError(f"missing band(s) {missing}; an L2A product needs all of {list(L2A_BANDS)}")

    scl_arr = np.asarray(scl)
    if scl_arr.ndim != 2 or min(scl_arr.shape) == 0:
        raise ValueError(f"scl must be a non-empty 2-D array at 20 m, got shape {scl_arr.shape}")
    if not np.issubdtype(scl_arr.dtype, np.integer):
        raise ValueError(f"scl must hold integer SCL codes 0..11, got dtype {scl_arr.dtype}")
    if scl_arr.size and (scl_arr.min() < 0 or scl_arr.max() > 11):
        raise ValueError(
            f"scl holds codes outside 0..11 (min {scl_arr.min()}, max {scl_arr.max()})"
        )
    h20, w20 = scl_arr.shape
    if h20 % 3 or w20 % 3:
        raise ValueError(
            f"the 20 m grid {scl_arr.shape} must divide by 3 so that the 60 m grid is whole "
            "(the window must be a multiple of 60 m)"
        )
    out: dict[str, np.ndarray] = {}
    for name, (_, res, _) in L2A_BANDS.items():
        arr = np.asarray(bands[name])
        expected = (h20 * 20 // res, w20 * 20 // res)
        if arr.shape != expected:
            raise ValueError(
                f"band {name} is at {res} m and must have shape {expected} to match scl "
                f"{scl_arr.shape} at 20 m; got {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(
                f"band {name} must be float reflectance (about 0..1, NaN = no data), got dtype "
                f"{arr.dtype}; divide digital numbers by 10000 first"
            )
        out[name] = arr
    return out, scl_arr.astype(np.uint8, copy=False)


def _block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor`` x ``factor`` blocks ignoring NaN; NaN where a block has no data."""
    h, w = arr.shape[0] // factor, arr.shape[1] // factor
    values = np.asarray(arr, dtype=np.float64).reshape(h, factor, w, factor)
    nodata = np.isnan(values)
    if not nodata.any():
        return np.asarray(values.sum(axis=3).sum(axis=1) / (factor * factor))
    total = np.where(nodata, 0.0, values).sum(axis=3).sum(axis=1)
    count = factor * factor - nodata.sum(axis=3).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _image_arrays(
    refl: Mapping[str, np.ndarray], scl: np.ndarray
) -> Iterator[tuple[str, int, np.ndarray]]:
    """Yield ``(band, resolution, array)`` for every image file, lazily.

    Coarser versions of a band are block means of its native array;
    SCL at 60 m takes the centre pixel of each 3 x 3 block at 20 m.
    """
    for res, names in PRODUCT_BANDS.items():
        for name in names:
            if name == "SCL":
                yield name, res, scl if res == 20 else scl[1::3, 1::3]
                continue
            native = BAND_RESOLUTIONS[name]
            arr = refl[name]
            yield name, res, arr if res == native else _block_mean(arr, res // native)


def _scl_statistics(scl: np.ndarray) -> dict[int, float]:
    """Percentage of each SCL class; NODATA over all pixels, others over valid ones."""
    counts = np.bincount(scl.ravel(), minlength=12).astype(np.float64)
    total = counts.sum()
    valid = total - counts[0]
    stats = {0: 100.0 * counts[0] / total if total else 0.0}
    for code in range(1, 12):
        stats[code] = 100.0 * counts[code] / valid if valid else 0.0
    return stats
