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

import logging
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import requests

from eolab.errors import ChecksumError
from eolab.io._cdse_auth import CLIENT_ID as CLIENT_ID
from eolab.io._cdse_auth import ENV_PASSWORD as ENV_PASSWORD
from eolab.io._cdse_auth import ENV_TOKEN_URL as ENV_TOKEN_URL
from eolab.io._cdse_auth import ENV_USERNAME as ENV_USERNAME
from eolab.io._cdse_auth import NETRC_MACHINE as NETRC_MACHINE
from eolab.io._cdse_auth import TOKEN_URL, TokenManager, resolve_credentials
from eolab.io._cdse_catalogue import (
    CATALOGUE_URL,
    TUTORIAL_PRODUCTS,
    ProductInfo,
    find_product,
    product_stem,
)
from eolab.io._cdse_catalogue import ENV_CATALOGUE_URL as ENV_CATALOGUE_URL
from eolab.io._cdse_download import DOWNLOAD_URL, _prepare_outdir, download_product, verify_file
from eolab.io._cdse_download import ENV_DOWNLOAD_URL as ENV_DOWNLOAD_URL
from eolab.io._cdse_http import _new_session

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
