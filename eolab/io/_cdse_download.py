"""Downloads from the CDSE: resumable verified transfers of one catalogued product."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from eolab.errors import AuthenticationError, ChecksumError, FetchError, OutputError
from eolab.io._cdse_auth import _TokenSource
from eolab.io._cdse_catalogue import ProductInfo
from eolab.io._cdse_http import (
    _RETRY_STATUS,
    _body_excerpt,
    _new_session,
    _open,
    _Policy,
    _trusted_hosts,
    _url,
)

logger = logging.getLogger("eolab.io.fetch")  # records under the public module's name

DOWNLOAD_URL = "https://zipper.dataspace.copernicus.eu/odata/v1"
ENV_DOWNLOAD_URL = "EOLAB_CDSE_DOWNLOAD_URL"


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
