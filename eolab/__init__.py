"""eolab: AI on Earth observation, hands-on.

A thin library of xarray/geopandas functions behind the notebooks and the
``eolab`` command that rebuild the AI4Copernicus BiDS'23 tutorial offline.
"""

from __future__ import annotations

from eolab._lazy import lazy_getattr
from eolab._version import __version__
from eolab.aoi import TUTORIAL_AOI_WKT, aoi_to_crs, parse_aoi
from eolab.errors import (
    AOIError,
    AuthenticationError,
    BandError,
    ChecksumError,
    CorruptProductError,
    CRSError,
    EolabError,
    FetchError,
    LayerError,
    RasterError,
    ThresholdError,
    OutputError,
    ProductError,
    ProductTypeError,
    ResolutionError,
    SampleDataError,
)

# Heavier parts load on first use, so `import eolab` stays fast.
_LAZY = {
    "open_l2a": "eolab.io.sentinel2",
    "cloud_mask": "eolab.io.sentinel2",
    "mask_clouds": "eolab.io.sentinel2",
    "read_admin_units": "eolab.io.boundaries",
    "write_geotiff": "eolab.io.rasters",
    "fetch": "eolab.io.fetch",
    "build_samples": "eolab.samples",
    "ensure_samples": "eolab.samples",
    "rgb_composite": "eolab.composites",
    "run_tutorial": "eolab.tutorial",
    "cva": "eolab.change",
    "classify": "eolab.change",
    "auto_threshold": "eolab.change",
    "threshold_histogram": "eolab.change",
    "match_grid": "eolab.io.rasters",
    "water_index": "eolab.water",
    "water_mask": "eolab.water",
    "flood_change_mask": "eolab.water",
    "open_slc": "eolab.io.sentinel1",
    "open_grd": "eolab.io.sentinel1",
    "pair_to_map": "eolab.s1.chain",
    "sigma0_pair_to_map": "eolab.s1.chain",
    "sar_flood": "eolab.s1.flood",
    "sar_water": "eolab.s1.flood",
    "acd_composite": "eolab.composites",
    "mtc_composite": "eolab.composites",
}
_SUBMODULES = ("maps", "samples", "io", "composites", "plotting", "tutorial", "aoi", "errors",
               "change", "flood", "workflows", "water", "validation", "s1", "linked", "crop")


__getattr__ = lazy_getattr("eolab", _LAZY, _SUBMODULES)


__all__ = [
    "__version__",
    *_LAZY,
    *_SUBMODULES,
    "TUTORIAL_AOI_WKT",
    "parse_aoi",
    "aoi_to_crs",
    "EolabError",
    "AOIError",
    "BandError",
    "ResolutionError",
    "ProductError",
    "CorruptProductError",
    "ProductTypeError",
    "CRSError",
    "SampleDataError",
    "FetchError",
    "AuthenticationError",
    "ChecksumError",
    "OutputError",
    "LayerError",
    "RasterError",
    "ThresholdError",
]
