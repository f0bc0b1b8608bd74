"""Pixel-wise crop classification of a monthly composite cube, chunk by chunk.

:func:`classify_cube` turns the ``(month, band, y, x)`` composites of
:func:`eolab.crop.composites.monthly` into a class map and class
probabilities with a :class:`~eolab.crop.model.CropClassifier`. Pixels are
classified in chunks of rows (a few hundred thousand pixel sequences at a
time), so the memory used beyond the input and the outputs is bounded by the
chunk size, whatever the scene's size.

A pixel without any valid observation (every month gap-filled, or NaN) gets
the no-data class :data:`NODATA` and probability 0 for every class: the
model is never asked to guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab.errors import CubeMismatchError

__all__ = ["NODATA", "classify_cube"]

#: Class value of pixels without valid data.
NODATA = 255


def _values(composites: xr.Dataset | xr.DataArray, variable: str | None) -> xr.DataArray:
    if isinstance(composites, xr.DataArray):
        return composites
    names = [variable] if variable else [n for n in composites.data_vars
                                         if {"month", "band"} <= set(composites[n].dims)]
    if len(names) != 1 or names[0] not in composites:
        raise CubeMismatchError(f"cannot tell which variable holds the composites among "
                                f"{list(composites.data_vars)}; pass variable=")
    return composites[names[0]]


def _valid(block: np.ndarray, filled: np.ndarray | None) -> np.ndarray:
    """``(y, x)``: True where a pixel has a month with a real (not filled) finite value.

    ``block`` is ``(y, x, month, band)``, ``filled`` ``(y, x, month)`` or None.
    """
    seen = np.isfinite(block).any(axis=3)
    if filled is not None:
        seen &= ~filled
    return seen.any(axis=2)


def classify_cube(
    composites: xr.Dataset | xr.DataArray,
    model: Any,
    *,
    bands: Sequence[str] | None = None,
    variable: str | None = None,
    chunk: int = 65_536,
    probability: str = "all",
    device: str = "cpu",
    progress: bool = True,
) -> xr.Dataset:
    """Classify every pixel of a monthly composite cube.

    Parameters
    ----------
    composites
        :func:`eolab.crop.composites.monthly`'s Dataset (the composite
        variable with dims ``(month, band, y, x)`` and ``filled``) or the
        composite DataArray alone. NaN marks a missing value.
    model
        A :class:`~eolab.crop.model.CropClassifier` (``labels``, ``bands``,
        ``n_steps``, ``predict_proba``).
    bands
        Bands of the cube to use, by name and in this order (e.g.
        ``model.bands`` to drop a cube's extra B08). Default: all the cube's
        bands as they are, which must then be exactly the model's bands in the
        model's order.
    variable
        Name of the composite variable of a Dataset (default: the one with
        ``month`` and ``band`` dims).
    chunk
        Pixels classified at once (memory grows linearly with it: about
        ``chunk × (months × bands + classes) × 8`` bytes).
    probability
        ``"all"``: ``probability`` holds every class, ``(class, y, x)``
        float32 (4 bytes × classes per pixel); ``"max"``: only the winning
        class's probability, ``(y, x)``, for scenes where classes × pixels
        would not fit in memory.
    device
        Inference device (``"cpu"``, ``"cuda"``, ``"auto"``).
    progress
        tqdm progress bar over chunks.

    Returns
    -------
    xarray.Dataset
        ``crop_class`` (uint8 ``(y, x)``, the model's labels, :data:`NODATA`
        where a pixel has no valid month), ``probability`` (float32, see
        ``probability``; 0 at no-data pixels) and ``valid`` (bool ``(y, x)``),
        with the input's CRS and coordinates.

    Raises
    ------
    CubeMismatchError
        The cube lacks the ``month``/``band``/``y``/``x`` dims or a requested
        band, or its bands, band order or number of months differ from the
        model's.
    """
    from tqdm.auto import tqdm

    if probability not in ("all", "max"):
        raise CubeMismatchError(f"probability must be 'all' or 'max', got {probability!r}")
    if chunk < 1:
        raise CubeMismatchError(f"chunk must be >= 1 pixel, got {chunk}")
    values = _values(composites, variable)
    missing = {"month", "band", "y", "x"} - set(values.dims)
    if missing or values.ndim != 4:
        raise CubeMismatchError(f"composites must have dims (month, band, y, x), got "
                                f"{values.dims}")
    if bands is not None:
        absent = [b for b in bands if b not in values["band"].values]
        if absent:
            raise CubeMismatchError(f"the cube lacks band(s) {absent}; it has "
                                    f"{[str(b) for b in values['band'].values]}")
        values = values.sel(band=list(bands))
    names = tuple(str(b) for b in values["band"].values)
    if names != tuple(model.bands):
        raise CubeMismatchError(f"the cube's bands {list(names)} do not match the model's "
                                f"{list(model.bands)} (names and order); pass "
                                "bands=model.bands to select and reorder them by name")
    if values.sizes["month"] != model.n_steps:
        raise CubeMismatchError(f"the cube has {values.sizes['month']} months, the model was "
                                f"trained on {model.n_steps} steps")
    labels = np.asarray(model.labels)
    if labels.min() < 0 or labels.max() >= NODATA:
        raise CubeMismatchError(f"class labels must be 0-{NODATA - 1} for a uint8 map, "
                                f"got {labels.min()}..{labels.max()}")
    values = values.transpose("y", "x", "month", "band")
    filled = None
    if isinstance(composites, xr.Dataset) and "filled" in composites:
        filled = composites["filled"].astype(bool).transpose("y", "x", "month")
    ny, nx = int(values.sizes["y"]), int(values.sizes["x"])
    valid = np.zeros((ny, nx), dtype=bool)
    n_cls = labels.size
    crop = np.full((ny, nx), NODATA, dtype=np.uint8)
    proba = (np.zeros((n_cls, ny, nx), dtype=np.float32) if probability == "all"
             else np.zeros((ny, nx), dtype=np.float32))
    rows = max(1, chunk // max(nx, 1))
    for r0 in tqdm(range(0, ny, rows), desc="classify", unit="chunk", disable=not progress):
        r1 = min(ny, r0 + rows)
        block = np.asarray(values.isel(y=slice(r0, r1)).values, dtype=np.float32)
        fill = None if filled is None else np.asarray(filled.isel(y=slice(r0, r1)).values)
        ok = valid[r0:r1] = _valid(block, fill)
        if not ok.any():
            continue
        every = bool(ok.all())                             # the usual case: no gather
        seq = block.reshape(-1, *block.shape[2:]) if every else block[ok]  # (n, month, band)
        p = model.predict_proba(seq, bands=names, device=device)
        best = p.argmax(axis=1)
        top = p[np.arange(p.shape[0]), best]
        if every:
            crop[r0:r1] = labels[best].astype(np.uint8).reshape(r1 - r0, nx)
            if probability == "all":
                proba[:, r0:r1] = p.T.reshape(n_cls, r1 - r0, nx)
            else:
                proba[r0:r1] = top.reshape(r1 - r0, nx)
            continue
        crop[r0:r1][ok] = labels[best].astype(np.uint8)
        if probability == "all":
            for k in range(n_cls):
                proba[k, r0:r1][ok] = p[:, k]
        else:
            proba[r0:r1][ok] = top
    coords = {"y": values["y"], "x": values["x"]}
    crop_da = xr.DataArray(crop, dims=("y", "x"), coords=coords, name="crop_class", attrs={
        "long_name": "crop class (TimeSen2Crop id)", "units": "1", "_FillValue": NODATA,
        "flag_values": labels.astype(int).tolist()})
    if probability == "all":
        proba_da = xr.DataArray(proba, dims=("class", "y", "x"),
                                coords={"class": labels, **coords}, name="probability",
                                attrs={"long_name": "class probability", "units": "1"})
    else:
        proba_da = xr.DataArray(proba, dims=("y", "x"), coords=coords, name="probability",
                                attrs={"long_name": "probability of the predicted class",
                                       "units": "1"})
    ds = xr.Dataset({"crop_class": crop_da, "probability": proba_da,
                     "valid": xr.DataArray(valid, dims=("y", "x"), coords=coords, attrs={
                         "long_name": "pixel has at least one month of valid data"})})
    crs = values.rio.crs
    if crs is None and isinstance(composites, xr.Dataset):
        crs = composites.rio.crs
    if crs is not None:
        ds.rio.write_crs(crs, inplace=True)           # no copy of the outputs
    return ds
