"""HTTP plumbing for the CDSE services: sessions, retries with backoff, token-aware redirects.

Every request goes through :func:`_send` (bounded retries on connection
errors, timeouts, 429 and 5xx) or, for downloads, :func:`_open` (redirects
followed by hand so that the bearer token reaches trusted hosts only).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from eolab._version import __version__
from eolab.errors import FetchError

logger = logging.getLogger("eolab.io.fetch")  # records under the public module's name

#: Hosts below this domain receive the bearer token when a download redirects.
_TRUSTED_DOMAIN = ".dataspace.copernicus.eu"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10
_MAX_DELAY_S = 120.0


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
