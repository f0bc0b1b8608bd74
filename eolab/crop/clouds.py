"""Cloud, shadow and snow masks of a Sentinel-2 time series, and clear-sky statistics.

Level-2A products carry a scene classification layer (SCL) from Sen2Cor; its
classes (``SCL_CLASSES``) mark what cannot be used for crop mapping: no data
(0), saturated or defective pixels (1), cloud shadows (3), clouds of medium
and high probability (8, 9) and thin cirrus (10). Snow (11) hides the crop as
well, but a snowy winter date still tells that nothing grows, so masking it is
an option. Cloud edges are often missed by Sen2Cor; a dilation of the cloud
and shadow classes by a few pixels removes most of them.

All functions take and return ``xarray.DataArray`` objects with dimensions
``(time, y, x)`` (any leading dimension works) and stay lazy when the input is
a dask array: the dilation runs block by block with an overlap of its radius.
Level-1C input has no SCL; :func:`s2cloudless_mask` runs the s2cloudless
detector on the L1C bands when that package is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from eolab.errors import BandError, CropError, RasterError

__all__ = [
    "DEFAULT_MASKED",
    "S2CLOUDLESS_BANDS",
    "SCL_CLASSES",
    "SNOW",
    "clear_fraction",
    "clear_mask",
    "cloud_mask",
    "dilate_mask",
    "s2cloudless_mask",
    "scl_of",
]

#: Sen2Cor scene classification (SCL) values and their meaning.
SCL_CLASSES: dict[int, str] = {
    0: "no_data",
    1: "saturated_or_defective",
    2: "dark_area_pixels",
    3: "cloud_shadows",
    4: "vegetation",
    5: "not_vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud_medium_probability",
    9: "cloud_high_probability",
    10: "thin_cirrus",
    11: "snow",
}
#: Classes masked by default: no data, defective, cloud shadow, clouds, cirrus.
DEFAULT_MASKED: tuple[int, ...] = (0, 1, 3, 8, 9, 10)
#: The snow class, masked with ``snow=True``.
SNOW = 11
_NOT_DILATED = frozenset({0, 1})  # no data and defective pixels have sharp edges
#: L1C bands that s2cloudless expects, in its order.
S2CLOUDLESS_BANDS = ("B01", "B02", "B04", "B05", "B08", "B8A", "B09", "B10", "B11", "B12")


def scl_of(data: xr.Dataset | xr.DataArray, *, name: str = "scl") -> xr.DataArray:
    """The SCL layer of a cube: the variable ``name`` (any case) of a Dataset, or
    the DataArray itself when it is one.

    Raises
    ------
    BandError
        When the Dataset has no SCL variable.
    """
    if isinstance(data, xr.DataArray):
        return data
    for var in data.data_vars:
        if str(var).lower() == name.lower():
            return data[var]
    raise BandError(f"the cube has no {name!r} (scene classification) variable, so clouds "
                    f"cannot be masked: use Level-2A data with SCL, or pass a clear-sky mask "
                    f"(e.g. from s2cloudless_mask) explicitly; variables: {list(data.data_vars)}")


def _check_classes(classes: Iterable[int]) -> tuple[int, ...]:
    out = tuple(sorted({int(c) for c in classes}))
    bad = [c for c in out if c not in SCL_CLASSES]
    if bad:
        raise RasterError(f"unknown SCL classes {bad}; valid are 0-11 ({SCL_CLASSES})")
    return out


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return np.asarray(yy**2 + xx**2 <= radius**2 + 0.5)


def _dilate_block(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a (..., y, x) boolean block in its last two axes."""
    if radius <= 0 or not mask.any():
        return mask
    flat = mask.reshape((-1, *mask.shape[-2:]))
    out = np.empty_like(flat)
    disk = _disk(radius)
    for i, plane in enumerate(flat):
        out[i] = ndimage.binary_dilation(plane, structure=disk) if plane.any() else plane
    return out.reshape(mask.shape)


def _dilate(mask: xr.DataArray, radius: int, y: str, x: str) -> xr.DataArray:
    order = [d for d in mask.dims if d not in (y, x)] + [y, x]
    m = mask.transpose(*order)
    data: Any = m.data
    if hasattr(data, "map_overlap"):
        depth = {m.ndim - 2: radius, m.ndim - 1: radius}
        depth.update({i: 0 for i in range(m.ndim - 2)})
        new = data.map_overlap(_dilate_block, depth=depth, boundary=False, dtype=bool,
                               radius=radius)
    else:
        new = _dilate_block(np.asarray(data), radius)
    return m.copy(data=new).transpose(*mask.dims)


def dilate_mask(mask: xr.DataArray, *, radius: int, y: str = "y", x: str = "x") -> xr.DataArray:
    """Grow a boolean mask (e.g. clouds from s2cloudless or eo-learn's ``CLM``) by a
    disk of ``radius`` pixels in ``(y, x)``; lazy when the mask is.

    Raises
    ------
    RasterError
        A non-boolean mask, a negative radius or missing spatial dimensions.
    """
    if mask.dtype != bool:
        raise RasterError(f"the mask to dilate must be boolean, got {mask.dtype}")
    if int(radius) < 0:
        raise RasterError(f"dilation must be a radius in pixels >= 0, got {radius}")
    if y not in mask.dims or x not in mask.dims:
        raise RasterError(f"the mask needs dims {y!r} and {x!r}, has {mask.dims}")
    out = _dilate(mask, int(radius), y, x) if radius else mask.copy()
    return out.assign_attrs(dilation_px=int(radius))


def cloud_mask(
    scl: xr.DataArray | xr.Dataset,
    *,
    classes: Sequence[int] = DEFAULT_MASKED,
    snow: bool = False,
    dilation: int = 0,
    y: str = "y",
    x: str = "x",
) -> xr.DataArray:
    """Boolean mask, True where an observation is unusable (cloud, shadow, no data...).

    Parameters
    ----------
    scl
        SCL values, dims ``(time, y, x)`` (or a Dataset with an ``scl`` variable).
        NaN (e.g. a decoded fill value) counts as no data.
    classes
        SCL classes to mask; default :data:`DEFAULT_MASKED`.
    snow
        Also mask snow (class 11).
    dilation
        Radius in pixels of a disk by which the masked classes other than no
        data and defective pixels (0, 1) are grown in ``(y, x)``; 0 for none.
    y, x
        Names of the spatial dimensions.

    Returns
    -------
    xarray.DataArray
        ``cloud_mask``, bool, same dims and coords as ``scl``; lazy when ``scl`` is.

    Raises
    ------
    BandError
        A Dataset without an SCL variable.
    RasterError
        Unknown classes, a negative dilation or missing spatial dimensions.
    """
    da = scl_of(scl)
    cls = _check_classes([*classes, *([SNOW] if snow else [])])
    if int(dilation) < 0:
        raise RasterError(f"dilation must be a radius in pixels >= 0, got {dilation}")
    if y not in da.dims or x not in da.dims:
        raise RasterError(f"the SCL layer needs dims {y!r} and {x!r}, has {da.dims}")
    nodata = da.isnull() if da.dtype.kind == "f" else xr.zeros_like(da, dtype=bool)
    hard = da.isin([c for c in cls if c in _NOT_DILATED]) | nodata
    soft = da.isin([c for c in cls if c not in _NOT_DILATED])
    if dilation:
        soft = _dilate(soft, int(dilation), y, x)
    out = (hard | soft).rename("cloud_mask")
    out.attrs = {"long_name": "unusable observation (cloud, shadow, no data"
                              + (", snow" if snow else "") + ")",
                 "units": "1", "masked_scl_classes": list(cls), "dilation_px": int(dilation)}
    return out


def clear_mask(scl: xr.DataArray | xr.Dataset, **options: Any) -> xr.DataArray:
    """Boolean mask, True where an observation is clear; the negation of
    :func:`cloud_mask` with the same keyword options."""
    masked = cloud_mask(scl, **options)
    out = (~masked).rename("clear")
    out.attrs = {**masked.attrs, "long_name": "clear-sky observation"}
    return out


def clear_fraction(clear: xr.DataArray, *, dim: str = "time") -> xr.DataArray:
    """Fraction of clear observations per pixel along ``dim`` (0 to 1).

    Parameters
    ----------
    clear
        Boolean clear-sky mask, e.g. from :func:`clear_mask`.
    dim
        The time dimension.
    """
    if dim not in clear.dims:
        raise RasterError(f"the clear-sky mask has no {dim!r} dimension (dims {clear.dims})")
    if clear.dtype != bool:
        raise RasterError(f"the clear-sky mask must be boolean, got {clear.dtype}")
    out = clear.astype("float32").mean(dim).rename("clear_fraction")
    out.attrs = {"long_name": "fraction of clear observations", "units": "1"}
    return out


def s2cloudless_mask(
    l1c: xr.DataArray,
    *,
    band_dim: str = "band",
    threshold: float = 0.4,
    average_over: int = 4,
    dilation_size: int = 2,
) -> xr.DataArray:
    """Cloud mask of Level-1C reflectance with s2cloudless (optional dependency).

    Parameters
    ----------
    l1c
        Top-of-atmosphere reflectance (0-1), dims ``(time, band, y, x)`` with the
        bands of :data:`S2CLOUDLESS_BANDS` on ``band_dim`` (others are ignored).
    threshold, average_over, dilation_size
        Passed to ``s2cloudless.S2PixelCloudDetector``.

    Returns
    -------
    xarray.DataArray
        ``cloud_mask`` (time, y, x), True where cloudy. Computed eagerly.

    Raises
    ------
    CropError
        s2cloudless is not installed.
    BandError
        A required band is missing.
    """
    try:
        from s2cloudless import S2PixelCloudDetector
    except ImportError as exc:
        raise CropError("s2cloudless is not installed: `pip install s2cloudless` to detect "
                        "clouds in Level-1C data, or use Level-2A data and its SCL") from exc
    names = [str(b) for b in l1c[band_dim].values]
    missing = [b for b in S2CLOUDLESS_BANDS if b not in names]
    if missing:
        raise BandError(f"s2cloudless needs the L1C bands {S2CLOUDLESS_BANDS}; missing {missing}")
    data = l1c.sel({band_dim: list(S2CLOUDLESS_BANDS)}).transpose("time", "y", "x", band_dim)
    detector = S2PixelCloudDetector(threshold=threshold, average_over=average_over,
                                    dilation_size=dilation_size, all_bands=False)
    masks = detector.get_cloud_masks(np.asarray(data.values, dtype=np.float32))
    out = xr.DataArray(masks.astype(bool), dims=("time", "y", "x"),
                       coords={k: v for k, v in data.coords.items()
                               if set(v.dims) <= {"time", "y", "x"}},
                       name="cloud_mask")
    out.attrs = {"long_name": "cloud (s2cloudless)", "units": "1", "threshold": threshold}
    return out
