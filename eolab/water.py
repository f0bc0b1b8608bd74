"""Water indices and single-date water masks from Sentinel-2 reflectance.

Open water absorbs near- and short-wave infrared almost completely while
land reflects them, so indices that contrast a visible band with NIR/SWIR
separate water from land. The indices here (``index=``), with their bands:

========== ================================================== =========================
name       formula (reflectance 0–1)                          reference
========== ================================================== =========================
ndwi       (G − NIR) / (G + NIR)                              McFeeters 1996
mndwi      (G − SWIR1) / (G + SWIR1)                          Xu 2006
awei_nsh   4 (G − SWIR1) − (0.25 NIR + 2.75 SWIR2)            Feyisa et al. 2014
awei_sh    B + 2.5 G − 1.5 (NIR + SWIR1) − 0.25 SWIR2         Feyisa et al. 2014
wi2015     1.7204 + 171 G + 3 R − 70 NIR − 45 SWIR1 − 71 SWIR2 Fisher et al. 2016
========== ================================================== =========================

with B = B02, G = B03, R = B04, NIR = B08 (or B8A), SWIR1 = B11, SWIR2 = B12.
Water is ``index >= threshold``: the published fixed thresholds are 0 for
all five; an automatic threshold (:func:`eolab.change.auto_threshold`) adapts
to the scene. The default, AWEI\\ :sub:`sh` with the Kittler–Illingworth
threshold, follows the literature, not any labelled data: AWEI\\ :sub:`sh`
was designed to keep dark surfaces and shadows out of the water class, which
single-ratio indices confuse with water (Feyisa et al. 2014), and the
Kittler–Illingworth criterion models the two classes with their own
proportions and spreads, so a scene with a little water is not split in the
middle of its land peak as Otsu's criterion tends to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from eolab._change_rules import BRIGHTENING_MAX_DEG, class_rules, has_flood_rule
from eolab._thresholds import resolve_threshold
from eolab.errors import BandError
from eolab.io.sentinel2 import CLOUD_SHADOW_CLASSES, canonical_band

__all__ = ["WATER_INDICES", "flood_change_mask", "water_index", "water_mask"]

_ALIASES = {"B": ("B02",), "G": ("B03",), "R": ("B04",), "NIR": ("B08", "B8A"),
            "SWIR1": ("B11",), "SWIR2": ("B12",)}


def _nd(a: Any, b: Any) -> Any:
    return (a - b) / (a + b)


#: index name → (bands it needs, formula on a band dict, long name)
WATER_INDICES: dict[str, tuple[tuple[str, ...], Callable[..., Any], str]] = {
    "ndwi": (("G", "NIR"), lambda v: _nd(v["G"], v["NIR"]),
             "normalised difference water index (McFeeters 1996)"),
    "mndwi": (("G", "SWIR1"), lambda v: _nd(v["G"], v["SWIR1"]),
              "modified normalised difference water index (Xu 2006)"),
    "awei_nsh": (("G", "NIR", "SWIR1", "SWIR2"),
                 lambda v: 4 * (v["G"] - v["SWIR1"]) - (0.25 * v["NIR"] + 2.75 * v["SWIR2"]),
                 "automated water extraction index, no shadow (Feyisa et al. 2014)"),
    "awei_sh": (("B", "G", "NIR", "SWIR1", "SWIR2"),
                lambda v: (v["B"] + 2.5 * v["G"] - 1.5 * (v["NIR"] + v["SWIR1"])
                           - 0.25 * v["SWIR2"]),
                "automated water extraction index, shadow (Feyisa et al. 2014)"),
    "wi2015": (("G", "R", "NIR", "SWIR1", "SWIR2"),
               lambda v: (1.7204 + 171 * v["G"] + 3 * v["R"] - 70 * v["NIR"]
                          - 45 * v["SWIR1"] - 71 * v["SWIR2"]),
               "water index 2015 (Fisher et al. 2016)"),
}


def _canonical(name: str) -> str | None:
    try:
        return canonical_band(name)
    except BandError:
        return None


def _bands(ds: xr.Dataset, index: str) -> dict[str, xr.DataArray]:
    by_name = {_canonical(str(v)): ds[v] for v in ds.data_vars}
    needed, _, _ = WATER_INDICES[index]
    out, missing = {}, []
    for role in needed:
        found = next((by_name[b] for b in _ALIASES[role] if b in by_name), None)
        if found is None:
            missing.append("/".join(_ALIASES[role]))
        else:
            out[role] = found.astype(np.float32)
    if missing:
        raise BandError(f"the {index} water index needs band(s) {', '.join(missing)}, which the "
                        f"Dataset lacks (it has {', '.join(map(str, ds.data_vars))}); open the "
                        f"product with bands={[_ALIASES[r][0] for r in needed]}")
    return out


def _check_index(index: str) -> str:
    name = str(index).strip().lower()
    if name not in WATER_INDICES:
        raise BandError(f"unknown water index {index!r}; choose one of "
                        f"{', '.join(WATER_INDICES)}")
    return name


def water_index(ds: xr.Dataset, *, index: str = "awei_sh") -> xr.DataArray:
    """A water index of a reflectance Dataset (as :func:`eolab.io.sentinel2.open_l2a` returns).

    Parameters
    ----------
    ds
        Band variables in reflectance (0–1), named ``B03`` or ``B3`` etc.
    index
        One of :data:`WATER_INDICES` (see the module docstring).

    Returns
    -------
    xr.DataArray
        The index (float32, named after it, ``units`` "1"), NaN where a band
        is missing or a normalised difference is undefined; same grid, CRS;
        lazy when the bands are.

    Raises
    ------
    BandError
        Unknown index, or a band it needs is not in ``ds``.
    """
    name = _check_index(index)
    bands = _bands(ds, name)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = WATER_INDICES[name][1](bands)
    values = values.where(np.isfinite(values)).astype(np.float32).rename(name)
    values.attrs = {"long_name": WATER_INDICES[name][2], "units": "1"}
    crs = next((b.rio.crs for b in bands.values() if b.rio.crs is not None), None)
    return values.rio.write_crs(crs) if crs is not None else values


def water_mask(ds: xr.Dataset, *, index: str = "awei_sh", method: str = "ki",
               threshold: float | None = None, mask_clouds: bool = True) -> xr.DataArray:
    """Water (1) and land (0) of one date, 255 where clouded or without data.

    Parameters
    ----------
    ds
        Reflectance Dataset; its ``SCL`` variable, when present, masks
        clouds and shadows (``mask_clouds``) and no data.
    index
        Water index (:data:`WATER_INDICES`); default AWEI\\ :sub:`sh`.
    method
        Automatic threshold when ``threshold`` is None: ``"ki"`` (default),
        ``"otsu"`` or ``"em"``, drawn on the clear pixels.
    threshold
        Fixed threshold on the index (0 is the published one for all indices).

    Returns
    -------
    xr.DataArray
        ``water``, uint8 (1 water, 0 land, 255 masked or no data), with attrs
        ``index``, ``threshold`` and ``threshold_method``.

    Raises
    ------
    BandError
        Unknown index or missing band.
    ThresholdError
        Unknown method, or too few clear pixels for an automatic threshold
        (an all-cloud scene).
    """
    values = water_index(ds, index=index)
    invalid = values.isnull()
    if "SCL" in ds.data_vars:
        scl = ds["SCL"]
        invalid = invalid | scl.isnull() | scl.isin([0, 1])
        if mask_clouds:
            invalid = invalid | scl.isin(list(CLOUD_SHADOW_CLASSES))
    clear = values.where(~invalid)
    value, used = resolve_threshold(clear, method=method, threshold=threshold,
                                    what="water")
    out = xr.where(invalid, 255, (values >= value).astype(np.uint8)).astype(np.uint8)
    out = out.rename("water")
    out.attrs = {"long_name": f"water from {values.name} >= threshold", "units": "1",
                 "flag_values": [0, 1, 255], "flag_meanings": "land water masked_or_no_data",
                 "index": str(values.name), "threshold": float(value),
                 "threshold_method": used, "_FillValue": 255}
    return out.rio.write_crs(values.rio.crs) if values.rio.crs is not None else out


def flood_change_mask(cva_ds: xr.Dataset, *, method: str = "ki",
                      threshold: float | None = None) -> xr.DataArray:
    """New water from a CVA (:func:`eolab.change.cva`): flood-like change above a threshold.

    The flood *candidates* are the pixels whose change vector points the way
    flooding does: S2-CD class 1 (NIR collapses, visible does not fall much;
    see :data:`eolab.change.CHANGE_CLASSES`) when the CVA holds a green and a
    NIR band, and otherwise — bands unknown, e.g. an RGB composite — every
    direction but brightening (``direction > BRIGHTENING_MAX_DEG``): water
    never brightens every band alike, clouds and haze do. The automatic
    threshold is drawn on the candidates' magnitudes only, so large changes of
    other kinds (clouds the mask missed, harvests) do not drag it.

    Parameters
    ----------
    cva_ds
        Output of :func:`eolab.change.cva` (``magnitude``, ``direction``,
        ``delta_<band>``, optional ``masked``).
    method
        ``"ki"`` (default), ``"otsu"`` or ``"em"`` when ``threshold`` is None.
    threshold
        Fixed magnitude threshold in the CVA's units (reflectance percent).

    Returns
    -------
    xr.DataArray
        ``flood``, uint8: 1 new water, 0 not, 254 masked (cloud or shadow),
        255 no data; attrs ``threshold``, ``threshold_method``, ``candidates``.

    Raises
    ------
    BandError
        ``cva_ds`` lacks ``magnitude`` or ``direction``.
    ThresholdError
        Too few candidate pixels for an automatic threshold.
    """
    if "magnitude" not in cva_ds or "direction" not in cva_ds:
        raise BandError("flood_change_mask needs a CVA Dataset with 'magnitude' and "
                        "'direction'; compute it with eolab.change.cva(before, after)")
    mag, direction = cva_ds["magnitude"], cva_ds["direction"]
    comps = {str(k)[6:]: cva_ds[k] for k in cva_ds.data_vars if str(k).startswith("delta_")}
    if has_flood_rule(comps):
        changed_class, _ = class_rules(direction, comps)
        candidate, how = changed_class == 1, "S2-CD class 1 (flooding) rules"
    else:
        candidate = direction > BRIGHTENING_MAX_DEG
        how = f"any direction but brightening (> {BRIGHTENING_MAX_DEG:g} deg)"
    value, used = resolve_threshold(mag.where(candidate), method=method, threshold=threshold,
                                    what="flood", minimum=0.0)
    flooded = (candidate & (mag >= value)).astype(np.uint8)
    masked = cva_ds["masked"] if "masked" in cva_ds else xr.zeros_like(mag, dtype=bool)
    out = xr.where(mag.notnull(), flooded, xr.where(masked, 254, 255)).astype(np.uint8)
    out = out.rename("flood")
    out.attrs = {"long_name": "new water (flood-like change above the threshold)", "units": "1",
                 "flag_values": [0, 1, 254, 255],
                 "flag_meanings": "no_flood flood masked no_data", "threshold": float(value),
                 "threshold_units": str(mag.attrs.get("units", "%")),
                 "threshold_method": used, "candidates": how, "_FillValue": 255}
    return out.rio.write_crs(mag.rio.crs) if mag.rio.crs is not None else out
