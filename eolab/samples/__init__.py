"""Deterministic simulated samples of the tutorial (exercise 1: the March 2021 flood).

* :func:`simulate_flood_scene` returns the scene in memory: truth (land cover,
  flood, permanent water, clouds) and reflectance of both dates.
* :func:`build_samples` writes it as the tutorial's Sentinel-2 L2A products
  plus truth files (``eolab samples build``); :func:`verify_samples` checks a
  build against ``registry.json`` (``eolab samples verify``);
  :func:`ensure_samples` builds only when needed.

Everything here is simulated; see ``data_samples/README.md``.
"""

from __future__ import annotations

from eolab.samples.build import (
    PRODUCTS,
    TRUTH_FILES,
    build_samples,
    checksums,
    ensure_samples,
    sample_files,
    simulated_admin_units,
    update_registry,
    verify_samples,
)
from eolab.samples.flood import (
    BAND_RESOLUTION,
    BANDS,
    CLOUD_CLASSES,
    DATES,
    DEFAULT_SEED,
    FULL_WINDOW,
    GENERATOR_VERSION,
    LANDCOVER_CLASSES,
    NOISE_SIGMA,
    FloodScene,
    simulate_flood_scene,
)
from eolab.samples.crop import (
    CROP_CUBE,
    CROP_PARCELS,
    TIMESEN2CROP_DIR,
    simulate_crop_scene,
    simulate_timesen2crop,
    write_crop_safe,
    write_crop_samples,
)
from eolab.samples.paths import data_dir

__all__ = [
    "BANDS",
    "BAND_RESOLUTION",
    "CLOUD_CLASSES",
    "DATES",
    "DEFAULT_SEED",
    "FULL_WINDOW",
    "GENERATOR_VERSION",
    "LANDCOVER_CLASSES",
    "NOISE_SIGMA",
    "PRODUCTS",
    "TRUTH_FILES",
    "FloodScene",
    "build_samples",
    "checksums",
    "data_dir",
    "ensure_samples",
    "sample_files",
    "simulate_flood_scene",
    "simulated_admin_units",
    "update_registry",
    "verify_samples",
    "CROP_CUBE",
    "CROP_PARCELS",
    "TIMESEN2CROP_DIR",
    "simulate_crop_scene",
    "simulate_timesen2crop",
    "write_crop_safe",
    "write_crop_samples",
]
