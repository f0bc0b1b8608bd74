"""A few dates of the simulated crop scene as Sentinel-2 L2A SAFE products.

The scene is rendered at 10 m in ten bands; the products need all twelve at
their native resolutions. The 20 m bands are 2 x 2 means of the 10 m
rendering, the 60 m bands 6 x 6 means, with the two bands the model does not
render derived from neighbours (B01 aerosol from B02, B09 water vapour from
B8A: stand-ins, not physics). SCL at 20 m is the 10 m class of the upper-left
pixel of each 2 x 2 block. The products cover the upper-left 1980 m x 1980 m
of the scene (a whole number of 60 m pixels).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from eolab.samples._crop_spec import EPSG, SCENE_ORIGIN, TILE_ID

SAFE_WINDOW = 198  #: 10 m pixels per side (33 pixels at 60 m)
#: The two relative orbits over the scene: the sensing minute tells them apart.
RELATIVE_ORBITS = {10: 122, 0: 79}
PROCESSING_BASELINE = "02.09"
_FIRST_PASS = datetime(2017, 9, 2)


def _block_mean(a: np.ndarray, k: int) -> np.ndarray:
    h, w = a.shape[0] // k, a.shape[1] // k
    return np.asarray(a[:h * k, :w * k].reshape(h, k, w, k).mean(axis=(1, 3)))


def product_bands(refl: np.ndarray, bands: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Twelve L2A bands at native resolution from a (band, y, x) 10 m window."""
    get = {b: refl[i].astype(np.float64) for i, b in enumerate(bands)}
    out = {b: get[b] for b in ("B02", "B03", "B04", "B08")}
    out.update({b: _block_mean(get[b], 2) for b in ("B05", "B06", "B07", "B8A", "B11", "B12")})
    out["B01"] = _block_mean(1.1 * get["B02"] + 0.01, 6)
    out["B09"] = _block_mean(0.35 * get["B8A"], 6)
    return out


def pick_dates(weathers: list[Any], count: int) -> list[int]:
    """Indices of ``count`` cloud-free dates spread over the season."""
    clear = [i for i, w in enumerate(weathers)
             if w.cloud_cover == 0 and w.nodata_frac == 0 and w.snow_cover == 0]
    if len(clear) <= count:
        return clear
    pos = np.linspace(0, len(clear) - 1, count).round().astype(int)
    return [clear[p] for p in pos]


def write_products(dest: Path, cube: Any, weathers: list[Any], count: int) -> list[Path]:
    """Write ``count`` clear dates of ``cube`` as zipped L2A products into ``dest``."""
    from eolab.samples.s2safe import write_l2a_product

    n = SAFE_WINDOW
    bands = tuple(str(b) for b in cube["band"].values)
    paths = []
    for t in pick_dates(weathers, count):
        when = weathers[t].when
        refl = cube["reflectance"].values[t, :, :n, :n]
        scl = cube["scl"].values[t, :n:2, :n:2].astype(np.uint8)
        cycle = (when.date() - _FIRST_PASS.date()).days // 5
        paths.append(write_l2a_product(
            dest, bands=product_bands(refl, bands), scl=scl,
            x0=SCENE_ORIGIN[0], y0=SCENE_ORIGIN[1], sensing_time=when,
            generation_time=when + timedelta(hours=2, minutes=13, seconds=5),
            tile=TILE_ID, epsg=EPSG, spacecraft="S2A" if cycle % 2 == 0 else "S2B",
            relative_orbit=RELATIVE_ORBITS[when.minute],
            processing_baseline=PROCESSING_BASELINE))
    return paths
