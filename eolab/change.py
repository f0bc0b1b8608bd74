"""Change Vector Analysis (CVA) and change classes of two Sentinel-2 dates (S2-CD).

For every pixel the spectral change vector is ``Δ = after − before`` over the
chosen bands, in **reflectance percent** (a threshold of 4 means 0.04). In the
polar representation of Bovolo & Bruzzone (2007, "A theoretical framework for
unsupervised change detection based on change vector analysis in the polar
domain") the vector is described by

* its **magnitude** ``ρ = ‖Δ‖``, which separates no change (a circle of noise
  around the origin, ``ρ < T``) from change (the annulus ``ρ >= T``), and
* its **direction** ``θ``, here in B dimensions the angle between Δ and the
  reference vector ``(1, …, 1)/√B`` (as in compressed CVA): 0° when every band
  brightens alike, 180° when every band darkens alike, 90° when the change
  is a pure reshuffling of the spectrum.

Changes of one kind share a direction whatever their size (a pixel half
flooded points the same way as one fully flooded), so change *types* are
sectors of the annulus. ``θ`` alone cannot tell which band went up, so the
classes also use the signed components ``delta_<band>`` of the named bands;
see :func:`classify` and :data:`CHANGE_CLASSES`. Automatic thresholds on the
magnitude (Otsu, Kittler–Illingworth, EM/Bayes) are in :func:`auto_threshold`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab._change_rules import (
    BRIGHTENING_MAX_DEG,
    CHANGE_CLASSES,
    CHANGE_COLORS,
    FLAG_MEANINGS,
    NO_DATA,
    class_rules,
)
from eolab._cva_grid import align_pair
from eolab._cva_kernel import class_arrays, cva_arrays
from eolab._thresholds import (
    THRESHOLD_METHODS,
    ThresholdError,
    ThresholdResult,
    auto_threshold,
    resolve_threshold,
    threshold_histogram,
)
from eolab.errors import BandError, ProductError
from eolab.io.sentinel2 import CLOUD_SHADOW_CLASSES, canonical_band

__all__ = [
    "BRIGHTENING_MAX_DEG",
    "CHANGE_CLASSES",
    "CHANGE_COLORS",
    "FLAG_MEANINGS",
    "THRESHOLD_METHODS",
    "ThresholdError",
    "ThresholdResult",
    "auto_threshold",
    "classify",
    "cva",
    "threshold_histogram",
]

_SCL = "SCL"
_SCL_NODATA = (0, 1)  # no data, saturated or defective


def _canonical(name: str) -> str:
    try:
        return canonical_band(name)
    except BandError:
        return str(name)


def _spectral_vars(ds: xr.Dataset) -> list[str]:
    return [str(n) for n, v in ds.data_vars.items()
            if n != _SCL and set(v.dims) == {"y", "x"} and v.dtype.kind in "fiu"]


def _resolve(ds: xr.Dataset, name: str, which: str) -> str:
    if name in ds.data_vars:
        return name
    canon = _canonical(name)
    for var in ds.data_vars:
        if _canonical(str(var)) == canon:
            return str(var)
    raise BandError(f"band {name!r} is not in the {which} Dataset (it has "
                    f"{', '.join(_spectral_vars(ds)) or 'no band'}); open both products with the "
                    "same bands")


def _band_pairs(before: xr.Dataset, after: xr.Dataset, bands: Sequence[str] | str | None
                ) -> list[tuple[str, str, str]]:
    """``(canonical name, before variable, after variable)`` for each band."""
    if isinstance(bands, str):
        bands = [b for b in bands.replace(",", " ").split() if b]
    if bands is None:
        vb, va = _spectral_vars(before), _spectral_vars(after)
        cb, ca = {_canonical(v) for v in vb}, {_canonical(v) for v in va}
        if cb != ca:
            raise BandError(
                f"the two Datasets hold different bands (before: {', '.join(vb)}; after: "
                f"{', '.join(va)}); open both products with the same bands, or pass "
                f"bands=[...] from the shared ones ({', '.join(sorted(cb & ca)) or 'none'})")
        bands = vb
    if not bands:
        raise BandError("no spectral band to compare; give e.g. bands=['B03', 'B04', 'B08']")
    pairs = []
    for name in dict.fromkeys(bands):
        if _canonical(name) == _SCL:
            raise BandError("SCL is a classification, not a reflectance band; leave it out of "
                            "bands (it is used for the cloud mask)")
        pairs.append((_canonical(name), _resolve(before, name, "before"),
                      _resolve(after, name, "after")))
    return pairs


def _scl_flags(scl: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """(cloud or shadow, no data) from an SCL variable."""
    nodata = scl.isnull() | scl.isin(list(_SCL_NODATA))
    return scl.isin(list(CLOUD_SHADOW_CLASSES)), nodata


def _is_lazy(*arrays: xr.DataArray) -> bool:
    return any(a.chunks is not None for a in arrays)


def cva(before: xr.Dataset, after: xr.Dataset, *, bands: Sequence[str] | str | None = None,
        mask_clouds: bool = True) -> xr.Dataset:
    """Change Vector Analysis of two reflectance Datasets.

    Parameters
    ----------
    before, after
        Datasets of band variables with dims ``(y, x)`` (as
        :func:`eolab.io.sentinel2.open_l2a` returns), reflectance as a fraction
        (0–1), NaN for no data; an ``SCL`` variable is used for masking. A CRS
        is optional when both share one grid. Different grids are matched
        first: aligned windows of one grid are cut to their common pixels;
        otherwise ``after`` is reprojected onto the ``before`` grid over their
        overlap (bilinear; nearest for SCL; eager).
    bands
        Bands to compare (``["B3", "B4", "B8"]``, ``"B03,B04,B08"``, or the
        variable names); ``None`` = every spectral band of the Datasets, which
        must then hold the same bands.
    mask_clouds
        Set pixels flagged by SCL (either date) as cloud or shadow (3, 8, 9,
        10) or no data (0, 1) to NaN.

    Returns
    -------
    xr.Dataset
        ``magnitude`` (float32, reflectance percent), ``direction`` (float32,
        degrees 0–180 from the all-bands-brighten diagonal; NaN where the
        magnitude is 0 or missing), ``delta_<band>`` (float32, signed
        percent) per band, and ``masked`` (bool: cloud or shadow on either
        date where both dates have data). Attributes: ``datetime_before``,
        ``datetime_after``, ``bands``, ``mask_clouds``, ``scl_classes``. The
        CRS of ``before`` is kept; dask inputs stay lazy.

    Raises
    ------
    BandError
        Unknown or missing band, different band lists, or SCL among ``bands``.
    AOIError
        The two rasters do not overlap.
    CRSError
        Different grids without a CRS to match them.
    ProductError
        No valid pixel at all: every pixel of the overlap is cloud, shadow or
        no data (checked from SCL; with numpy inputs also from the bands).
    """
    pairs = _band_pairs(before, after, bands)
    use_scl = mask_clouds and _SCL in before.data_vars and _SCL in after.data_vars
    keep = [p[1] for p in pairs] + ([_SCL] if use_scl else [])
    keep_after = [p[2] for p in pairs] + ([_SCL] if use_scl else [])
    b, a = align_pair(before[keep], after[keep_after])
    b, a = xr.align(b, a, join="inner")     # as the arithmetic of xarray would join them
    inputs = [b[vb].transpose("y", "x") for _, vb, _ in pairs]
    inputs += [a[va].transpose("y", "x") for _, _, va in pairs]
    if use_scl:
        inputs += [b[_SCL].transpose("y", "x"), a[_SCL].transpose("y", "x")]
    lazy = _is_lazy(*inputs)
    flags: list[bool] = []
    kwargs = {"nbands": len(pairs), "cloud": list(CLOUD_SHADOW_CLASSES),
              "nodata": list(_SCL_NODATA), "threads": not lazy, "flags": flags}
    magnitude, direction, masked, *comps = xr.apply_ufunc(
        cva_arrays, *inputs, kwargs=kwargs, dask="parallelized",
        output_core_dims=[()] * (3 + len(pairs)),
        output_dtypes=[np.float32, np.float32, bool] + [np.float32] * len(pairs))
    if use_scl:
        if lazy:   # reads SCL only
            cloud_b, nodata_b = _scl_flags(b[_SCL])
            cloud_a, nodata_a = _scl_flags(a[_SCL])
            clear = bool((~(nodata_b | nodata_a | cloud_b | cloud_a)).any())
        else:
            clear = all(flags)
        if not clear:
            raise ProductError("no valid pixel to compare: the overlap of the two dates is all "
                               "cloud, cloud shadow or no data (SCL); choose clearer dates or "
                               "pass mask_clouds=False to compare anyway")
    deltas = dict(zip((p[0] for p in pairs), comps, strict=True))
    magnitude.attrs = {"long_name": "CVA magnitude (Euclidean norm of the change vector)",
                       "units": "%", "description": "reflectance percent: 4 means 0.04"}
    direction.attrs = {"long_name": "CVA direction (angle to the all-bands-brighten diagonal)",
                       "units": "degree", "valid_range": [0.0, 180.0]}
    out = {"magnitude": magnitude.rename("magnitude"), "direction": direction.rename("direction")}
    for canon, comp in deltas.items():
        comp.attrs = {"long_name": f"change of {canon} reflectance (after - before)",
                      "units": "%"}
        out[f"delta_{canon}"] = comp.rename(f"delta_{canon}")
    masked.attrs = {"long_name": "cloud or cloud shadow on either date (SCL)", "units": "1"}
    out["masked"] = masked.rename("masked")
    ds = xr.Dataset(out)
    if not _is_lazy(magnitude) and not bool(magnitude.notnull().any()):
        raise ProductError("no valid pixel to compare: every pixel is cloud, shadow or no data "
                           "(NaN) on one of the dates; check the AOI and choose clearer dates")
    ds.attrs = {
        "long_name": "Change Vector Analysis",
        "datetime_before": str(before.attrs.get("datetime", "")),
        "datetime_after": str(after.attrs.get("datetime", "")),
        "bands": [p[0] for p in pairs],
        "mask_clouds": int(bool(use_scl)),
        "scl_classes": list(CLOUD_SHADOW_CLASSES) if use_scl else [],
    }
    if b.rio.crs is not None:
        ds = ds.rio.write_crs(b.rio.crs)
    return ds


def classify(cva_ds: xr.Dataset, *, threshold: float | None = None, method: str = "otsu"
             ) -> xr.DataArray:
    """S2-CD change classes (uint8) from a CVA Dataset (see :data:`CHANGE_CLASSES`).

    Parameters
    ----------
    cva_ds
        Output of :func:`cva` (``magnitude``, ``direction``, ``delta_<band>``,
        ``masked``). With only ``magnitude`` and ``direction`` (e.g. read back
        from the two-band CVA raster) only classes 0, 3 and 4 can be told apart.
    threshold
        No-change/change threshold on the magnitude in reflectance percent
        (the tutorial used 4, i.e. 0.04); ``None`` = automatic.
    method
        Automatic threshold method when ``threshold`` is ``None``: ``"otsu"``,
        ``"ki"`` or ``"em"`` (see :func:`auto_threshold`).

    Returns
    -------
    xr.DataArray
        ``change_class``, uint8, same grid and CRS; attrs ``flag_values``,
        ``flag_meanings`` (:data:`FLAG_MEANINGS`), ``classes`` (the table as
        text), ``threshold``, ``threshold_method``, ``bands``, ``rules`` and
        ``_FillValue`` 255, ready for the raster metadata.

    Raises
    ------
    ThresholdError
        Unknown method, or too few valid magnitudes for an automatic threshold.
    """
    if "magnitude" not in cva_ds or "direction" not in cva_ds:
        raise BandError("classify needs a CVA Dataset with 'magnitude' and 'direction'; "
                        "compute it with eolab.change.cva(before, after)")
    mag = cva_ds["magnitude"]
    value, used = resolve_threshold(mag, method=method, threshold=threshold,
                                    what="change (magnitude, %)", minimum=0.0)
    comps = {str(k)[6:]: cva_ds[k] for k in cva_ds.data_vars if str(k).startswith("delta_")}
    empty = xr.DataArray(np.zeros((0, 0), np.float32), dims=("y", "x"))
    rules = class_rules(empty, {n: empty for n in comps})[1]
    masked = cva_ds["masked"] if "masked" in cva_ds else xr.zeros_like(mag, dtype=bool)
    lazy = _is_lazy(mag, cva_ds["direction"], masked, *comps.values())
    classes = xr.apply_ufunc(
        class_arrays, mag, cva_ds["direction"], masked, *comps.values(),
        kwargs={"names": list(comps), "threshold": value, "threads": not lazy},
        dask="parallelized", output_dtypes=[np.uint8])
    out = classes.rename("change_class")
    attrs: dict[str, Any] = {
        "long_name": "S2-CD change class",
        "units": "1",
        "flag_values": list(CHANGE_CLASSES),
        "flag_meanings": " ".join(FLAG_MEANINGS[k] for k in CHANGE_CLASSES),
        "classes": "; ".join(f"{k}: {v}" for k, v in CHANGE_CLASSES.items()),
        "threshold": float(value),
        "threshold_units": "%",
        "threshold_method": used,
        "bands": list(cva_ds.attrs.get("bands", list(comps))),
        "rules": rules,
        "_FillValue": NO_DATA,
    }
    for key in ("datetime_before", "datetime_after"):
        if key in cva_ds.attrs:
            attrs[key] = cva_ds.attrs[key]
    out.attrs = attrs
    if cva_ds.rio.crs is not None:
        out = out.rio.write_crs(cva_ds.rio.crs)
    return out
