"""Typed exception hierarchy of eolab.

Every error that eolab raises on purpose is an :class:`EolabError`; the
subclasses say what went wrong so that callers (and the CLI, which turns them
into one-line messages and a non-zero exit code) can react precisely. Each
message names the problem and what to do about it.
"""

from __future__ import annotations

__all__ = [
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
    "ThresholdError",
    "RasterError",
    "LinkedDataError",
    "MappingError",
    "StoreError",
    "EndpointError",
    "QueryError",
    "CropError",
    "DatasetFormatError",
    "ModelError",
    "ModelIntegrityError",
    "CubeMismatchError",
]


class EolabError(Exception):
    """Base class of every error raised on purpose by eolab."""


class AOIError(EolabError, ValueError):
    """The area of interest is invalid or does not overlap the data."""


class BandError(EolabError, KeyError):
    """A band name is unknown or the band is missing from a product."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ResolutionError(EolabError, ValueError):
    """A requested resolution is not supported."""


class ProductError(EolabError):
    """A product cannot be used (layout, content, type)."""


class CorruptProductError(ProductError):
    """A product archive or one of its files is corrupt or truncated."""


class ProductTypeError(ProductError):
    """A product is not of the expected type (e.g. L1C where L2A is needed)."""


class CRSError(EolabError, ValueError):
    """A coordinate reference system is missing, invalid or incompatible."""


class SampleDataError(EolabError):
    """The bundled sample data are missing or do not match the registry."""


class FetchError(EolabError):
    """Finding or downloading a product failed."""


class AuthenticationError(FetchError):
    """Credentials are missing or were refused by the data provider."""


class ChecksumError(FetchError):
    """A downloaded file does not match its published checksum."""


class OutputError(EolabError):
    """An output cannot be written (existing file, unwritable folder...)."""


class LayerError(EolabError, ValueError):
    """A map layer cannot be drawn (empty, unknown column, unsuitable shape)."""


class ThresholdError(EolabError, ValueError):
    """An automatic threshold cannot be computed (unknown method, too few or constant values)."""


class RasterError(EolabError, ValueError):
    """A raster cannot be used as given (data type, dimensions, grid mismatch)."""


# --- linked data (eolab.linked) -------------------------------------------


class LinkedDataError(EolabError):
    """Turning layers into RDF, storing or querying them failed."""


class MappingError(LinkedDataError, ValueError):
    """An R2RML/RML mapping is invalid or does not fit the layer it is applied to."""


class StoreError(LinkedDataError):
    """A triple store cannot be opened, loaded or updated."""


class EndpointError(StoreError):
    """A remote SPARQL endpoint is unreachable or answered with an error status."""


class QueryError(StoreError, ValueError):
    """A SPARQL query is invalid or cannot be answered as asked."""


# --- crop-type mapping (eolab.crop) ---------------------------------------


class CropError(EolabError):
    """Crop-type mapping cannot go on with the data or model given."""


class DatasetFormatError(CropError, ValueError):
    """A training dataset folder is not in the expected (TimeSen2Crop) layout."""


class ModelError(CropError):
    """A crop model cannot be built, trained, saved or loaded."""


class ModelIntegrityError(ModelError):
    """A saved model folder has missing, altered or unsafe files."""


class CubeMismatchError(CropError, ValueError):
    """An image cube's bands, order or time steps do not match the model's configuration."""
