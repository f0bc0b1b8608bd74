"""Sectors of the CVA change annulus: the S2-CD change classes (private; see :mod:`eolab.change`).

A changed pixel (magnitude at or above the threshold) is assigned a class
from the signed band components ``g`` (green, B03), ``r`` (red, B04), ``n``
(NIR, B08 or B8A) and ``s`` (SWIR, B11 or B12) of its change vector, and its
direction ``θ``. The rules follow the spectra, and only compare components
with each other, so they hold for a pixel partly or fully changed alike:

1. **flooding / new water** — NIR collapses (water absorbs it) while the
   visible does not fall much: ``n < 0``, ``−0.35·|n| <= g <= 0.5·|n|``; with a
   red band ``r <= 0.6·|n|`` (vegetation → water raises red by at most
   ~0.10 while NIR falls by at least ~0.17, from vegetation NIR >= 0.25 to
   water < 0.08, so ``r/|n| <= 0.55``, turbid water included); with a SWIR
   band ``s < 0`` (water absorbs SWIR too; bare soil raises it).
3. **brightening** — every band brighter by similar amounts: ``θ <= 45°``
   (clouds and haze that SCL missed, smoke, bare soil or sand, snow).
2. **vegetation loss** — chlorophyll and leaf structure lost: ``n < 0``, red
   rises by more than ``0.6·|n|`` and more than green (vegetation → soil or
   dry grass: ``r/|n|`` 0.66 to 6); without a red band, ``n < 0`` and ``s > 0``.
5. **NIR increase** — water receding or vegetation growth: ``n > 0`` and NIR
   the largest change among the named bands.
4. **other change** — everything else (darkening, burn scars, mixed).

They are tested in that order (1, 3, 2, 5, 4). Rules that need a band not
among the components are skipped: without a green and a NIR band only 3 and
4 remain (magnitude and direction alone). Known confusions, inherent to the
bands: unmasked cloud shadows and fresh burn scars look like clear water in
green/red/NIR (SWIR tells burns apart); without red and SWIR, vegetation loss
with a NIR drop can look like flooding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

__all__ = ["BRIGHTENING_MAX_DEG", "CHANGE_CLASSES", "CHANGE_COLORS", "FLAG_MEANINGS", "MASKED",
           "NO_DATA", "class_rules", "has_flood_rule"]

#: S2-CD class codes of :func:`eolab.change.classify`.
CHANGE_CLASSES: dict[int, str] = {
    0: "no change",
    1: "flooding or new water",
    2: "vegetation loss",
    3: "brightening (cloud, haze, bare soil)",
    4: "other change",
    5: "NIR increase (water receding, vegetation growth)",
    254: "masked (cloud or shadow on either date)",
    255: "no data",
}
#: One word per class for CF ``flag_meanings`` (same order as :data:`CHANGE_CLASSES`).
FLAG_MEANINGS: dict[int, str] = {0: "no_change", 1: "flooding", 2: "vegetation_loss",
                                 3: "brightening", 4: "other_change", 5: "nir_increase",
                                 254: "masked", 255: "no_data"}
#: RGBA palette of the classes, e.g. for ``write_geotiff(..., colormap=CHANGE_COLORS)``.
CHANGE_COLORS: dict[int, tuple[int, int, int, int]] = {
    0: (235, 235, 235, 255), 1: (30, 100, 230, 255), 2: (200, 120, 40, 255),
    3: (255, 240, 150, 255), 4: (200, 50, 180, 255), 5: (40, 170, 60, 255),
    254: (110, 110, 110, 255), 255: (0, 0, 0, 0)}
MASKED = 254
NO_DATA = 255
#: Largest angle to the all-bands-brighten diagonal still called brightening.
BRIGHTENING_MAX_DEG = 45.0
_GREEN_DROP = 0.35   # green may fall by this share of the NIR drop (clear water)
_GREEN_RISE = 0.5    # ... and rise by at most this share (turbid water)
_RED_RISE = 0.6      # red rises by less than this share of the NIR drop for water

_GREEN, _RED, _NIR, _SWIR = ("B03",), ("B04",), ("B08", "B8A"), ("B11", "B12")


def _pick(comps: dict[str, xr.DataArray], names: tuple[str, ...]) -> xr.DataArray | None:
    return next((comps[n] for n in names if n in comps), None)


def has_flood_rule(comps: dict[str, xr.DataArray]) -> bool:
    """Whether the components name a green and a NIR band, so class 1 can be told apart."""
    return _pick(comps, _GREEN) is not None and _pick(comps, _NIR) is not None


def class_rules(direction: Any, comps: dict[str, Any]) -> tuple[Any, str]:
    """Class (1–5) each pixel would get if changed, and the rules used, as text.

    ``comps`` maps canonical band names (``"B03"``...) to signed components.
    DataArrays give a DataArray; numpy arrays (the fused kernels) give a numpy
    array, without xarray's per-operation cost.
    """
    g, r, n, s = (_pick(comps, names) for names in (_GREEN, _RED, _NIR, _SWIR))
    bright = direction <= BRIGHTENING_MAX_DEG
    if g is None or n is None:
        out = xr.where(bright, 3, 4)
        return out, "3: direction <= 45 deg; 4: otherwise (no green and NIR band)"
    drop = -n
    flood = (n < 0) & (g >= -_GREEN_DROP * drop) & (g <= _GREEN_RISE * drop)
    text = ["1: n<0 and -0.35|n| <= g <= 0.5|n|"]
    if r is not None:
        flood = flood & (r <= _RED_RISE * drop)
        text[0] += " and r <= 0.6|n|"
    if s is not None:
        flood = flood & (s < 0)
        text[0] += " and s<0"
    text.append("3: direction <= 45 deg")
    if r is not None:
        loss = (n < 0) & (r > _RED_RISE * drop) & (r > g)
        text.append("2: n<0 and r > 0.6|n| and r > g")
    elif s is not None:
        loss = (n < 0) & (s > 0)
        text.append("2: n<0 and s>0")
    else:
        loss = flood & False                 # all False, numpy or xarray alike
    biggest = (np.abs(g) <= n) if r is None else (np.abs(g) <= n) & (np.abs(r) <= n)
    nir_up = (n > 0) & biggest
    text.append("5: n>0 and largest; 4: otherwise")
    out = xr.where(flood, 1, xr.where(bright, 3, xr.where(loss, 2, xr.where(nir_up, 5, 4))))
    bands = "g=" + "/".join(_GREEN) + " r=" + "/".join(_RED) + " n=" + "/".join(_NIR)
    return out, "; ".join(text) + f" (components in %, {bands} s=B11/B12; order 1,3,2,5,4)"
