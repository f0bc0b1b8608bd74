"""Raster outputs: tiled, compressed GeoTIFF with no-data, band
descriptions and units, written atomically.

Every writer in eolab goes through :func:`write_geotiff` (one file) or the
:func:`atomic_outputs` context manager (several files that must appear
together), so that an error never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling

from eolab.errors import CRSError, OutputError, RasterError

__all__ = ["write_geotiff", "atomic_path", "atomic_outputs", "transform_of", "match_grid"]


def transform_of(da: xr.DataArray | xr.Dataset) -> rasterio.Affine:
    """Affine transform of a regular (y, x) grid from its coordinates."""
    return da.rio.transform(recalc=True)


def match_grid(raster: xr.DataArray, like: xr.DataArray, *, fill: Any = None,
               tolerance: float = 0.01) -> xr.DataArray:
    """``raster`` cropped or padded onto the grid of ``like``, without resampling.

    For two rasters of one CRS and pixel size whose pixel centres coincide
    but whose extents differ, e.g. a truth raster of the whole scene (1725
    rows) and an output clipped to the AOI (1724 rows). Every pixel keeps its
    value; pixels of ``like`` outside ``raster`` get ``fill``.

    Parameters
    ----------
    raster, like
        DataArrays with ``x``/``y`` coordinates (a ``band`` dimension of
        ``raster`` is kept).
    fill
        Value for pixels outside ``raster`` (default: its no-data value,
        else NaN for floats and 0 for integers and booleans).
    tolerance
        Largest allowed misalignment of pixel centres, in pixels.

    Raises
    ------
    CRSError
        The CRSs differ (reproject first: ``raster.rio.reproject_match(like)``).
    RasterError
        Pixel sizes differ or the pixel centres do not coincide, or the
        rasters do not overlap at all.
    """
    for da, what in ((raster, "raster"), (like, "like")):
        if not {"x", "y"} <= set(da.dims):
            raise RasterError(f"{what} needs x and y dimensions, got {da.dims}")
    crs_a, crs_b = raster.rio.crs, like.rio.crs
    if crs_a is not None and crs_b is not None and crs_a != crs_b:
        raise CRSError(f"the rasters are in different CRSs ({crs_a} and {crs_b}); resample "
                       "with raster.rio.reproject_match(like) instead")
    res_a, res_b = raster.rio.resolution(), like.rio.resolution()
    if not np.allclose(res_a, res_b, rtol=1e-6, atol=0):
        raise RasterError(f"pixel sizes differ ({res_a} and {res_b}); resample with "
                          "raster.rio.reproject_match(like) instead")
    step = np.abs(np.asarray(res_b, dtype=float))
    for dim, size in (("x", step[0]), ("y", step[1])):
        offset = (float(raster[dim][0]) - float(like[dim][0])) / size
        if abs(offset - round(offset)) > tolerance:
            raise RasterError(f"pixel centres along {dim} are offset by {offset % 1:.3f} "
                              "pixels; resample with raster.rio.reproject_match(like)")
    inside = raster.x.min() <= like.x.max() and raster.x.max() >= like.x.min() \
        and raster.y.min() <= like.y.max() and raster.y.max() >= like.y.min()
    if not bool(inside):
        raise RasterError("the rasters do not overlap")
    if fill is None:
        nodata = raster.rio.nodata
        fill = nodata if nodata is not None else (
            np.nan if raster.dtype.kind == "f" else False if raster.dtype == bool else 0)
    out = raster.reindex(x=like.x, y=like.y, method="nearest",
                         tolerance=tolerance * float(step.min()), fill_value=fill)
    if raster.dtype.kind in "biu" and np.can_cast(np.min_scalar_type(fill), raster.dtype):
        out = out.astype(raster.dtype)
    out = out.assign_coords(x=like.x, y=like.y)
    if crs_a is not None:
        out = out.rio.write_crs(crs_a)
    return out


def _default_file_mode() -> int:
    """Mode of a new file under the current umask (temp files start at 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it there on success.

    On any exception the temporary file is removed and ``path`` is left as it
    was (absent, or its previous content).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class _Staging:
    """Collects files written into a staging folder; see :func:`atomic_outputs`."""

    def __init__(self, staging: Path, final: Path) -> None:
        self.dir = staging
        self.final = final
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        """Path in the staging folder for an output that will be called ``name``."""
        target = self.dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name not in self.names:
            self.names.append(name)
        return target


@contextlib.contextmanager
def atomic_outputs(outdir: str | os.PathLike[str]) -> Iterator[_Staging]:
    """Write several outputs into ``outdir`` all-or-nothing.

    Files are written into a hidden staging folder inside ``outdir`` (same file
    system) and moved into place only when the block ends without error; on an
    error the staging folder is deleted and ``outdir`` keeps what it had.

    Examples
    --------
    >>> with atomic_outputs(tmp) as out:  # doctest: +SKIP
    ...     write_geotiff(da, out.path("a.tif"))
    """
    final = Path(outdir)
    try:
        final.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {final}: {exc}") from exc
    staging = Path(tempfile.mkdtemp(prefix=".eolab-staging-", dir=final))
    stage = _Staging(staging, final)
    try:
        yield stage
        for name in stage.names:
            src = staging / name
            if src.exists():
                if src.is_file():
                    os.chmod(src, _default_file_mode())
                dst = final / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _gdal_dtype(dtype: np.dtype[Any]) -> str:
    if dtype == np.bool_:
        return "uint8"
    return np.dtype(dtype).name


def write_geotiff(
    data: xr.DataArray | xr.Dataset,
    path: str | os.PathLike[str],
    *,
    nodata: float | int | None = None,
    descriptions: Sequence[str] | None = None,
    units: Sequence[str] | str | None = None,
    dtype: Any = None,
    overviews: bool = True,
    compress: str = "DEFLATE",
    blocksize: int = 256,
    tags: dict[str, str] | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
) -> Path:
    """Write a (band, y, x) or (y, x) raster as a tiled, compressed GeoTIFF.

    Parameters
    ----------
    data
        DataArray with dims ``(y, x)`` or ``(band, y, x)``, or a Dataset whose
        variables become bands in order. A CRS (rioxarray) is required.
    path
        Output file; written atomically.
    nodata
        No-data value written to the file. Defaults to NaN for floats and to
        the DataArray's ``_FillValue``/``nodata`` for integers.
    descriptions, units
        Per-band descriptions and units; default from the variables' or
        bands' ``long_name`` and ``units`` attributes.
    dtype
        Output data type (default: the data's).
    overviews
        Add internal overviews (average for floats, nearest for integers)
        so that large rasters preview fast.
    tags
        Extra dataset-level metadata tags.
    colormap
        Palette for single-band byte rasters.

    Returns
    -------
    Path
        The written file.
    """
    if isinstance(data, xr.Dataset):
        names = list(data.data_vars)
        if descriptions is None:
            descriptions = [str(data[n].attrs.get("long_name", n)) for n in names]
        if units is None:
            units = [str(data[n].attrs.get("units", "")) for n in names]
        # band by band, never stacked: a stacked copy of a large raster costs as much as
        # writing it
        bands = [data[n] for n in names]
        grid, crs = bands[0], data.rio.crs
    else:
        da = data if data.ndim != 2 else data.expand_dims("band")
        if descriptions is None:
            descriptions = [str(da.attrs.get("long_name", da.name or ""))] * da.sizes["band"] \
                if da.sizes["band"] == 1 else [f"band {i + 1}" for i in range(da.sizes["band"])]
        if units is None:
            units = str(da.attrs.get("units", ""))
        bands = [da.isel(band=i) for i in range(da.sizes["band"])]
        grid, crs = da, da.rio.crs
    if crs is None:
        raise CRSError("cannot write a GeoTIFF without a CRS; use .rio.write_crs(...) first")
    nbands = len(bands)
    if isinstance(units, str):
        units = [units] * nbands
    out_dtype = np.dtype(dtype) if dtype is not None else np.result_type(*(b.dtype for b in bands))
    if out_dtype == np.bool_:
        out_dtype = np.dtype("uint8")
    if nodata is None:
        if np.issubdtype(out_dtype, np.floating):
            nodata = float("nan")
        else:
            nodata = grid.attrs.get("_FillValue", grid.rio.nodata)
    height, width = int(grid.sizes["y"]), int(grid.sizes["x"])
    transform = grid.rio.transform(recalc=True)
    bs = blocksize if min(height, width) >= blocksize else 0
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": nbands,
        "dtype": _gdal_dtype(out_dtype),
        "crs": crs,
        "transform": transform,
        "compress": compress,
        "nodata": nodata,
        "BIGTIFF": "IF_SAFER",
    }
    if bs:
        profile.update(tiled=True, blockxsize=bs, blockysize=bs)
    if compress.upper() in {"DEFLATE", "LZW", "ZSTD"}:
        profile["predictor"] = 3 if np.issubdtype(out_dtype, np.floating) else 2
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            arrays = [b.data for b in bands]
            if any(hasattr(a, "compute") for a in arrays):
                import dask

                arrays = list(dask.compute(*arrays))    # one pass over a shared graph
            for i, array in enumerate(arrays):
                values = np.asarray(array)
                if np.issubdtype(out_dtype, np.integer) and \
                        np.issubdtype(values.dtype, np.floating):
                    fill = 0 if nodata is None else nodata
                    values = np.where(np.isfinite(values), values, fill)
                # a (1, y, x) view: rasterio stacks (copies) a 2-D array given alone
                dst.write(values.astype(out_dtype, copy=False)[np.newaxis], [i + 1])
            del arrays
            for i in range(nbands):
                if descriptions is not None and i < len(descriptions):
                    dst.set_band_description(i + 1, descriptions[i])
                if units is not None and i < len(units) and units[i]:
                    dst.update_tags(i + 1, units=units[i])
            if units is not None:
                dst.units = tuple(list(units[:nbands]) + [""] * (nbands - len(units)))
            if tags:
                dst.update_tags(**tags)
            if colormap is not None and nbands == 1 and out_dtype == np.uint8:
                dst.write_colormap(1, colormap)
            if overviews and bs:
                factors = [f for f in (2, 4, 8, 16, 32) if min(height, width) // f >= 128]
                if factors:
                    resampling = Resampling.nearest if np.issubdtype(out_dtype, np.integer) \
                        else Resampling.average
                    dst.build_overviews(factors, resampling)
                    dst.update_tags(ns="rio_overview", resampling=resampling.name)
    return Path(path)
