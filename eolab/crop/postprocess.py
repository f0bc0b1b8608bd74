"""Post-processing of a crop class map: parcel majority vote, modal filter, GeoTIFF.

Pixel-wise classification is noisy inside fields (mixed pixels at borders,
residual clouds, within-field variability). Two standard remedies:

* :func:`parcel_majority`: where the parcels are known, every pixel of a
  parcel takes the parcel's most frequent valid class (ties broken by the
  class probability summed over the parcel);
* :func:`modal_filter`: without parcels, every pixel takes the most
  frequent valid class of a square window around it.

Both keep the no-data class (:data:`eolab.crop.predict.NODATA`) where it
was, and never let it win a vote. :func:`write_crop_map` writes the map as a
byte GeoTIFF with a colour table and the TimeSen2Crop class names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab.crop.predict import NODATA
from eolab.errors import CRSError, RasterError

__all__ = ["CLASS_COLORS", "modal_filter", "parcel_labels", "parcel_majority",
           "rasterize_parcels", "write_crop_map"]

#: RGB colour of each TimeSen2Crop class id in the crop map's colour table.
CLASS_COLORS: dict[int, tuple[int, int, int]] = {
    0: (166, 86, 40), 1: (120, 200, 90), 2: (255, 215, 0), 3: (160, 100, 160),
    4: (255, 140, 0), 5: (190, 190, 60), 6: (100, 150, 230), 7: (240, 240, 240),
    8: (140, 110, 200), 9: (250, 250, 80), 10: (220, 60, 120), 11: (180, 220, 240),
    12: (30, 80, 200), 13: (70, 200, 200), 14: (20, 110, 40), 15: (150, 150, 150),
}


def rasterize_parcels(parcels: Any, like: xr.DataArray | xr.Dataset, *,
                      all_touched: bool = False) -> xr.DataArray:
    """Parcel number of every pixel of ``like``'s grid: ``i + 1`` for row ``i``, 0 outside.

    Parameters
    ----------
    parcels
        GeoDataFrame of polygons (reprojected to ``like``'s CRS if needed).
    like
        Raster with ``y``/``x`` coordinates and a CRS.
    all_touched
        Burn every pixel a polygon touches (default: pixel centres inside).
        Where parcels overlap, the later row wins.

    Raises
    ------
    CRSError
        ``like`` or the parcels have no CRS.
    """
    from rasterio import features

    crs = like.rio.crs
    if crs is None:
        raise CRSError("the raster has no CRS: cannot place the parcels on it")
    if parcels.crs is None:
        raise CRSError("the parcels have no CRS")
    shapes = parcels.geometry.to_crs(crs)
    ny, nx = int(like.sizes["y"]), int(like.sizes["x"])
    ids = features.rasterize(
        ((g, i + 1) for i, g in enumerate(shapes) if g is not None and not g.is_empty),
        out_shape=(ny, nx), transform=like.rio.transform(recalc=True), fill=0,
        all_touched=all_touched, dtype="int32")
    return xr.DataArray(ids, dims=("y", "x"), coords={"y": like["y"], "x": like["x"]},
                        name="parcel", attrs={"long_name": "parcel number (row + 1), 0 outside"})


def _vote(ids: np.ndarray, classes: np.ndarray, n_parcels: int, n_classes: int,
          tie: np.ndarray | None) -> np.ndarray:
    """Winning class index per parcel (0..n), -1 where a parcel has no valid pixel."""
    counts = np.bincount(ids * n_classes + classes, minlength=(n_parcels + 1) * n_classes)
    counts = counts.reshape(n_parcels + 1, n_classes).astype(np.float64)
    if tie is not None:                          # tie-break in (0, 1): never beats a count
        scaled = tie / (tie.max(axis=1, keepdims=True) + 1.0 + 1e-9)
        counts = counts + np.where(counts > 0, scaled * 0.999, 0.0)
    best = counts.argmax(axis=1)
    best[counts.max(axis=1) <= 0] = -1
    return best


def parcel_majority(result: xr.Dataset | xr.DataArray, parcels: Any, *,
                    nodata: int = NODATA, outside: str = "keep",
                    all_touched: bool = False) -> xr.DataArray:
    """Majority vote of the valid pixel classes within each parcel.

    Parameters
    ----------
    result
        :func:`eolab.crop.predict.classify_cube`'s Dataset (``crop_class``
        and ``probability``), or a class map DataArray (ties then go to the
        smaller class).
    parcels
        GeoDataFrame of parcel polygons.
    nodata
        The no-data class: never voted for, and kept at its pixels.
    outside
        ``"keep"``: pixels outside every parcel keep their class;
        ``"nodata"``: they become no-data.
    all_touched
        Passed to :func:`rasterize_parcels`.

    Returns
    -------
    xarray.DataArray
        ``crop_class`` (uint8 ``(y, x)``) after the vote. A parcel with no
        valid pixel stays no-data.

    Notes
    -----
    Ties between equally frequent classes go to the class with the larger
    probability summed over the parcel's valid pixels (``probability`` of
    shape ``(class, y, x)``), or over the pixels that voted for it (a
    ``(y, x)`` max-probability layer).
    """
    if outside not in ("keep", "nodata"):
        raise RasterError(f"outside must be 'keep' or 'nodata', got {outside!r}")
    crop = result["crop_class"] if isinstance(result, xr.Dataset) else result
    ids = rasterize_parcels(parcels, crop, all_touched=all_touched).values
    cls = np.asarray(crop.values)
    valid = cls != nodata
    labels = np.unique(cls[valid])
    out = cls.copy()
    if outside == "nodata":
        out[ids == 0] = nodata
    if labels.size == 0:
        return crop.copy(data=out)
    index = np.searchsorted(labels, cls[valid])
    pid = ids[valid]
    n_parcels, n_cls = len(parcels), labels.size
    tie = None
    if isinstance(result, xr.Dataset) and "probability" in result:
        prob = result["probability"]
        tie = np.zeros((n_parcels + 1, n_cls))
        if "class" in prob.dims:
            pv = prob.transpose("class", "y", "x").values
            prob_labels = np.asarray(prob["class"].values)
            for j, lab in enumerate(labels):
                k = np.flatnonzero(prob_labels == lab)
                if k.size:
                    tie[:, j] = np.bincount(pid, weights=pv[k[0]][valid], minlength=n_parcels + 1)
        else:
            w = prob.values[valid].astype(np.float64)
            tie = np.bincount(pid * n_cls + index, weights=w,
                              minlength=(n_parcels + 1) * n_cls).reshape(n_parcels + 1, n_cls)
    best = _vote(pid, index, n_parcels, n_cls, tie)
    winner = np.where(best >= 0, labels[np.maximum(best, 0)], nodata).astype(cls.dtype)
    inside = (ids > 0) & valid
    out[inside] = winner[ids[inside]]
    return crop.copy(data=out).rename("crop_class")


def parcel_labels(crop: xr.DataArray, ids: xr.DataArray, *, nodata: int = NODATA) -> np.ndarray:
    """The most frequent valid class of each parcel (ties: smaller class), for parcel accuracy.

    Parameters
    ----------
    crop
        Class map ``(y, x)``.
    ids
        :func:`rasterize_parcels` of the parcels on the same grid.

    Returns
    -------
    numpy.ndarray
        One class per parcel row, ``nodata`` for parcels without a valid pixel.
    """
    cls, pid = np.asarray(crop.values), np.asarray(ids.values)
    if cls.shape != pid.shape:
        raise RasterError(f"class map {cls.shape} and parcel raster {pid.shape} differ in shape")
    n_parcels = int(pid.max()) if pid.size else 0
    valid = cls != nodata
    labels = np.unique(cls[valid])
    if labels.size == 0:
        return np.full(n_parcels, nodata, dtype=cls.dtype)
    best = _vote(pid[valid], np.searchsorted(labels, cls[valid]), n_parcels, labels.size, None)
    return np.where(best >= 0, labels[np.maximum(best, 0)], nodata).astype(cls.dtype)[1:]


def modal_filter(crop: xr.DataArray, *, size: int = 3, nodata: int = NODATA) -> xr.DataArray:
    """Most frequent valid class in a ``size × size`` window around every pixel.

    No-data pixels stay no-data and are not counted. A tie keeps the centre
    pixel's class when it is among the tied classes, else the smaller class.
    The window is cut at the raster's edges.

    Raises
    ------
    RasterError
        ``size`` is not an odd integer >= 1.
    """
    from scipy import ndimage

    if int(size) != size or size < 1 or size % 2 == 0:
        raise RasterError(f"the modal filter window must be an odd number of pixels, got {size}")
    cls = np.asarray(crop.values)
    valid = cls != nodata
    best_count = np.full(cls.shape, -1.0, dtype=np.float32)
    best = cls.copy()
    for lab in np.unique(cls[valid]):
        own = cls == lab
        count = np.rint(ndimage.uniform_filter(own.astype(np.float32), size=size,
                                               mode="constant") * size * size)
        count += 0.5 * own                      # the centre's class wins ties
        better = count > best_count
        best[better] = lab
        best_count[better] = count[better]
    best[~valid] = nodata
    return crop.copy(data=best.astype(cls.dtype)).rename("crop_class")


def write_crop_map(crop: xr.DataArray, path: str | os.PathLike[str], *,
                   labels: Sequence[int] | None = None,
                   names: Mapping[int, str] | None = None, nodata: int = NODATA) -> Path:
    """Write a class map as a byte GeoTIFF with a colour table and class names, atomically.

    Parameters
    ----------
    crop
        Class map ``(y, x)`` with a CRS (values 0–254, ``nodata``).
    path
        Output GeoTIFF.
    labels
        Classes to name in the metadata (default: those in the map).
    names
        Class names (default: TimeSen2Crop's,
        :data:`eolab.crop.dataset.CLASS_NAMES`).
    nodata
        No-data value (transparent in the colour table).

    The tags hold ``CLASS_<id>=<name>`` per class, ``class_names`` (JSON
    ``{id: name}``) and ``nodata_class``.
    """
    from eolab.crop.dataset import CLASS_NAMES
    from eolab.io.rasters import write_geotiff

    if crop.rio.crs is None:
        raise CRSError("the crop map has no CRS; use .rio.write_crs(...) first")
    values = np.asarray(crop.values)
    named = names if names is not None else CLASS_NAMES
    present = sorted({int(v) for v in np.unique(values) if v != nodata})
    wanted = sorted({int(v) for v in labels}) if labels is not None else present
    cmap: dict[int, tuple[int, int, int, int]] = {v: (0, 0, 0, 0) for v in range(256)}
    for v in range(256):
        if v != nodata and v in CLASS_COLORS:
            cmap[v] = (*CLASS_COLORS[v], 255)
    text = {v: str(named.get(v, f"class {v}")) for v in sorted(set(wanted) | set(present))}
    tags = {f"CLASS_{v}": n for v, n in text.items()}
    tags["class_names"] = json.dumps({str(v): n for v, n in text.items()})
    tags["nodata_class"] = str(nodata)
    da = xr.DataArray(values.astype(np.uint8), dims=("y", "x"),
                      coords={"y": crop["y"], "x": crop["x"]}, name="crop_class",
                      attrs={"long_name": "crop class (TimeSen2Crop id)", "units": "1"})
    da = da.rio.write_crs(crop.rio.crs)
    return write_geotiff(da, path, nodata=nodata, dtype=np.uint8, tags=tags, colormap=cmap)
