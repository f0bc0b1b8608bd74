"""Find and download Sentinel-1/2 products by name from the Copernicus Data Space Ecosystem.

The Copernicus Data Space Ecosystem (CDSE) replaced the Copernicus Open Access
Hub in 2023. Three services are involved:

* the **OData catalogue** (public, no login) answers
  ``GET <catalogue>/Products?$filter=Name eq '<name>.SAFE'`` with the product
  ``Id``, ``ContentLength``, ``Online`` flag and ``Checksum`` list
  (``[{"Value", "Algorithm", "ChecksumDate"}]``, MD5 and/or BLAKE3);
* the **identity service** (Keycloak, OpenID Connect) issues short-lived bearer
  tokens for the public client ``cdse-public`` (password grant, then
  refresh-token grant);
* the **download service** (``zipper``) streams the zipped SAFE from
  ``<download>/Products(<Id>)/$value``, possibly after redirects, and honours
  HTTP ``Range`` so that interrupted transfers can resume.

:func:`fetch` ties them together: it validates the names before any request,
skips files already present and verified, streams to ``<name>.zip.part``,
resumes after drops, refreshes the token when it expires, retries transient
failures with exponential backoff, verifies size and checksum and renames the
file into place atomically.

Every base URL can be changed with a keyword argument or an environment
variable (``EOLAB_CDSE_CATALOGUE_URL``, ``EOLAB_CDSE_DOWNLOAD_URL``,
``EOLAB_CDSE_TOKEN_URL``); the tests point them at a local stand-in server.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import netrc
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urljoin, urlsplit

import requests
from tqdm import tqdm

from eolab._version import __version__
from eolab.errors import AuthenticationError, ChecksumError, FetchError, OutputError

__all__ = [
    "TUTORIAL_PRODUCTS",
    "CATALOGUE_URL",
    "DOWNLOAD_URL",
    "TOKEN_URL",
    "ProductInfo",
    "TokenManager",
    "product_stem",
    "resolve_credentials",
    "find_product",
    "verify_file",
    "download_product",
    "fetch",
]

logger = logging.getLogger(__name__)

#: The four products of the BiDS'23 tutorial (two S2 L2A, two S1 IW SLC), March 2021.
TUTORIAL_PRODUCTS: tuple[str, ...] = (
    "S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346",
    "S2A_MSIL2A_20210325T000241_N0214_R030_T56HKH_20210325T022649",
    "S1A_IW_SLC__1SDV_20210312T191528_20210312T191555_036969_045983_7048",
    "S1A_IW_SLC__1SDV_20210324T191529_20210324T191555_037144_045F93_9AB1",
)

TOKEN_URL = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
CATALOGUE_URL = "https://catalogue.dataspace.copernicus.eu/odata/v1"
DOWNLOAD_URL = "https://zipper.dataspace.copernicus.eu/odata/v1"
CLIENT_ID = "cdse-public"
NETRC_MACHINE = "identity.dataspace.copernicus.eu"

ENV_USERNAME = "CDSE_USERNAME"
ENV_PASSWORD = "CDSE_PASSWORD"
ENV_CATALOGUE_URL = "EOLAB_CDSE_CATALOGUE_URL"
ENV_DOWNLOAD_URL = "EOLAB_CDSE_DOWNLOAD_URL"
ENV_TOKEN_URL = "EOLAB_CDSE_TOKEN_URL"

#: Hosts below this domain receive the bearer token when a download redirects.
_TRUSTED_DOMAIN = ".dataspace.copernicus.eu"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10
_MAX_DELAY_S = 120.0

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


def _url(explicit: str | None, env: str, default: str) -> str:
    return (explicit or os.environ.get(env) or default).rstrip("/")


def _new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = f"eolab/{__version__} (+python-requests)"
    return session


@dataclass(frozen=True)
class _Policy:
    """Retry, backoff and timeout settings shared by every request."""

    retries: int = 5
    backoff: float = 1.0
    timeout: float = 60.0

    def delay(self, attempt: int, response: requests.Response | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (Retry-After wins when given)."""
        if response is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                return min(float(str(response.headers["Retry-After"])), _MAX_DELAY_S)
        return min(self.backoff * 2.0 ** (attempt - 1), _MAX_DELAY_S)


def _send(
    session: requests.Session, method: str, url: str, *, policy: _Policy, what: str, **kwargs: Any
) -> requests.Response:
    """One request with bounded retries on connection errors, timeouts, 429 and 5xx."""
    reason = "no try made"
    for attempt in range(1, max(policy.retries, 0) + 2):
        response = None
        try:
            response = session.request(method, url, timeout=policy.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = f"cannot reach {urlsplit(url).netloc} ({type(exc).__name__})"
        else:
            if response.status_code not in _RETRY_STATUS:
                return response
            reason = f"HTTP {response.status_code} from {urlsplit(url).netloc}"
            response.close()
        if attempt > policy.retries:
            break
        logger.info("%s: %s; retrying (%d/%d)", what, reason, attempt, policy.retries)
        time.sleep(policy.delay(attempt, response))
    raise FetchError(
        f"{what} failed: {reason} after {policy.retries + 1} tries. Check the internet "
        "connection (CDSE status: https://dataspace.copernicus.eu) and try again later"
    )


def _body_excerpt(response: requests.Response, limit: int = 200) -> str:
    with contextlib.suppress(Exception):
        return response.text[:limit].strip()
    return ""


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


# ------------------------------------------------------------------ authentication


@dataclass(frozen=True)
class _Credentials:
    username: str
    password: str = field(repr=False)


def _netrc_login(hosts: Iterable[str]) -> tuple[str, str] | None:
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        entries = netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:  # its message may quote a password: not shown
        raise AuthenticationError(
            f"cannot parse {path} (line {exc.lineno}); expected lines like 'machine "
            f"{NETRC_MACHINE} login <email> password <password>' (quote with \")"
        ) from None
    except OSError as exc:
        raise AuthenticationError(f"cannot read {path}: {exc.strerror}") from None
    for host in hosts:
        found = entries.authenticators(host)
        if found and found[0] and found[2]:
            return found[0], found[2]
    return None


def resolve_credentials(
    username: str | None = None,
    password: str | None = None,
    *,
    token_url: str | None = None,
) -> tuple[str, str]:
    """Find the CDSE login: arguments, then environment, then ``~/.netrc``.

    Parameters
    ----------
    username, password
        Explicit credentials; either may be missing and come from the next source.
    token_url
        Token endpoint; its host is also looked up in ``~/.netrc`` (after
        ``identity.dataspace.copernicus.eu``).

    Returns
    -------
    (username, password)

    Raises
    ------
    AuthenticationError
        No complete pair was found; the message says how to provide one.
    """
    user = username or os.environ.get(ENV_USERNAME) or None
    secret = password or os.environ.get(ENV_PASSWORD) or None
    if not (user and secret):
        host = urlsplit(_url(token_url, ENV_TOKEN_URL, TOKEN_URL)).hostname or NETRC_MACHINE
        found = _netrc_login(dict.fromkeys([NETRC_MACHINE, host]))
        if found and (user is None or user == found[0]):
            user, secret = found[0], secret or found[1]
    if user and secret:
        return user, secret
    missing = "password" if user else "username and password"
    raise AuthenticationError(
        f"no CDSE {missing}: downloads need a (free) Copernicus Data Space account "
        "(https://dataspace.copernicus.eu). Set the environment variables "
        f"{ENV_USERNAME} and {ENV_PASSWORD}, pass username=/password= (CLI: --user), or add "
        f"'machine {NETRC_MACHINE} login <email> password <password>' to ~/.netrc"
    )


class TokenManager:
    """Access tokens from the CDSE identity service, refreshed when they expire.

    The first token comes from the OpenID-Connect password grant; later ones
    from the refresh-token grant (falling back to the password grant when the
    refresh token has expired too). :meth:`invalidate` forces a refresh, e.g.
    after the download service answered 401.

    Parameters
    ----------
    username, password
        CDSE login. The password is never logged nor put in an error message.
    token_url
        Token endpoint; default ``$EOLAB_CDSE_TOKEN_URL`` or :data:`TOKEN_URL`.
    session
        Session to use for the token requests.
    margin
        Seconds before the announced expiry at which a token counts as expired
        (at most half its lifetime).
    retries, backoff, timeout
        As in :func:`find_product`.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        token_url: str | None = None,
        session: requests.Session | None = None,
        margin: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        self._credentials = _Credentials(username, password)
        self.token_url = _url(token_url, ENV_TOKEN_URL, TOKEN_URL)
        self._session = session or _new_session()
        self._margin = margin
        self._policy = _Policy(retries, backoff, timeout)
        self._access: str | None = None
        self._access_expiry = 0.0
        self._refresh: str | None = None
        self._refresh_expiry = 0.0

    def __repr__(self) -> str:
        user = self._credentials.username
        return f"TokenManager(username={user!r}, token_url={self.token_url!r})"

    def access_token(self) -> str:
        """A valid access token, fetched or refreshed when needed."""
        now = time.monotonic()
        if self._access and now < self._access_expiry:
            return self._access
        if self._refresh and now < self._refresh_expiry:
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh})
            except AuthenticationError:
                logger.info("CDSE refresh token refused; logging in again")
        creds = self._credentials
        return self._grant(
            {"grant_type": "password", "username": creds.username, "password": creds.password}
        )

    def invalidate(self) -> None:
        """Treat the current access token as expired (the refresh token stays)."""
        self._access_expiry = 0.0

    def _lifetime(self, seconds: Any, default: float) -> float:
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            value = default
        return time.monotonic() + value - min(self._margin, value / 2)

    def _grant(self, data: dict[str, str]) -> str:
        kind = data["grant_type"]
        response = _send(
            self._session, "POST", self.token_url, policy=self._policy,
            what="CDSE login", data={"client_id": CLIENT_ID, **data},
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code != 200 or not payload.get("access_token"):
            detail = payload.get("error_description") or payload.get("error") or (
                f"HTTP {response.status_code}"
            )
            if kind == "refresh_token":
                raise AuthenticationError(f"CDSE refused the refresh token ({detail})")
            raise AuthenticationError(
                f"CDSE refused the login of {self._credentials.username!r} ({detail}). Check "
                f"the username and password ({ENV_USERNAME}/{ENV_PASSWORD}, --user or "
                "~/.netrc) at https://dataspace.copernicus.eu"
            )
        self._access = str(payload["access_token"])
        self._access_expiry = self._lifetime(payload.get("expires_in"), 600.0)
        if payload.get("refresh_token"):
            self._refresh = str(payload["refresh_token"])
            self._refresh_expiry = self._lifetime(payload.get("refresh_expires_in"), 3600.0)
        logger.debug("CDSE token obtained (%s grant)", kind)
        return self._access


class _TokenSource(Protocol):
    def access_token(self) -> str: ...

    def invalidate(self) -> None: ...


class _Bearer(requests.auth.AuthBase):
    """Bearer token for trusted hosts; nothing (and no ~/.netrc Basic auth) elsewhere."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _trusted_hosts(*urls: str) -> frozenset[str]:
    return frozenset(h for h in (urlsplit(u).hostname for u in urls) if h)


def _sends_token(url: str, trusted: frozenset[str]) -> bool:
    """Whether a (redirect) target may receive the bearer token.

    requests drops the Authorization header whenever a redirect changes host,
    port or scheme; the CDSE download chain (catalogue -> zipper/download hosts)
    needs it kept, while foreign hosts (e.g. pre-signed object-store URLs) must
    not receive it.
    """
    host = urlsplit(url).hostname or ""
    return host in trusted or host.endswith(_TRUSTED_DOMAIN)


# ------------------------------------------------------------------------ checking


def _blake3_factory() -> Any | None:
    try:
        import blake3
    except ImportError:
        return None
    return blake3.blake3


def _hasher(algorithm: str) -> Any | None:
    key = algorithm.upper().replace("-", "").replace("_", "")
    if key == "BLAKE3":
        factory = _blake3_factory()
        return factory() if factory else None
    name = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512",
            "SHA3256": "sha3_256"}.get(key)
    if name and name in hashlib.algorithms_available:
        return hashlib.new(name)
    return None


def verify_file(
    path: str | os.PathLike[str], info: ProductInfo, *, chunk_size: int = 1 << 22
) -> bool:
    """Check a downloaded archive against the catalogue's size and checksums.

    Every published checksum that this Python can compute is checked (MD5 and
    SHA families from :mod:`hashlib`, BLAKE3 when the ``blake3`` package is
    installed), in one pass over the file.

    Returns
    -------
    bool
        True when at least one checksum matched; False (with a warning) when none
        could be computed, so that only the size was checked.

    Raises
    ------
    ChecksumError
        The size or a checksum differs from the catalogue.
    """
    path = Path(path)
    size = path.stat().st_size
    if info.size is not None and size != info.size:
        raise ChecksumError(
            f"{path.name} has {size} bytes but the catalogue says {info.size}: the file is "
            "incomplete or corrupt"
        )
    hashers = {alg: h for alg in info.checksums if (h := _hasher(alg)) is not None}
    if not hashers:
        published = ", ".join(info.checksums) or "no checksum"
        hint = " (pip install blake3 to check it)" if "BLAKE3" in info.checksums else ""
        warnings.warn(
            f"{path.name}: checksum not verified, only its size: the catalogue publishes "
            f"{published}{hint}",
            UserWarning,
            stacklevel=2,
        )
        return False
    with path.open("rb") as stream:
        while block := stream.read(chunk_size):
            for hasher in hashers.values():
                hasher.update(block)
    for alg, hasher in hashers.items():
        got, expected = hasher.hexdigest().lower(), info.checksums[alg]
        if got != expected:
            raise ChecksumError(
                f"{path.name}: {alg} checksum {got} differs from the published {expected}: "
                "the download is corrupt"
            )
    return True


# ----------------------------------------------------------------------- download


class _RetryableError(Exception):
    """A transient download failure (drop, 5xx, 429, short body)."""

    def __init__(self, reason: str, response: requests.Response | None = None) -> None:
        super().__init__(reason)
        self.response = response


class _UnauthorizedError(Exception):
    """The download service answered 401 (token expired or revoked)."""


def _open(
    session: requests.Session,
    url: str,
    *,
    token: str,
    trusted: frozenset[str],
    headers: dict[str, str],
    policy: _Policy,
) -> requests.Response:
    """GET with redirects followed by hand, the bearer token kept on trusted hosts."""
    for _ in range(_MAX_REDIRECTS):
        auth = _Bearer(token if _sends_token(url, trusted) else None)
        response = session.get(
            url, headers=headers, auth=auth, stream=True, allow_redirects=False,
            timeout=policy.timeout,
        )
        if not (response.is_redirect and response.headers.get("Location")):
            return response
        url = urljoin(url, response.headers["Location"])
        response.close()
    raise FetchError(f"more than {_MAX_REDIRECTS} redirects while downloading from {url}")


def _content_range_start(response: requests.Response) -> tuple[int | None, int | None]:
    """(first byte, total size) from ``Content-Range: bytes a-b/total`` or ``bytes */total``."""
    header = response.headers.get("Content-Range", "")
    match = re.fullmatch(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", header.strip())
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def _transfer(
    session: requests.Session,
    url: str,
    part: Path,
    info: ProductInfo,
    *,
    tokens: _TokenSource,
    trusted: frozenset[str],
    policy: _Policy,
    bar: tqdm,
    chunk_size: int,
) -> None:
    """One attempt: request from the current .part size and append what arrives."""
    offset = part.stat().st_size if part.exists() else 0
    if info.size is not None and offset >= info.size:
        if offset > info.size:
            part.unlink()
            raise _RetryableError(f"{part.name} was larger than the product; restarting")
        return
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    response = _open(session, url, token=tokens.access_token(), trusted=trusted,
                     headers=headers, policy=policy)
    with response:
        status = response.status_code
        if status == 401:
            raise _UnauthorizedError(_body_excerpt(response))
        if status in _RETRY_STATUS:
            raise _RetryableError(f"HTTP {status}", response)
        if status == 416 and offset:
            _start, total = _content_range_start(response)
            if total == offset:  # "bytes */<total>": the .part is already complete
                return
            part.unlink()
            raise _RetryableError(f"range {offset}- not satisfiable; restarting from scratch")
        if status == 404:
            raise FetchError(
                f"the download service has no product {info.id} ({info.stem}): HTTP 404"
            )
        if status not in (200, 206):
            raise FetchError(
                f"download of {info.stem} refused: HTTP {status} {_body_excerpt(response)!r}"
            )
        mode = "ab"
        if status == 206:
            start, _total = _content_range_start(response)
            if start != offset:
                part.unlink()
                raise _RetryableError(f"server sent bytes from {start}, not {offset}; restarting")
        elif offset:
            logger.info("%s: the server ignored the Range request; restarting", info.stem)
            mode, offset = "wb", 0
        bar.reset(total=info.size)
        bar.update(offset)
        with part.open(mode) as stream:
            for chunk in response.iter_content(chunk_size=chunk_size):
                stream.write(chunk)
                bar.update(len(chunk))
    if info.size is not None and part.stat().st_size < info.size:
        raise _RetryableError("the transfer ended early")


def download_product(
    info: ProductInfo,
    *,
    outdir: str | os.PathLike[str] = ".",
    tokens: _TokenSource,
    session: requests.Session | None = None,
    download_url: str | None = None,
    progress: bool = True,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
) -> Path:
    """Download one catalogued product to ``<outdir>/<stem>.zip``, resumably.

    The bytes go to ``<stem>.zip.part``; a later call resumes from its size
    with an HTTP Range request (restarting when the server ignores it). The
    finished file is checked with :func:`verify_file` and renamed into place.

    Parameters
    ----------
    info
        From :func:`find_product`.
    outdir
        Destination folder (created when missing).
    tokens
        Source of bearer tokens, normally a :class:`TokenManager`.
    session
        Session to reuse; a new one by default.
    download_url
        OData root of the download service; default ``$EOLAB_CDSE_DOWNLOAD_URL``
        or :data:`DOWNLOAD_URL`.
    progress
        Show a tqdm progress bar.
    retries, backoff, timeout
        Tries without progress after a transient failure, first backoff delay
        (s, doubled each time, Retry-After honoured), per-request timeout (s).
    chunk_size
        Bytes per read from the stream.

    Returns
    -------
    Path
        The verified archive.

    Raises
    ------
    FetchError
        The product is offline, the service refuses it, or it keeps failing
        (the ``.part`` file is kept for a later resume).
    AuthenticationError
        The download service refuses even a fresh token.
    ChecksumError
        The finished file does not match; it is deleted.
    OutputError
        The folder cannot be written or lacks the space.
    """
    if not info.online:
        raise FetchError(
            f"{info.stem} is offline (in the CDSE long-term archive) and cannot be "
            "downloaded now; ask for it in the CDSE Browser and try again later"
        )
    root = _url(download_url, ENV_DOWNLOAD_URL, DOWNLOAD_URL)
    url = f"{root}/Products({info.id})/$value"
    folder = _prepare_outdir(outdir)
    final, part = folder / info.filename, folder / f"{info.filename}.part"
    _check_space(folder, info, part)
    policy = _Policy(retries, backoff, timeout)
    own = session is None
    session = session or _new_session()
    trusted = _trusted_hosts(root)
    failures = refusals = 0
    bar = tqdm(total=info.size, unit="B", unit_scale=True, unit_divisor=1024,
               desc=info.stem[:32], disable=not progress, leave=True)
    try:
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                _transfer(session, url, part, info, tokens=tokens, trusted=trusted,
                          policy=policy, bar=bar, chunk_size=chunk_size)
                break
            except _UnauthorizedError as exc:
                refusals += 1
                if refusals > 2:
                    raise AuthenticationError(
                        f"the CDSE download service refused {info.stem} even with a fresh "
                        f"token (HTTP 401 {exc})"
                    ) from None
                tokens.invalidate()
                continue
            except (_RetryableError, requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                response = exc.response if isinstance(exc, _RetryableError) else None
                reason = str(exc) or type(exc).__name__
            refusals = 0
            if part.exists() and part.stat().st_size > before:
                failures = 0  # progress was made: only consecutive failures count
            failures += 1
            if failures > retries:
                raise FetchError(
                    f"download of {info.stem} failed {failures} times in a row ({reason}); "
                    f"the partial file {part} is kept: run again to resume"
                )
            logger.info("%s: %s; retrying (%d/%d)", info.stem, reason, failures, retries)
            time.sleep(policy.delay(failures, response))
    finally:
        bar.close()
        if own:
            session.close()
    try:
        verify_file(part, info)
    except ChecksumError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, final)
    return final


def _prepare_outdir(outdir: str | os.PathLike[str]) -> Path:
    folder = Path(outdir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder}: {exc}") from exc
    if not os.access(folder, os.W_OK):
        raise OutputError(f"the output folder {folder} is not writable")
    return folder


def _check_space(folder: Path, info: ProductInfo, part: Path) -> None:
    if info.size is None:
        return
    needed = info.size - (part.stat().st_size if part.exists() else 0)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise OutputError(
            f"{info.filename} needs {needed / 2**20:.0f} MiB more but {folder} has "
            f"{free / 2**20:.0f} MiB free"
        )


def _already_there(final: Path, info: ProductInfo) -> bool:
    """True when a finished file exists and verifies; a bad one is removed."""
    if not final.is_file():
        return False
    try:
        verify_file(final, info)
    except ChecksumError as exc:
        warnings.warn(f"{exc}; downloading it again", UserWarning, stacklevel=3)
        final.unlink()
        return False
    return True


def fetch(
    names: str | Iterable[str],
    *,
    outdir: str | os.PathLike[str] = ".",
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
    session: requests.Session | None = None,
    catalogue_url: str | None = None,
    download_url: str | None = None,
    token_url: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
) -> list[Path]:
    """Find products by name in the CDSE catalogue and download them as zips.

    All names are validated before any request. Each product is looked up
    (no login needed); a ``<stem>.zip`` already in ``outdir`` that passes
    :func:`verify_file` is skipped, so a finished run needs no credentials.
    Otherwise the product is downloaded with :func:`download_product` after
    logging in (credentials from the arguments, ``$CDSE_USERNAME`` /
    ``$CDSE_PASSWORD`` or ``~/.netrc``, see :func:`resolve_credentials`).

    Parameters
    ----------
    names
        One name or several (with or without ``.SAFE``/``.zip``), e.g.
        :data:`TUTORIAL_PRODUCTS`.
    outdir
        Destination folder, created when missing.
    username, password
        CDSE login; default from the environment or ``~/.netrc``.
    progress
        Show tqdm progress bars (False silences them).
    session
        Session to reuse; a new one by default.
    catalogue_url, download_url, token_url
        Service roots; defaults from ``$EOLAB_CDSE_CATALOGUE_URL``,
        ``$EOLAB_CDSE_DOWNLOAD_URL``, ``$EOLAB_CDSE_TOKEN_URL`` or the public CDSE.
    retries, backoff, timeout, chunk_size
        See :func:`download_product`.

    Returns
    -------
    list of Path
        One verified ``.zip`` per name, in the order given.

    Raises
    ------
    FetchError
        Invalid name, unknown or offline product, unreachable service.
    AuthenticationError
        Credentials missing or refused.
    ChecksumError
        A download does not match its published checksum (the file is removed).
    OutputError
        ``outdir`` cannot be written or lacks the space.
    """
    items = [names] if isinstance(names, str) else list(names)
    stems = [product_stem(n) for n in items]  # every name checked before any request
    if not stems:
        return []
    folder = _prepare_outdir(outdir)
    own = session is None
    session = session or _new_session()
    tokens: TokenManager | None = None
    done: dict[str, Path] = {}
    try:
        for stem in dict.fromkeys(stems):
            info = find_product(stem, session=session, catalogue_url=catalogue_url,
                                retries=retries, backoff=backoff, timeout=timeout)
            final = folder / info.filename
            if _already_there(final, info):
                logger.info("%s: already downloaded and verified, skipped", final)
                done[stem] = final
                continue
            if tokens is None:
                user, secret = resolve_credentials(username, password, token_url=token_url)
                tokens = TokenManager(user, secret, token_url=token_url, session=session,
                                      retries=retries, backoff=backoff, timeout=timeout)
            done[stem] = download_product(
                info, outdir=folder, tokens=tokens, session=session, download_url=download_url,
                progress=progress, retries=retries, backoff=backoff, timeout=timeout,
                chunk_size=chunk_size,
            )
    finally:
        if own:
            session.close()
    return [done[s] for s in stems]
