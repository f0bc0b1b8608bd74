"""Render pixels of the simulated crop scene: phenology -> ground reflectance -> sky.

One renderer serves the image cube (every pixel of the scene) and the
TimeSen2Crop-format training pixels (pixels of other parcels), so that both
come from the same model. Pixels are flat arrays; a date is rendered at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eolab.samples._crop_spec import (
    ASPHALT,
    CIRRUS,
    CLOUD,
    DRY,
    NIR_WEIGHT,
    ROAD,
    SNOW,
    SOIL,
    VEG,
    WHITE,
    YELLOW,
    phenology_table,
)

NOISE_SIGMA = 0.004  #: additive sensor noise (reflectance)
GAIN_SIGMA = 0.015  #: multiplicative per-pixel noise
#: SCL thresholds: cloud opacity for high / medium probability, cirrus, shadow, snow.
CLOUD_HIGH, CLOUD_MEDIUM, CIRRUS_MIN, SHADOW_MIN, SNOW_MIN = 0.5, 0.05, 0.25, 0.15, 0.2
SHADOW_DEPTH = 0.7  #: fraction of direct light a full shadow removes


@dataclass
class Pixels:
    """Per-pixel ground parameters (flat arrays of one length)."""

    crop: np.ndarray  # class id, MARGIN or ROAD
    catch: np.ndarray  # catch crop in autumn (summer crops)
    shift: np.ndarray  # days added to the class calendar
    amp: np.ndarray  # green cover factor
    nir: np.ndarray  # canopy near-infrared factor
    soil: np.ndarray  # soil brightness factor


@dataclass
class Sky:
    """Per-pixel sky of one date (flat arrays) and date-wide factors."""

    cloud: np.ndarray  # cloud opacity 0-1
    brightness: np.ndarray  # cloud top brightness factor
    shadow: np.ndarray  # shadow strength 0-1
    cirrus: np.ndarray  # cirrus thickness 0-1
    snow: np.ndarray  # snow cover 0-1
    nodata: np.ndarray  # outside the swath
    gain: float  # residual atmospheric correction error
    moisture: float  # soil darkening factor (wet soil < 1)


_TABLES: dict[tuple[int, bool], np.ndarray] = {}


def _table(crop: int, catch: bool) -> np.ndarray:
    key = (crop, catch)
    if key not in _TABLES:
        _TABLES[key] = phenology_table(crop, catch)
    return _TABLES[key]


def cover(t: float, px: Pixels) -> np.ndarray:
    """Cover fractions (4, P): green, dry, yellow flowers, white flowers at day ``t``."""
    out = np.zeros((4, px.crop.size))
    for crop in np.unique(px.crop):
        if crop == ROAD:
            continue
        for catch in (False, True):
            idx = np.flatnonzero((px.crop == crop) & (px.catch == catch))
            if idx.size == 0:
                continue
            table = _table(int(crop), catch)
            tt = np.clip(t - px.shift[idx], table[0, 0], table[-1, 0])
            for k in range(4):
                out[k, idx] = np.interp(tt, table[:, 0], table[:, k + 1])
    green = np.clip(out[0] * px.amp, 0.0, 0.97)
    out[1] = np.clip(out[1], 0.0, 1.0 - green)
    out[0] = green
    return out


def ground(t: float, px: Pixels, moisture: float) -> np.ndarray:
    """Noise-free ground reflectance (band, P) at day ``t``."""
    g, d, fy, fw = cover(t, px)
    veg = VEG[:, None] * (1.0 + NIR_WEIGHT[:, None] * (px.nir[None, :] - 1.0))
    soil = SOIL[:, None] * px.soil[None, :] * moisture
    refl = g * veg + d * DRY[:, None] + (1.0 - g - d) * soil
    refl = (1.0 - fy - fw) * refl + fy * YELLOW[:, None] + fw * WHITE[:, None]
    road = px.crop == ROAD
    refl[:, road] = ASPHALT[:, None] * px.soil[road]
    return np.asarray(refl, dtype=np.float64)


def scl_codes(refl_ground: np.ndarray, sky: Sky, crop: np.ndarray) -> np.ndarray:
    """Sen2Cor-like scene classes from the known sky and ground."""
    nir, red = refl_ground[6], refl_ground[2]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    scl = np.where((ndvi >= 0.4) & (crop != ROAD), 4, 5).astype(np.int8)
    scl[sky.snow >= SNOW_MIN] = 11
    scl[sky.shadow >= SHADOW_MIN] = 3
    scl[sky.cirrus >= CIRRUS_MIN] = 10
    scl[sky.cloud >= CLOUD_MEDIUM] = 8
    scl[sky.cloud >= CLOUD_HIGH] = 9
    scl[sky.nodata] = 0
    return scl


def render(t: float, px: Pixels, sky: Sky,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Observed reflectance (band, P; NaN outside the swath) and SCL (P,) at day ``t``."""
    base = ground(t, px, sky.moisture)
    scl = scl_codes(base, sky, px.crop)
    n = px.crop.size
    refl = base * (1.0 + GAIN_SIGMA * rng.standard_normal((1, n)))
    refl = (1.0 - sky.snow) * refl + sky.snow * SNOW[:, None]
    refl = refl * (1.0 - SHADOW_DEPTH * sky.shadow)
    refl = refl + sky.cirrus * CIRRUS[:, None]
    refl = (1.0 - sky.cloud) * refl + sky.cloud * sky.brightness * CLOUD[:, None]
    refl = refl * sky.gain + NOISE_SIGMA * rng.standard_normal(refl.shape)
    refl = np.clip(refl, 1e-4, 3.2)
    refl[:, sky.nodata] = np.nan
    return refl, scl


def to_dn(refl: np.ndarray) -> np.ndarray:
    """Reflectance to int16 DN (x 10000); NaN becomes the fill value -32768."""
    dn = np.where(np.isfinite(refl), np.round(refl * 10000.0), -32768.0)
    return dn.astype(np.int16)
