"""The CDSE OData catalogue: product names, their catalogue entries and the lookup by name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from eolab.errors import FetchError
from eolab.io._cdse_http import _body_excerpt, _new_session, _Policy, _send, _url

#: The four products of the BiDS'23 tutorial (two S2 L2A, two S1 IW SLC), March 2021.
TUTORIAL_PRODUCTS: tuple[str, ...] = (
    "S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346",
    "S2A_MSIL2A_20210325T000241_N0214_R030_T56HKH_20210325T022649",
    "S1A_IW_SLC__1SDV_20210312T191528_20210312T191555_036969_045983_7048",
    "S1A_IW_SLC__1SDV_20210324T191529_20210324T191555_037144_045F93_9AB1",
)

CATALOGUE_URL = "https://catalogue.dataspace.copernicus.eu/odata/v1"
ENV_CATALOGUE_URL = "EOLAB_CDSE_CATALOGUE_URL"

_S1_NAME = re.compile(
    r"S1[A-D]_(?:IW|EW|WV|S[1-6]|EN|N[1-6]|RF)_(?:SLC|GRD|RAW|OCN|ETA)[_FHM]_[0-2][SACN]"
    r"(?:SH|SV|DH|DV|HH|HV|VV|VH)_\d{8}T\d{6}_\d{8}T\d{6}_\d{6}_[0-9A-F]{6}_[0-9A-F]{4}"
)
_S2_NAME = re.compile(
    r"S2[A-D]_MSIL(?:1C|2A)_\d{8}T\d{6}_N\d{4}_R\d{3}_T\d{2}[A-Z]{3}_\d{8}T\d{6}"
)


# --------------------------------------------------------------------------- names


def product_stem(name: str) -> str:
    """Validate a Sentinel-1/2 product name and return it without suffix.

    Parameters
    ----------
    name
        Product name, with or without ``.SAFE``, ``.zip`` or ``.SAFE.zip``.

    Returns
    -------
    str
        The bare name, e.g. ``S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346``.

    Raises
    ------
    FetchError
        The name follows neither the Sentinel-1 nor the Sentinel-2 naming convention.
    """
    stem = str(name).strip()
    for suffix in (".zip", ".SAFE"):
        if stem.upper().endswith(suffix.upper()):
            stem = stem[: -len(suffix)]
    if _S1_NAME.fullmatch(stem) or _S2_NAME.fullmatch(stem):
        return stem
    raise FetchError(
        f"{name!r} is not a Sentinel-1 or Sentinel-2 product name. Expected, e.g., "
        f"{TUTORIAL_PRODUCTS[0]} (S2: MMM_MSIL2A_<sensing>_Nxxxx_Rxxx_Txxxxx_<discriminator>) "
        f"or {TUTORIAL_PRODUCTS[2]} (S1: MMM_BB_TTTR_LFPP_<start>_<stop>_<orbit>_<take>_<crc>)"
    )


# ----------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class ProductInfo:
    """One product as the CDSE OData catalogue describes it.

    Attributes
    ----------
    id
        Catalogue UUID, used in the download URL.
    name
        Catalogue name (with ``.SAFE``).
    size
        ``ContentLength`` in bytes, or None when the catalogue publishes none (0 or null).
    checksums
        Published checksums, algorithm name in upper case (``"MD5"``, ``"BLAKE3"``)
        to lower-case hexadecimal value.
    online
        False when the product sits in the long-term archive and cannot be downloaded now.
    content_start, content_end
        Sensing period (``ContentDate``), timezone-aware, or None.
    """

    id: str
    name: str
    size: int | None
    checksums: dict[str, str] = field(default_factory=dict)
    online: bool = True
    content_start: datetime | None = None
    content_end: datetime | None = None

    @property
    def stem(self) -> str:
        """The name without ``.SAFE``."""
        return self.name[: -len(".SAFE")] if self.name.upper().endswith(".SAFE") else self.name

    @property
    def filename(self) -> str:
        """File name of the downloaded archive, ``<stem>.zip``."""
        return f"{self.stem}.zip"

    @classmethod
    def from_odata(cls, entry: Mapping[str, Any]) -> ProductInfo:
        """Build from one element of an OData ``value`` list."""
        sums: dict[str, str] = {}
        for item in entry.get("Checksum") or []:
            algorithm, value = item.get("Algorithm"), item.get("Value")
            if algorithm and value:
                sums[str(algorithm).upper()] = str(value).strip().lower()
        try:
            length = int(entry.get("ContentLength") or 0)
        except (TypeError, ValueError):
            length = 0
        dates = entry.get("ContentDate") or {}
        return cls(
            id=str(entry["Id"]),
            name=str(entry["Name"]),
            size=length if length > 0 else None,
            checksums=sums,
            online=bool(entry.get("Online", True)),
            content_start=_parse_date(dates.get("Start")),
            content_end=_parse_date(dates.get("End")),
        )


def _parse_date(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def find_product(
    name: str,
    *,
    session: requests.Session | None = None,
    catalogue_url: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> ProductInfo:
    """Look a product up by its exact name in the CDSE OData catalogue.

    Parameters
    ----------
    name
        Product name, with or without ``.SAFE`` / ``.zip``.
    session
        Session to reuse; a new one by default.
    catalogue_url
        OData service root; default ``$EOLAB_CDSE_CATALOGUE_URL`` or :data:`CATALOGUE_URL`.
    retries, backoff, timeout
        Retries after transient failures, first backoff delay (s, doubled each
        time), per-request timeout (s).

    Returns
    -------
    ProductInfo

    Raises
    ------
    FetchError
        Invalid name (raised before any request), catalogue unreachable, or no such product.
    """
    stem = product_stem(name)
    root = _url(catalogue_url, ENV_CATALOGUE_URL, CATALOGUE_URL)
    policy = _Policy(retries, backoff, timeout)
    own = session is None
    session = session or _new_session()
    try:
        query = quote(f"Name eq '{stem}.SAFE'")  # spaces as %20, as in the CDSE examples
        response = _send(
            session, "GET", f"{root}/Products?$filter={query}", policy=policy,
            what=f"catalogue search for {stem}", headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            raise FetchError(
                f"catalogue search for {stem} failed: HTTP {response.status_code} "
                f"{_body_excerpt(response)!r} from {root}"
            )
        try:
            entries = response.json().get("value") or []
        except ValueError as exc:
            raise FetchError(f"the catalogue at {root} did not answer with OData JSON") from exc
    finally:
        if own:
            session.close()
    matches = [e for e in entries if str(e.get("Name", "")) in (stem, f"{stem}.SAFE")]
    if not matches:
        raise FetchError(
            f"no product named {stem} in the CDSE catalogue ({root}); check the name "
            "(https://browser.dataspace.copernicus.eu)"
        )
    matches.sort(key=lambda e: not e.get("Online", True))  # an online copy first
    return ProductInfo.from_odata(matches[0])
