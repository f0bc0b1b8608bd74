"""Deterministic simulated crop scene and TimeSen2Crop-format training data (exercise 2).

A seeded model of 2 km x 2 km of farmland on the Traun-Enns plateau south-west
of Linz, on the real Sentinel-2 tile grid 33UVP (EPSG:32633, 10 m), over the
TimeSen2Crop season (September 2017 to August 2018):

* **fields**: about 230 parcels (strips of about 1-2 ha on a slightly rotated cadastral
  grid), grass margins about one pixel wide between them and two roads; each
  parcel grows one of the 16 TimeSen2Crop classes, dealt out in Upper-Austrian
  proportions (grassland, maize, winter wheat and barley most common), every
  class at least twice;
* **phenology**: per class, the cover of green and dry vegetation through the
  season (sowing, green-up, peak, senescence, harvest; winter crops green in
  autumn, summer crops after a catch crop or bare soil; grassland cut three
  times; rapeseed and sunflower flowering yellow, caraway white), shifted and
  scaled per parcel, with smooth variation inside each parcel, turned into
  L2A reflectance of ten bands by linear mixing of soil, green and dry
  vegetation spectra (``_crop_spec``, ``_crop_render``);
* **sky**: about 50 irregular dates from two relative orbits, clouds with soft
  edges and their shadows (bright and dark in the reflectance), thin cirrus,
  snow in winter, a swath edge on some dates, all marked in a Sen2Cor-like
  SCL (``_crop_weather``).

The image series is stored as a CF NetCDF cube (:mod:`eolab.crop.timeseries`),
the parcels with their class as ``crop_parcels_truth.gpkg``. Training pixels
of *other* parcels, from the same model and weather climate, are written in
the TimeSen2Crop layout for tiles 33UVP (the scene's dates) and 33UWP (dates
of their own), so that a model trained on them classifies the scene.
Everything is simulated; the truth is known exactly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from eolab.errors import OutputError, SampleDataError
from eolab.samples._crop_layout import deal_classes, layout, raster
from eolab.samples._crop_render import Pixels, render, to_dn
from eolab.samples._crop_safe import write_products
from eolab.samples._crop_spec import (
    BANDS,
    CROP_CLASSES,
    DEFAULT_SEED,
    EPSG,
    GENERATOR_VERSION,
    MARGIN,
    NIR_FACTOR,
    PROPORTIONS,
    RES,
    ROAD,
    SCENE_ORIGIN,
    SCENE_SIZE,
    SEASON_START,
    TILE_ID,
    TRAINING_TILES,
    TS2C_BANDS,
)
from eolab.samples._crop_ts2c import parcel_params, simulate_pixels, write_tile
from eolab.samples._crop_weather import Weather, calendar, scene_sky, weather

__all__ = [
    "BANDS",
    "CROP_CLASSES",
    "CROP_CUBE",
    "CROP_PARCELS",
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "PROPORTIONS",
    "TILE_ID",
    "TIMESEN2CROP_DIR",
    "TRAINING_TILES",
    "TS2C_BANDS",
    "CropScene",
    "simulate_crop_scene",
    "simulate_timesen2crop",
    "write_crop_safe",
    "write_crop_samples",
]

CROP_CUBE = "crop_cube_T33UVP_2017-2018.nc"
CROP_PARCELS = "crop_parcels_truth.gpkg"
TIMESEN2CROP_DIR = "timesen2crop"


@dataclass
class CropScene:
    """The simulated scene in memory.

    Attributes
    ----------
    cube
        ``reflectance`` (time, band, y, x) and ``scl`` (time, y, x), CRS set,
        as :func:`eolab.crop.timeseries.cube_dataset` builds it.
    parcels
        GeoDataFrame: ``parcel_id`` (from 1), ``crop_class``, ``crop_name``,
        ``area_m2``, geometry (EPSG:32633).
    classes
        (y, x) int16: crop class of each pixel, -1 margin, -2 road.
    parcel_ids
        (y, x) int32: parcel of each pixel, 0 outside parcels.
    sky
        Truth of the sky, (time, y, x) float32 each: ``cloud`` (opacity),
        ``shadow`` (strength), ``cirrus``, ``snow``, and ``nodata`` (bool).
    weather
        Date-wide weather draws.
    """

    cube: xr.Dataset
    parcels: Any
    classes: np.ndarray
    parcel_ids: np.ndarray
    sky: dict[str, np.ndarray]
    weather: list[Weather]


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *stream])


def _day(when: datetime) -> float:
    start = datetime(SEASON_START.year, SEASON_START.month, SEASON_START.day)
    return (when - start).total_seconds() / 86400.0


def _smooth(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    z = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="reflect")
    return np.asarray((z - z.mean()) / max(float(z.std()), 1e-12))


def _scene_weather(seed: int) -> list[Weather]:
    dates = calendar(_rng(seed, 5))
    return [weather(_rng(seed, 6, i), d) for i, d in enumerate(dates)]


def simulate_crop_scene(*, seed: int = DEFAULT_SEED, size: int = SCENE_SIZE) -> CropScene:
    """Simulate the crop scene in memory (seconds; about 0.5 GB for the default size).

    Parameters
    ----------
    seed
        Seed of every random draw; the same seed gives the same scene.
    size
        Pixels per side (10 m); the scene's upper-left corner is fixed.
    """
    import geopandas as gpd

    if not 16 <= int(size) <= 2000:
        raise SampleDataError(f"size must be 16-2000 pixels, got {size}")
    size = int(size)
    polys, roads = layout(_rng(seed, 1), SCENE_ORIGIN, size)
    crops = deal_classes(len(polys), _rng(seed, 2))
    params = parcel_params(_rng(seed, 3), crops)
    ids = raster(polys, np.arange(1, len(polys) + 1), SCENE_ORIGIN, size, fill=0)
    road = raster(roads, np.ones(len(roads)), SCENE_ORIGIN, size, fill=0) > 0
    ids[road] = 0
    classes = np.where(ids > 0, np.concatenate([[MARGIN], crops])[ids], MARGIN)
    classes = np.where(road, ROAD, classes).astype(np.int16)
    frng = _rng(seed, 4)
    vigour, soil_field, timing = (_smooth(frng, size, s) for s in (3.0, 12.0, 6.0))
    pid = np.clip(ids - 1, 0, None)
    inside = ids > 0
    ones = np.ones((size, size))
    px = Pixels(
        crop=classes.ravel(),
        catch=np.where(inside, params["catch"][pid], False).ravel(),
        shift=(np.where(inside, params["shift"][pid], 0.0) + 1.5 * timing).ravel(),
        amp=(np.where(inside, params["amp"][pid], ones) * (1.0 + 0.06 * vigour)).ravel(),
        nir=np.where(inside, params["nir"][pid], NIR_FACTOR[MARGIN]).ravel(),
        soil=(np.where(inside, params["soil"][pid], ones) * (1.0 + 0.06 * soil_field)).ravel(),
    )
    weathers = _scene_weather(seed)
    nt = len(weathers)
    dn = np.empty((nt, len(BANDS), size, size), np.int16)
    scl = np.empty((nt, size, size), np.int8)
    sky = {k: np.empty((nt, size, size), np.float32) for k in ("cloud", "shadow", "cirrus",
                                                                 "snow")}
    sky["nodata"] = np.empty((nt, size, size), bool)
    for t, w in enumerate(weathers):
        s = scene_sky(_rng(seed, 6, t, 1), w, size)
        refl, codes = render(_day(w.when), px, s, _rng(seed, 7, t))
        dn[t] = to_dn(refl).reshape(len(BANDS), size, size)
        scl[t] = codes.reshape(size, size)
        for k, arr in sky.items():
            arr[t] = getattr(s, k).reshape(size, size)
    x = SCENE_ORIGIN[0] + RES / 2 + RES * np.arange(size)
    y = SCENE_ORIGIN[1] - RES / 2 - RES * np.arange(size)
    from eolab.crop.timeseries import cube_dataset

    cube = cube_dataset(dn, scl, times=[w.when for w in weathers], bands=BANDS, x=x, y=y,
                        crs=f"EPSG:{EPSG}", attrs={
                            "title": f"Simulated Sentinel-2 L2A time series, tile {TILE_ID}",
                            "source": f"eolab.samples.crop generator {GENERATOR_VERSION}, "
                                      f"seed {seed} (simulated data)",
                            "tile_id": TILE_ID})
    areas = [round(p.area, 1) for p in polys]
    parcels = gpd.GeoDataFrame(
        {"parcel_id": np.arange(1, len(polys) + 1, dtype=np.int32),
         "crop_class": crops.astype(np.int32),
         "crop_name": [CROP_CLASSES[int(c)] for c in crops],
         "area_m2": areas},
        geometry=polys, crs=f"EPSG:{EPSG}")
    return CropScene(cube=cube, parcels=parcels, classes=classes, parcel_ids=ids, sky=sky,
                     weather=weathers)


def simulate_timesen2crop(
    *, seed: int = DEFAULT_SEED, tile: str = TILE_ID, n_pixels: int | None = None,
) -> tuple[list[datetime], np.ndarray, np.ndarray, np.ndarray]:
    """Simulate TimeSen2Crop training pixels of one tile.

    Tile 33UVP uses the scene's dates and weather draws (other parcels, other
    clouds); any other tile gets a calendar of its own.

    Returns
    -------
    dates, dn, flags, labels
        Acquisition times; int16 (N, T, 9) reflectance x 10000 of
        :data:`TS2C_BANDS`; uint8 (N, T) flags (0 clear, 1 cloud, 2 shadow,
        3 snow); (N,) class ids.
    """
    if tile not in TRAINING_TILES and n_pixels is None:
        raise SampleDataError(f"no default pixel count for tile {tile!r}: pass n_pixels")
    n = int(n_pixels if n_pixels is not None else TRAINING_TILES[tile])
    k = sorted(TRAINING_TILES).index(tile) if tile in TRAINING_TILES else 99
    if tile == TILE_ID:
        weathers = _scene_weather(seed)
    else:
        dates = calendar(_rng(seed, 100 + k, 5), per_month=(3, 4, 3, 2, 2, 2, 3, 4, 6, 6, 6, 5))
        weathers = [weather(_rng(seed, 100 + k, 6, i), d) for i, d in enumerate(dates)]
    dn, flags, labels, _ = simulate_pixels(_rng(seed, 100 + k, 7), weathers, n)
    return [w.when for w in weathers], dn, flags, labels


def write_crop_samples(dest: str | os.PathLike[str], *, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the crop scene and its TimeSen2Crop-format training data into ``dest``.

    Writes ``crop_cube_T33UVP_2017-2018.nc`` (NetCDF cube), ``crop_parcels_truth.gpkg``
    (column ``crop_class``: TimeSen2Crop class id) and the folder ``timesen2crop/``
    with tiles ``33UVP`` and ``33UWP`` (``dates.csv``, ``<class>/<i>.csv``).
    Everything is first written into a staging folder inside ``dest`` and moved
    into place only when complete; previous outputs are replaced.

    Returns
    -------
    list of Path
        The cube, the GeoPackage and the ``timesen2crop`` folder.
    """
    from eolab.crop.timeseries import write_cube

    final = Path(dest)
    try:
        final.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".eolab-crop-", dir=final))
    except OSError as exc:
        raise OutputError(f"cannot write into {final}: {exc}") from exc
    try:
        scene = simulate_crop_scene(seed=seed)
        write_cube(scene.cube, staging / CROP_CUBE)
        scene.parcels.to_file(staging / CROP_PARCELS, driver="GPKG", layer="crop_parcels")
        for tile in sorted(TRAINING_TILES):
            dates, dn, flags, labels = simulate_timesen2crop(seed=seed, tile=tile)
            write_tile(staging / TIMESEN2CROP_DIR, tile, dates, dn, flags, labels)
        outputs = [final / CROP_CUBE, final / CROP_PARCELS, final / TIMESEN2CROP_DIR]
        old = final / f".{TIMESEN2CROP_DIR}.old"
        if (final / TIMESEN2CROP_DIR).exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final / TIMESEN2CROP_DIR, old)
        for out in outputs:
            os.replace(staging / out.name, out)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise OutputError(f"cannot write the crop samples into {final}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outputs


def write_crop_safe(dest: str | os.PathLike[str], *, seed: int = DEFAULT_SEED,
                    count: int = 4, scene: CropScene | None = None) -> list[Path]:
    """Write ``count`` cloud-free dates of the scene as zipped Sentinel-2 L2A SAFE products.

    The products (tile 33UVP, processing baseline 02.09, relative orbits 122 and 79)
    cover the upper-left 1980 m x 1980 m of the scene; the bands the scene has are
    the cube's values (20 and 60 m ones block means), B01 and B09 are stand-ins.
    Each zip is written atomically by :func:`eolab.samples.s2safe.write_l2a_product`.
    ``scene`` (from :func:`simulate_crop_scene`) saves simulating it again; ``seed``
    is then ignored.

    Returns
    -------
    list of Path
        The zips, in date order.
    """
    if not 1 <= int(count) <= 20:
        raise SampleDataError(f"count must be 1-20 products, got {count}")
    if scene is None:
        scene = simulate_crop_scene(seed=seed)
    try:
        return write_products(Path(dest), scene.cube, scene.weather, int(count))
    except OSError as exc:
        raise OutputError(f"cannot write the crop SAFE products into {dest}: {exc}") from exc
