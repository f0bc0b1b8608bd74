"""eolab: AI on Earth observation, hands-on.

A thin library of xarray/geopandas functions behind the notebooks and the
``eolab`` command that rebuild the AI4Copernicus BiDS'23 tutorial offline.
"""

from __future__ import annotations

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
    OutputError,
    ProductError,
    ProductTypeError,
    ResolutionError,
    SampleDataError,
)

__all__ = [
    "__version__",
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
]
