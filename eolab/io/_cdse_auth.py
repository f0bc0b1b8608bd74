"""CDSE login: credentials from arguments, environment or ``~/.netrc``, and bearer tokens."""

from __future__ import annotations

import logging
import netrc
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from eolab.errors import AuthenticationError
from eolab.io._cdse_http import _new_session, _Policy, _send, _url

logger = logging.getLogger("eolab.io.fetch")  # records under the public module's name

TOKEN_URL = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
CLIENT_ID = "cdse-public"
NETRC_MACHINE = "identity.dataspace.copernicus.eu"

ENV_USERNAME = "CDSE_USERNAME"
ENV_PASSWORD = "CDSE_PASSWORD"
ENV_TOKEN_URL = "EOLAB_CDSE_TOKEN_URL"


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
