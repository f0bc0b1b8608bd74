"""Sentinel-2 image time series as one CF-compliant cube: build, write, open.

The cube is an ``xarray.Dataset`` on a map grid with a CRS (rioxarray's
``spatial_ref`` grid mapping):

* ``reflectance`` (time, band, y, x): L2A bottom-of-atmosphere reflectance,
  stored as int16 ``DN = reflectance * 10000`` with ``scale_factor`` 1e-4 and
  ``_FillValue`` -32768 (decoded to float32 with NaN for no data);
* ``scl`` (time, y, x): the Sen2Cor scene classification (see
  :data:`eolab.crop.clouds.SCL_CLASSES`), with CF ``flag_values`` and
  ``flag_meanings``.

It is written as NetCDF with xarray's default engine for the installed
libraries (NetCDF-3 through scipy when neither netCDF4 nor h5netcdf is there)
and opened lazily with dask (:func:`open_cube`), so composites of a large cube
stream block by block.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab.crop.clouds import SCL_CLASSES
from eolab.errors import BandError, CRSError, OutputError, ProductError
from eolab.io.rasters import atomic_path

__all__ = ["FILL_DN", "SCALE", "cube_dataset", "open_cube", "write_cube"]

SCALE = 1e-4  #: Reflectance per DN.
FILL_DN = -32768  #: Stored value of missing reflectance.


def cube_dataset(
    reflectance: np.ndarray,
    scl: np.ndarray,
    *,
    times: Sequence[Any],
    bands: Sequence[str],
    x: np.ndarray,
    y: np.ndarray,
    crs: str,
    attrs: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Assemble a cube from arrays.

    Parameters
    ----------
    reflectance
        (time, band, y, x) reflectance (float, NaN for no data) or int16 DN.
    scl
        (time, y, x) SCL classes (0-11).
    times, bands, x, y
        Coordinates: acquisition times, band names, pixel-centre map coordinates.
    crs
        Anything rioxarray accepts (``"EPSG:32633"``).
    attrs
        Extra global attributes (``title``, ``source``...).
    """
    refl = np.asarray(reflectance)
    nt, _, ny, nx = refl.shape
    if np.asarray(scl).shape != (nt, ny, nx):
        raise ProductError(f"scl has shape {np.asarray(scl).shape}, expected {(nt, ny, nx)}")
    if (len(times), len(bands), len(y), len(x)) != refl.shape:
        raise ProductError(f"coordinates ({len(times)}, {len(bands)}, {len(y)}, {len(x)}) do "
                           f"not match the reflectance shape {refl.shape}")
    if refl.dtype.kind == "f":
        refl = refl.astype(np.float32)
    else:
        refl = np.where(refl == FILL_DN, np.nan, refl.astype(np.float32) * np.float32(SCALE))
    coords = {"time": pd.DatetimeIndex(times).values.astype("datetime64[ns]"),
              "band": np.asarray(bands, dtype=str), "y": np.asarray(y, np.float64),
              "x": np.asarray(x, np.float64)}
    flags = sorted(SCL_CLASSES)
    ds = xr.Dataset(
        {"reflectance": (("time", "band", "y", "x"), refl,
                         {"long_name": "bottom-of-atmosphere reflectance (Sentinel-2 L2A)",
                          "units": "1"}),
         "scl": (("time", "y", "x"), np.asarray(scl, np.int8),
                 {"long_name": "scene classification (Sen2Cor SCL)",
                  "flag_values": np.asarray(flags, np.int8),
                  "flag_meanings": " ".join(SCL_CLASSES[f] for f in flags)})},
        coords=coords,
        attrs={"Conventions": "CF-1.8", **(attrs or {})},
    )
    ds["x"].attrs = {"standard_name": "projection_x_coordinate", "units": "m"}
    ds["y"].attrs = {"standard_name": "projection_y_coordinate", "units": "m"}
    ds["band"].attrs = {"long_name": "Sentinel-2 band"}
    ds["reflectance"].encoding = {"dtype": "int16", "scale_factor": np.float32(SCALE),
                                  "add_offset": np.float32(0.0), "_FillValue": FILL_DN}
    ds["scl"].encoding = {"dtype": "int8"}
    out: xr.Dataset = ds.rio.write_crs(crs)
    return out


def write_cube(cube: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a cube as NetCDF, atomically (a temporary file renamed on success).

    Raises
    ------
    CRSError
        The cube has no CRS.
    OutputError
        The file cannot be written.
    """
    if cube.rio.crs is None:
        raise CRSError("the cube has no CRS: use cube_dataset(..., crs=) or .rio.write_crs")
    final = Path(path)
    engine = _engine()
    if engine == "scipy" and "time" in cube.coords and "units" not in cube["time"].encoding:
        times = cube["time"].values.astype("datetime64[ns]").astype(np.int64)
        if (times % 1_000_000_000).any():  # sub-second times: NetCDF-3 has no int64
            cube = cube.copy()
            cube["time"].encoding.update(units="seconds since 1970-01-01", dtype="float64")
    try:
        with atomic_path(final) as tmp:
            cube.to_netcdf(tmp, format="NETCDF3_64BIT" if engine == "scipy" else "NETCDF4")
    except OSError as exc:
        raise OutputError(f"cannot write the cube {final}: {exc}") from exc
    return final


def _engine() -> str:
    engines = xr.backends.list_engines()
    for name in ("netcdf4", "h5netcdf", "scipy"):
        if name in engines:
            return name
    raise OutputError("no NetCDF engine installed (scipy, netCDF4 or h5netcdf)")


def open_cube(
    path: str | os.PathLike[str],
    *,
    chunks: dict[str, int] | str | None = "auto",
    require_scl: bool = True,
) -> xr.Dataset:
    """Open a cube written by :func:`write_cube` (or any NetCDF of the same shape).

    Parameters
    ----------
    path
        NetCDF file.
    chunks
        Dask chunks (default ``"auto"``: lazy); None loads eagerly.
    require_scl
        Refuse a cube without the ``scl`` layer (needed to mask clouds).

    Returns
    -------
    xarray.Dataset
        ``reflectance`` (time, band, y, x) float32 and ``scl`` (time, y, x), CRS set.

    Raises
    ------
    ProductError
        Missing file, unreadable file, or a missing ``reflectance`` variable or dims.
    BandError
        No ``scl`` variable while ``require_scl``.
    CRSError
        No CRS in the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ProductError(f"no cube at {p}")
    try:
        ds = xr.open_dataset(p, chunks=chunks, decode_coords="all")
    except (OSError, ValueError, TypeError) as exc:
        raise ProductError(f"cannot read {p} as a NetCDF cube: {exc}") from exc
    if "reflectance" not in ds.data_vars:
        raise ProductError(f"{p} has no 'reflectance' variable (has {list(ds.data_vars)})")
    if set(ds["reflectance"].dims) != {"time", "band", "y", "x"}:
        raise ProductError(f"{p}: reflectance dims are {ds['reflectance'].dims}, "
                           "expected (time, band, y, x)")
    if require_scl and "scl" not in ds.data_vars:
        raise BandError(f"{p} has no 'scl' (scene classification) variable: clouds cannot be "
                        "masked; open it with require_scl=False and pass your own clear mask")
    if ds.rio.crs is None:
        raise CRSError(f"{p} has no CRS (no grid mapping variable)")
    ds["band"] = ds["band"].astype(str)
    return ds.transpose("time", "band", "y", "x")
