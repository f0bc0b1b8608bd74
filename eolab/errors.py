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
