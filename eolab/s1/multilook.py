"""Multilooking and speckle filtering of SAR intensities and coherence.

Speckle is multiplicative: a single-look intensity is exponentially
distributed about the true sigma0 (standard deviation equal to the mean), so
one pixel says little. Two standard remedies, both here:

* :func:`multilook` averages ``looks = (azimuth, range)`` samples into one
  (equivalent number of looks ≈ their product for uncorrelated samples);
  the output sample ``i`` is centred on input ``L·i + (L − 1)/2``, the
  convention of :func:`eolab.s1.geocode.geocode`'s ``looks``.
* :func:`lee_filter` is the adaptive minimum-mean-square-error filter of
  Lee (1980): in a ``window`` box with mean m and variance v of the
  intensity I, the signal variance is ``v_x = (v − m²·C_u²)/(1 + C_u²)``
  (C_u² = 1/ENL, the speckle's squared variation coefficient), and
  ``Î = m + k·(I − m)`` with ``k = v_x / v`` clipped to 0–1: flat areas are
  averaged over the box, edges and bright points (where v ≫ m²·C_u²) kept.

NaN marks missing samples in both (they are left out of every mean).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from eolab.errors import RasterError

__all__ = ["multilook", "lee_filter", "looks_for"]


def _values(data: Any) -> np.ndarray:
    values = np.asarray(data.values if isinstance(data, xr.DataArray) else data)
    if values.ndim != 2:
        raise RasterError(f"a 2-D (azimuth, range) raster is needed, got shape {values.shape}")
    return values


def multilook(data: Any, looks: tuple[int, int]) -> np.ndarray:
    """Mean of each ``looks = (azimuth, range)`` block of valid samples (float32).

    Trailing lines/samples that do not fill a block are dropped; a block with
    no valid (finite) sample is NaN.
    """
    la, lr = (int(v) for v in looks)
    if la < 1 or lr < 1:
        raise RasterError(f"looks must be positive (azimuth, range) counts, got {looks!r}")
    values = _values(data).astype(np.float32, copy=False)
    if (la, lr) == (1, 1):
        return values.copy()
    nl, ns = values.shape[0] // la, values.shape[1] // lr
    if nl == 0 or ns == 0:
        raise RasterError(f"raster {values.shape} smaller than one {la}×{lr} look")
    block = values[: nl * la, : ns * lr].reshape(nl, la, ns, lr)
    valid = np.isfinite(block)
    total = np.where(valid, block, 0.0).sum(axis=(1, 3), dtype=np.float64)
    count = valid.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def lee_filter(intensity: Any, *, window: int = 5, looks: float = 1.0) -> np.ndarray:
    """Lee (1980) adaptive speckle filter of an intensity image (float32).

    Parameters
    ----------
    intensity
        Linear intensity (sigma0 power), 2-D; NaN = missing.
    window
        Odd box size (pixels).
    looks
        Equivalent number of looks of the input (1 for single-look data,
        about the product of the multilook factors after :func:`multilook`).
    """
    if window < 3 or window % 2 == 0:
        raise RasterError(f"window must be an odd size >= 3, got {window}")
    if not looks > 0:
        raise RasterError(f"looks must be positive, got {looks}")
    values = _values(intensity).astype(np.float64, copy=False)
    valid = np.isfinite(values)
    x = np.where(valid, values, 0.0)
    n = ndimage.uniform_filter(valid.astype(np.float64), window, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = ndimage.uniform_filter(x, window, mode="constant") / n
        var = ndimage.uniform_filter(x * x, window, mode="constant") / n - mean**2
        cu2 = 1.0 / float(looks)
        var_x = np.maximum((var - mean**2 * cu2) / (1.0 + cu2), 0.0)
        k = np.clip(np.where(var > 0, var_x / var, 0.0), 0.0, 1.0)
        out = mean + k * (x - mean)
    return np.where(valid & (n > 0), out, np.nan).astype(np.float32)


def looks_for(resolution: float, *, azimuth_spacing: float, ground_range_spacing: float
              ) -> tuple[int, int]:
    """Multilook factors (azimuth, range) whose cells stay within ``resolution`` metres.

    ``floor(resolution / spacing)`` per axis, at least 1: 20 m from
    Sentinel-1 IW SLC (about 14 m azimuth, 3.7 m ground range) gives (1, 5).
    """
    if not resolution > 0 or not azimuth_spacing > 0 or not ground_range_spacing > 0:
        raise RasterError("resolution and pixel spacings must be positive metres")
    return (max(1, int(np.floor(resolution / azimuth_spacing + 1e-6))),
            max(1, int(np.floor(resolution / ground_range_spacing + 1e-6))))
