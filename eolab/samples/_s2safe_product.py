"""What a Sentinel-2 L2A product is: bands, codes, names and identifiers.

The band tables and constants are public through :mod:`eolab.samples.s2safe`;
:class:`_Product` gathers the names, ids and geometry of one product while
it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

# The band table is the reader's: the product specification lives in eolab.io.
from eolab.io.sentinel2 import L2A_BANDS

#: ``band_id`` of every MSI band as used in MTD_MSIL2A.xml (B10, cirrus, is
#: not delivered in L2A but keeps its id 10).
BAND_IDS: dict[str, int] = {
    **{name: spec[0] for name, spec in L2A_BANDS.items()},
    "B10": 10,
}
BAND_IDS = dict(sorted(BAND_IDS.items(), key=lambda item: item[1]))

#: Native resolution (m) of each L2A band.
BAND_RESOLUTIONS: dict[str, int] = {name: spec[1] for name, spec in L2A_BANDS.items()}

#: Image files written in each ``IMG_DATA/R<res>m`` folder, in the order of
#: real products (TCI, AOT and WVP are not written).
PRODUCT_BANDS: dict[int, tuple[str, ...]] = {
    10: ("B02", "B03", "B04", "B08"),
    20: ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12", "SCL"),
    60: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B09", "B11", "B12", "SCL"),
}

#: Scene classification (SCL) codes and their names in MTD_MSIL2A.xml.
SCL_CLASSES: dict[int, str] = {
    0: "NODATA",
    1: "SATURATED_DEFECTIVE",
    2: "DARK_FEATURE_SHADOW",
    3: "CLOUD_SHADOW",
    4: "VEGETATION",
    5: "NOT_VEGETATED",
    6: "WATER",
    7: "UNCLASSIFIED",
    8: "CLOUD_MEDIUM_PROBA",
    9: "CLOUD_HIGH_PROBA",
    10: "THIN_CIRRUS",
    11: "SNOW_ICE",
}

QUANTIFICATION_VALUE = 10000  #: BOA_QUANTIFICATION_VALUE of every L2A product.
NODATA_DN = 0  #: SPECIAL_VALUE NODATA.
SATURATED_DN = 65535  #: SPECIAL_VALUE SATURATED.

# Absolute-orbit reference per spacecraft: (UTC time, absolute orbit, relative orbit).
_ORBIT_REFERENCE: dict[str, tuple[datetime, int, int]] = {
    "S2A": (datetime(2018, 8, 18, 9, 40, 31, tzinfo=UTC), 16478, 36),
    "S2B": (datetime(2023, 8, 23, 9, 55, 59, tzinfo=UTC), 33753, 122),
}
_ORBITS_PER_CYCLE = 143
_CYCLE = timedelta(days=10)


# --------------------------------------------------------------------------- baselines


def _baseline_tuple(baseline: str) -> tuple[int, int]:
    if not isinstance(baseline, str) or not re.fullmatch(r"\d\d\.\d\d", baseline):
        raise ValueError(f"processing_baseline must look like '02.14' or '04.00', got {baseline!r}")
    major, minor = baseline.split(".")
    return int(major), int(minor)


# --------------------------------------------------------------------------- naming


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _check_spacecraft(spacecraft: str) -> None:
    if spacecraft not in _ORBIT_REFERENCE:
        raise ValueError(
            f"spacecraft must be one of {sorted(_ORBIT_REFERENCE)}, got {spacecraft!r}"
        )


def _check_orbit(relative_orbit: int) -> None:
    if isinstance(relative_orbit, bool) or not isinstance(relative_orbit, int | np.integer):
        raise TypeError(f"relative_orbit must be an integer, got {relative_orbit!r}")
    if not 1 <= relative_orbit <= _ORBITS_PER_CYCLE:
        raise ValueError(f"relative_orbit must be in 1..143, got {relative_orbit}")


def _check_tile(tile: str, epsg: int) -> None:
    match = re.fullmatch(r"(\d\d)([C-X])([A-Z]{2})", tile) if isinstance(tile, str) else None
    if match is None:
        raise ValueError(f"tile must be an MGRS tile id such as '56HKH', got {tile!r}")
    zone, band = int(match.group(1)), match.group(2)
    expected = (32600 if band >= "N" else 32700) + zone
    if epsg != expected:
        raise ValueError(
            f"tile {tile} lies in UTM zone {zone}{'N' if band >= 'N' else 'S'} "
            f"(EPSG:{expected}); got epsg={epsg}"
        )


def _absolute_orbit(spacecraft: str, sensing: datetime, relative_orbit: int) -> int:
    """Absolute orbit nearest to ``sensing`` whose relative orbit is ``relative_orbit``."""
    ref_time, ref_abs, ref_rel = _ORBIT_REFERENCE[spacecraft]
    estimate = ref_abs + round((sensing - ref_time) / _CYCLE * _ORBITS_PER_CYCLE)
    rel = (estimate - ref_abs + ref_rel - 1) % _ORBITS_PER_CYCLE + 1
    delta = (relative_orbit - rel) % _ORBITS_PER_CYCLE
    if delta > _ORBITS_PER_CYCLE // 2:
        delta -= _ORBITS_PER_CYCLE
    return max(1, estimate + delta)


def l2a_product_name(
    *,
    spacecraft: str,
    sensing_time: datetime,
    processing_baseline: str,
    relative_orbit: int,
    tile: str,
    generation_time: datetime,
) -> str:
    """Compact L2A product name (without ``.SAFE``).

    Examples
    --------
    >>> from datetime import datetime
    >>> l2a_product_name(spacecraft="S2A", sensing_time=datetime(2021, 3, 15, 0, 2, 41),
    ...     processing_baseline="02.14", relative_orbit=30, tile="56HKH",
    ...     generation_time=datetime(2021, 3, 15, 2, 3, 46))
    'S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346'
    """
    _baseline_tuple(processing_baseline)
    return (
        f"{spacecraft}_MSIL2A_{_stamp(_utc(sensing_time, 'sensing_time'))}"
        f"_N{processing_baseline.replace('.', '')}_R{relative_orbit:03d}_T{tile}"
        f"_{_stamp(_utc(generation_time, 'generation_time'))}"
    )


@dataclass(frozen=True)
class _Product:
    """Names, ids and geometry of one product being written."""

    name: str
    spacecraft: str
    tile: str
    epsg: int
    sensing: datetime
    generation: datetime
    baseline: str
    relative_orbit: int
    absolute_orbit: int
    offset: int
    x0: float
    y0: float
    shape20: tuple[int, int]

    @property
    def safe(self) -> str:
        return f"{self.name}.SAFE"

    @property
    def centre(self) -> str:
        return f"2{self.spacecraft[-1]}PS" if self.offset else "SGS_"

    @property
    def granule(self) -> str:
        return f"L2A_T{self.tile}_A{self.absolute_orbit:06d}_{_stamp(self.sensing)}"

    @property
    def datastrip_dir(self) -> str:
        return f"DS_{self.centre}_{_stamp(self.generation)}_S{_stamp(self.sensing)}"

    @property
    def datastrip_id(self) -> str:
        return (
            f"{self.spacecraft}_OPER_MSI_L2A_DS_{self.centre}_{_stamp(self.generation)}"
            f"_S{_stamp(self.sensing)}_N{self.baseline}"
        )

    @property
    def tile_id(self) -> str:
        return (
            f"{self.spacecraft}_OPER_MSI_L2A_TL_{self.centre}_{_stamp(self.generation)}"
            f"_A{self.absolute_orbit:06d}_T{self.tile}_N{self.baseline}"
        )

    def image_file(self, band: str, res: int) -> str:
        """Path relative to the .SAFE, without ``.jp2``, as in Product_Organisation."""
        return (
            f"GRANULE/{self.granule}/IMG_DATA/R{res}m/"
            f"T{self.tile}_{_stamp(self.sensing)}_{band}_{res}m"
        )

    def shape(self, res: int) -> tuple[int, int]:
        factor = 20 / res
        return round(self.shape20[0] * factor), round(self.shape20[1] * factor)
