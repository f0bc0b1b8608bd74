"""Acquisition calendar and sky of the simulated crop scene.

Sentinel-2A and 2B see the area every 5 days from each of two relative
orbits; about 50 of those dates are kept, more in the growing season.
Each date draws its weather: the share of the area under cloud (more often
cloudy in late autumn and winter), thin cirrus, snow in December to
February, soil moisture, a small residual error of the atmospheric
correction, and for some dates of the second orbit the swath edge (no data).
Clouds are smooth random fields with soft edges; their shadows are the same
field moved away from the sun by the cloud height over the tangent of the
sun elevation (longer in winter), so they fall on the ground north-north-west
of the clouds and may come from clouds outside the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from scipy import ndimage

from eolab.samples._crop_render import Sky
from eolab.samples._crop_spec import RES, SEASON_START

#: Dates kept per month, September to August (50 in all).
DATES_PER_MONTH = (4, 5, 3, 2, 2, 3, 3, 5, 6, 6, 6, 5)
#: Probability that a date is cloudy, per calendar month.
P_CLOUDY = {9: .45, 10: .5, 11: .7, 12: .75, 1: .7, 2: .65, 3: .6, 4: .5, 5: .55, 6: .5,
            7: .45, 8: .45}
SUN_AZIMUTH = 165.0  # degrees, about 10:10 UTC
PAD = 64  # pixels of sky simulated around the scene (shadows of outside clouds)


@dataclass
class Weather:
    """Date-wide weather."""

    when: datetime
    cloud_cover: float
    cloud_sigma: float  # px, size of cloud cells
    brightness: float
    cirrus_cover: float
    snow_cover: float
    snow_depth: float
    shadow_shift: tuple[int, int]  # rows, cols from cloud to shadow
    nodata_frac: float
    gain: float
    moisture: float


def calendar(rng: np.random.Generator,
             per_month: tuple[int, ...] = DATES_PER_MONTH) -> list[datetime]:
    """Irregular acquisition dates, 1 September 2017 to 31 August 2018."""
    start = datetime(SEASON_START.year, SEASON_START.month, SEASON_START.day)
    cands = [start + timedelta(days=1 + 5 * k, hours=10, minutes=10, seconds=21)
             for k in range(73)]
    cands += [start + timedelta(days=3 + 5 * k, hours=10, minutes=0, seconds=21)
              for k in range(73)]
    out: list[datetime] = []
    for i, n in enumerate(per_month):
        month = (SEASON_START.month - 1 + i) % 12 + 1
        pool = sorted(c for c in cands if c.month == month and c.year == (2017 if month >= 9
                                                                           else 2018))
        pick = rng.choice(len(pool), size=n, replace=False)
        out.extend(pool[j] for j in sorted(pick))
    return sorted(out)


def _sun_elevation(when: datetime) -> float:
    doy = when.timetuple().tm_yday
    return 41.5 + 22.5 * math.cos(2 * math.pi * (doy - 172) / 365.0)


def weather(rng: np.random.Generator, when: datetime) -> Weather:
    """Draw the weather of one date."""
    cloudy = rng.uniform() < P_CLOUDY[when.month]
    cover = float(rng.uniform(0.05, 0.9)) if cloudy else 0.0
    cirrus = float(rng.uniform(0.2, 0.8)) if rng.uniform() < 0.15 else 0.0
    winter = when.month in (12, 1, 2)
    snow = float(rng.choice([0.4, 0.8, 1.0])) if winter and rng.uniform() < 0.5 else 0.0
    height = rng.uniform(500.0, 2000.0)
    length = min(height / math.tan(math.radians(_sun_elevation(when))), 600.0) / RES
    away = math.radians(SUN_AZIMUTH + 180.0)
    shift = (round(-length * math.cos(away)), round(length * math.sin(away)))
    second_orbit = when.hour == 10 and when.minute == 0
    nodata = float(rng.uniform(0.1, 0.4)) if second_orbit and rng.uniform() < 0.15 else 0.0
    return Weather(when=when, cloud_cover=cover, cloud_sigma=float(rng.uniform(6.0, 14.0)),
                   brightness=float(rng.uniform(0.75, 1.1)), cirrus_cover=cirrus,
                   snow_cover=snow, snow_depth=float(rng.uniform(0.6, 1.0)),
                   shadow_shift=shift, nodata_frac=nodata,
                   gain=float(1.0 + 0.02 * rng.standard_normal()),
                   moisture=float(rng.uniform(0.8, 0.95) if when.month in (11, 12, 1, 2, 3)
                                  else rng.uniform(0.9, 1.05)))


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    z = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return np.asarray((z - z.mean()) / max(float(z.std()), 1e-12))


def _cover(z: np.ndarray, share: float, soft: float) -> np.ndarray:
    if share <= 0:
        return np.zeros_like(z)
    if share >= 0.999:
        return np.ones_like(z)
    thr = np.quantile(z, 1.0 - share)
    return np.asarray(np.clip((z - thr) / soft, 0.0, 1.0))


def scene_sky(rng: np.random.Generator, w: Weather, size: int) -> Sky:
    """Spatial sky of one date over a (size, size) scene, flattened row by row."""
    full = (size + 2 * PAD, size + 2 * PAD)
    cloud_full = (_cover(_field(rng, full, w.cloud_sigma), w.cloud_cover, 0.6) ** 0.6
                  if w.cloud_cover > 0 else np.zeros(full))
    inner = np.s_[PAD:PAD + size, PAD:PAD + size]
    sy, sx = w.shadow_shift
    shadow = cloud_full[PAD - sy:PAD - sy + size, PAD - sx:PAD - sx + size]
    zero = np.zeros((size, size))
    cirrus = (_cover(_field(rng, (size, size), 20.0), w.cirrus_cover, 1.0)
              if w.cirrus_cover > 0 else zero)
    snow = (_cover(_field(rng, (size, size), 25.0), w.snow_cover, 0.15) * w.snow_depth
            if w.snow_cover > 0 else zero)
    cols = np.arange(size)[None, :] + 0.15 * np.arange(size)[:, None]
    nodata = (cols > (1.0 - w.nodata_frac) * size) if w.nodata_frac > 0 else \
        np.zeros((size, size), bool)
    n = size * size
    return Sky(cloud=cloud_full[inner].ravel(), brightness=np.full(n, w.brightness),
               shadow=shadow.ravel(), cirrus=cirrus.ravel(), snow=snow.ravel(),
               nodata=nodata.ravel(), gain=w.gain, moisture=w.moisture)


def pixel_sky(rng: np.random.Generator, w: Weather, group: np.ndarray) -> Sky:
    """Sky of one date over scattered pixels; pixels of one ``group`` (parcel) share it."""
    n_groups = int(group.max()) + 1
    n = group.size
    u = rng.uniform(size=(4, n_groups))
    cloudy = u[0] < w.cloud_cover
    opacity = np.where(cloudy, rng.uniform(0.15, 1.0, n_groups), 0.0)
    cloud = np.clip(opacity[group] + np.where(cloudy[group], 0.1, 0.0)
                    * rng.standard_normal(n), 0.0, 1.0)
    shaded = ~cloudy & (u[1] < 0.4 * w.cloud_cover)
    shadow = np.where(shaded, rng.uniform(0.3, 1.0, n_groups), 0.0)[group]
    cirrus = np.where(u[2] < w.cirrus_cover, rng.uniform(0.3, 1.0, n_groups), 0.0)[group]
    snow = np.where(u[3] < w.snow_cover, w.snow_depth, 0.0)[group]
    return Sky(cloud=cloud, brightness=np.full(n, w.brightness), shadow=shadow, cirrus=cirrus,
               snow=snow, nodata=np.zeros(n, bool), gain=w.gain, moisture=w.moisture)
