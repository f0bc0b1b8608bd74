"""TimeSen2Crop-format training pixels: simulation and writer.

Layout (Weikmann et al. 2021, TimeSen2Crop)::

    <root>/<tile>/dates.csv            header ``acquisition_date``, one YYYYMMDD per row
    <root>/<tile>/<class>/<i>.csv      header ``B1,...,B9,Flag``, one row per date

B1..B9 are L2A reflectance x 10000 of B02, B03, B04, B05, B06, B07, B8A, B11,
B12; Flag is 0 clear, 1 cloud, 2 shadow, 3 snow (from the scene classification).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from eolab.samples._crop_render import Pixels, render, to_dn
from eolab.samples._crop_spec import BANDS, CROP_CLASSES, NIR_FACTOR, PROPORTIONS, TS2C_BANDS
from eolab.samples._crop_weather import Weather, pixel_sky

HEADER = ",".join(f"B{i}" for i in range(1, 10)) + ",Flag"
PIXELS_PER_PARCEL = 8
_TS2C_INDEX = [BANDS.index(b) for b in TS2C_BANDS]


def flags_of_scl(scl: np.ndarray) -> np.ndarray:
    """TimeSen2Crop flags from SCL: 1 cloud (8, 9, 10, and no data 0), 2 shadow (3), 3 snow (11)."""
    flag = np.zeros(scl.shape, np.uint8)
    flag[np.isin(scl, (0, 8, 9, 10))] = 1
    flag[scl == 3] = 2
    flag[scl == 11] = 3
    return flag


def parcel_params(rng: np.random.Generator, classes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-parcel ground parameters (timing shift, vigour, canopy NIR, soil, catch crop)."""
    n = classes.size
    return {
        "shift": rng.normal(0.0, 6.0, n),
        "amp": rng.uniform(0.85, 1.05, n),
        "nir": np.array([NIR_FACTOR[int(c)] for c in classes]) * rng.uniform(0.93, 1.07, n),
        "soil": rng.uniform(0.8, 1.2, n),
        "catch": rng.uniform(size=n) < 0.5,
    }


def class_counts(n_pixels: int, minimum: int) -> dict[int, int]:
    """Pixels per class: the regional proportions with a floor for rare classes."""
    return {c: max(minimum, round(PROPORTIONS[c] * n_pixels)) for c in sorted(CROP_CLASSES)}


def simulate_pixels(rng: np.random.Generator, weathers: list[Weather], n_pixels: int,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training pixels of parcels of their own: DN (N, T, 9), flags (N, T), labels, parcels."""
    counts = class_counts(n_pixels, minimum=max(8, n_pixels // 40))
    labels = np.concatenate([np.full(n, c) for c, n in counts.items()])
    n = labels.size
    # consecutive runs of PIXELS_PER_PARCEL pixels of a class share a parcel
    starts = np.concatenate([[0], np.cumsum(list(counts.values()))[:-1]])
    within = np.arange(n) - np.repeat(starts, list(counts.values()))
    parcel_key = labels * 100000 + within // PIXELS_PER_PARCEL
    _, parcel = np.unique(parcel_key, return_inverse=True)
    parcel_class = np.zeros(parcel.max() + 1, int)
    parcel_class[parcel] = labels
    params = parcel_params(rng, parcel_class)
    px = Pixels(crop=labels, catch=params["catch"][parcel], shift=params["shift"][parcel],
                amp=params["amp"][parcel] * (1.0 + 0.06 * rng.standard_normal(n)),
                nir=params["nir"][parcel],
                soil=params["soil"][parcel] * (1.0 + 0.05 * rng.standard_normal(n)))
    dn = np.empty((n, len(weathers), len(TS2C_BANDS)), np.int16)
    flags = np.empty((n, len(weathers)), np.uint8)
    start = weathers[0].when.replace(month=9, day=1, hour=0, minute=0, second=0)
    for t, w in enumerate(weathers):
        sky = pixel_sky(rng, w, parcel)
        refl, scl = render((w.when - start).total_seconds() / 86400.0, px, sky, rng)
        dn[:, t, :] = to_dn(refl[_TS2C_INDEX]).T
        flags[:, t] = flags_of_scl(scl)
    return dn, flags, labels, parcel


def write_tile(root: Path, tile: str, dates: list[datetime], dn: np.ndarray,
               flags: np.ndarray, labels: np.ndarray) -> Path:
    """Write one tile in the TimeSen2Crop layout under ``root``; returns the tile folder."""
    folder = root / tile
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dates.csv").write_text(
        "acquisition_date\n" + "".join(f"{d:%Y%m%d}\n" for d in dates), encoding="ascii")
    index: dict[int, int] = {}
    for i in range(labels.size):
        c = int(labels[i])
        k = index.get(c, 0)
        index[c] = k + 1
        (folder / str(c)).mkdir(exist_ok=True)
        rows = np.column_stack([dn[i].astype(np.int32), flags[i].astype(np.int32)])
        text = HEADER + "\n" + "\n".join(",".join(map(str, r)) for r in rows.tolist()) + "\n"
        (folder / str(c) / f"{k}.csv").write_text(text, encoding="ascii")
    return folder
