"""Raster steps of the flood chain: levels, sieve, level threshold, class selection.

Private module; the public names are re-exported by :mod:`eolab.flood`, whose
docstring tells how each step matches the tutorial's GDAL tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab._sieve_run import sieve_dask, sieve_strips
from eolab.errors import RasterError

__all__ = ["FLOOD_FIELD", "LEVEL_NODATA", "FLOOD_CLASS", "MASKED_CLASS", "NODATA_CLASS",
           "flood_levels", "sieve", "threshold_levels", "select_classes"]

FLOOD_FIELD = "floodLevel"
LEVEL_NODATA = 255          #: no-data value of flood levels (gdal_calc's Byte default)
FLOOD_CLASS = 1             #: S2-CD class "flooding / new water"
MASKED_CLASS = 254          #: S2-CD class "cloud or shadow on either date"
NODATA_CLASS = 255          #: S2-CD class "no data"


def _band1(magnitude: xr.DataArray | xr.Dataset) -> xr.DataArray:
    """The magnitude as a (y, x) DataArray: ``magnitude`` of a Dataset, band 1 of a stack."""
    if isinstance(magnitude, xr.Dataset):
        if "magnitude" not in magnitude.data_vars:
            raise RasterError("the Dataset has no 'magnitude' variable; pass the CVA magnitude "
                              "(eolab.change.cva(...)['magnitude'] or band 1 of the CVA raster)")
        magnitude = magnitude["magnitude"]
    if "band" in magnitude.dims:
        magnitude = magnitude.isel(band=0, drop=True)
    return _check_grid(magnitude, "magnitude")


def _check_grid(da: xr.DataArray, what: str) -> xr.DataArray:
    if set(da.dims) != {"y", "x"}:
        raise RasterError(f"{what} must have dims (y, x), got {da.dims}; select one band first")
    return da.transpose("y", "x")


def _nodata(da: xr.DataArray) -> Any:
    value = da.rio.nodata
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _integer(levels: xr.DataArray, what: str = "levels") -> xr.DataArray:
    levels = _check_grid(levels, what)
    if levels.dtype == bool:
        return levels.astype(np.uint8)
    if not np.issubdtype(levels.dtype, np.integer):
        raise RasterError(f"{what} must hold integers (got {levels.dtype}); make levels with "
                          "flood_levels(magnitude) or round and cast with .astype('uint8')")
    return levels


def _like(values: Any, template: xr.DataArray, name: str, attrs: dict[str, Any],
          nodata: Any) -> xr.DataArray:
    out = xr.DataArray(values, coords=template.coords, dims=template.dims, name=name, attrs=attrs)
    if template.rio.crs is not None:
        out = out.rio.write_crs(template.rio.crs)
    return out.rio.write_nodata(nodata) if nodata is not None else out


def _levels_kernel(values: np.ndarray, *, nodata: Any, nodata_level: int) -> np.ndarray:
    invalid = ~np.isfinite(values)
    if nodata is not None:
        invalid |= values == nodata
    # clip to 0-254, then truncate: the floor of a value >= 0 (NaN and infinities
    # become something in the cast and are overwritten below)
    with np.errstate(invalid="ignore"):
        level = np.clip(values, 0, 254).astype(np.uint8)
    level[invalid] = nodata_level
    return level


def _threshold_kernel(levels: np.ndarray, *, min_level: int) -> np.ndarray:
    return np.where(levels >= min_level, levels, levels.dtype.type(0))


def flood_levels(magnitude: xr.DataArray | xr.Dataset, *,
                 nodata_level: int = LEVEL_NODATA) -> xr.DataArray:
    """Flood levels: the CVA magnitude in percent, rounded down, as bytes.

    Parameters
    ----------
    magnitude
        CVA magnitude in reflectance percent (4 means 0.04): a (y, x)
        DataArray, band 1 of a (band, y, x) CVA raster, or a Dataset with a
        ``magnitude`` variable (:func:`eolab.change.cva`). NaN, infinities
        and the raster's no-data value mark no data.
    nodata_level
        Level of no-data pixels: 255 (:data:`LEVEL_NODATA`, the default)
        keeps them out of the sieve and the polygons; 0 makes them "no
        flood", which is what ``gdal_calc.py`` (GDAL 3.6) writes for a CVA
        band whose no data is NaN (NaN never equals the no-data value, and
        NaN cast to a byte is 0) — the tutorial's chain, see :func:`flood_mask`.

    Returns
    -------
    xr.DataArray
        ``floodLevel``, uint8: ``floor(magnitude)`` clipped to 0–254 (a
        negative magnitude counts as 0), ``nodata_level`` for no data; the
        raster's no-data value is 255 either way; same grid and CRS; lazy
        when the input is.
    """
    if nodata_level not in (0, LEVEL_NODATA):
        raise RasterError(f"nodata_level must be 0 or 255, got {nodata_level!r}")
    mag = _band1(magnitude)
    values = xr.apply_ufunc(_levels_kernel, mag, kwargs={"nodata": _nodata(mag),
                                                         "nodata_level": nodata_level},
                            dask="parallelized", output_dtypes=[np.uint8])
    attrs = {"long_name": "flood level: CVA magnitude in reflectance percent, rounded down",
             "units": "%"}
    return _like(values.data, mag, FLOOD_FIELD, attrs, LEVEL_NODATA)


SIEVE_ENGINES = ("auto", "gdal", "strips")


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def sieve(levels: xr.DataArray, *, size: int = 10, connectivity: int = 4, engine: str = "auto",
          strip_rows: int | None = None, workers: int = 1) -> xr.DataArray:
    """Merge regions smaller than ``size`` pixels into their largest neighbour.

    Exactly ``gdal_sieve.py -st size`` (GDALSieveFilter): regions of equal
    value, 4- or 8-connected, with fewer than ``size`` pixels take the value
    of their largest neighbouring region (among equally large ones, the one
    GDAL's row-by-row scan meets first), in a single pass over the regions
    found in the input. When that neighbour is small too, the region goes
    where the neighbour goes (GDAL follows such chains); a small region with
    no large region in reach, or caught in a cycle of small ones, stays.
    Pixels equal to the raster's no-data value are neither changed nor
    counted as neighbours. :mod:`eolab._sieve` spells the rules out.

    Parameters
    ----------
    levels
        Integer (y, x) raster, e.g. :func:`flood_levels`; numpy- or
        dask-backed.
    size
        Regions with fewer pixels than this are merged (``-st``).
    connectivity
        4 (``gdal_sieve.py -4``, the default) or 8.
    engine
        ``"gdal"``: :func:`rasterio.features.sieve` on the whole band, eager.
        ``"strips"``: the same result computed strip by strip
        (:func:`eolab._sieve_run.sieve_strips`); on a dask-backed raster it is a
        lazy graph (label, stitch, decide and apply tasks per row strip) that
        runs on any dask scheduler, ``dask.distributed`` included.
        ``"auto"`` (default): ``"strips"`` for dask-backed rasters, else
        ``"gdal"`` (faster on one machine).
    strip_rows
        Rows per strip for ``"strips"``: default, the dask chunks' rows, or
        512 rows for a numpy-backed raster. The result does not depend on it.
    workers
        Processes for ``"strips"`` on a numpy-backed raster (forked; the
        labelling holds the GIL, so threads would not help). A dask-backed
        raster runs on the dask scheduler in use instead.

    Returns
    -------
    xr.DataArray
        The sieved levels, same dtype, name, attributes, grid and CRS; lazy
        when the input is dask-backed and the engine is ``"strips"``.
    """
    levels = _integer(levels)
    if connectivity not in (4, 8):
        raise RasterError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if int(size) < 1:
        raise RasterError(f"size must be at least 1 pixel, got {size!r}")
    if engine not in SIEVE_ENGINES:
        raise RasterError(f"engine must be one of {SIEVE_ENGINES}, got {engine!r}")
    if strip_rows is not None and int(strip_rows) < 1:
        raise RasterError(f"strip_rows must be at least 1, got {strip_rows!r}")
    if int(workers) < 1:
        raise RasterError(f"workers must be at least 1, got {workers!r}")
    lazy = _is_dask(levels.data)
    if engine == "auto":
        engine = "strips" if lazy else "gdal"
    dtype = levels.dtype
    work = levels.data if dtype in (np.uint8, np.uint16, np.int16, np.int32) \
        else levels.data.astype(np.int32)
    nodata = _nodata(levels)
    if int(size) >= work.size:   # no region can reach the size: GDAL changes nothing
        out = work if lazy else np.array(work)
    elif engine == "strips" and lazy:
        if strip_rows is not None:
            work = work.rechunk({0: int(strip_rows)})
        out = sieve_dask(work, size=int(size), connectivity=connectivity, nodata=nodata)
        out = out.rechunk(levels.data.chunks)
    elif engine == "strips":
        out = sieve_strips(np.asarray(work), size=int(size), connectivity=connectivity,
                           nodata=nodata, strip_rows=int(strip_rows or 512),
                           workers=int(workers))
    else:
        values = np.asarray(work)
        mask = None if nodata is None else values != nodata
        out = rasterio.features.sieve(values, int(size), mask=mask, connectivity=connectivity)
    out = out.astype(dtype) if _is_dask(out) else np.asarray(out).astype(dtype, copy=False)
    return _like(out, levels, str(levels.name or FLOOD_FIELD), dict(levels.attrs), nodata)


def threshold_levels(levels: xr.DataArray, *, min_level: int = 4) -> xr.DataArray:
    """Set levels below ``min_level`` to 0: ``gdal_calc.py --calc "(A>=4)*A"``.

    No data stays no data (255 is above any threshold, and gdal_calc keeps
    the input's no data). Lazy when the input is.
    """
    levels = _integer(levels)
    kept = xr.apply_ufunc(_threshold_kernel, levels, kwargs={"min_level": min_level},
                          dask="parallelized", output_dtypes=[levels.dtype])
    return _like(kept.data, levels, str(levels.name or FLOOD_FIELD), dict(levels.attrs),
                 _nodata(levels))


def select_classes(levels: xr.DataArray, classes: xr.DataArray, *,
                   keep: Sequence[int] = (FLOOD_CLASS,),
                   drop: Sequence[int] = (MASKED_CLASS, NODATA_CLASS)) -> xr.DataArray:
    """Levels where ``classes`` is in ``keep``, no data where it is in ``drop``, else 0.

    ``classes`` is the S2-CD byte raster (:func:`eolab.change.classify`) on
    the same grid as ``levels``.
    """
    if "band" in classes.dims:
        classes = classes.isel(band=0, drop=True)
    if classes.dtype.kind == "f":          # read with masked=True: NaN is no data
        classes = classes.fillna(NODATA_CLASS).astype(np.uint8)
    levels, classes = _integer(levels), _integer(classes, "classes")
    if levels.shape != classes.shape or not (
            np.allclose(levels.x, classes.x) and np.allclose(levels.y, classes.y)):
        raise RasterError("levels and classes are not on the same grid; bring the classes onto "
                          "it first, e.g. classes.rio.reproject_match(levels, resampling="
                          "Resampling.nearest)")
    nodata = _nodata(levels)
    nodata = LEVEL_NODATA if nodata is None else nodata
    out = xr.where(classes.isin(list(keep)), levels, 0)
    out = xr.where(classes.isin(list(drop)), nodata, out).astype(levels.dtype)
    return _like(out.data, levels, str(levels.name or FLOOD_FIELD), dict(levels.attrs), nodata)
