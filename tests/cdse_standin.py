"""A local stand-in for the Copernicus Data Space Ecosystem, for offline tests.

Two ``ThreadingHTTPServer`` instances on 127.0.0.1 (random free ports):

* ``catalogue``: the Keycloak token endpoint
  (``/auth/realms/CDSE/protocol/openid-connect/token``: password and
  refresh-token grants for client ``cdse-public``), the OData search
  ``/odata/v1/Products?$filter=Name eq '...'`` with the real field names, and
  ``/odata/v1/Products(<Id>)/$value`` answering 301 to the zipper, as the real
  catalogue does;
* ``zipper``: ``/odata/v1/Products(<Id>)/$value``, which needs a valid bearer
  token and honours ``Range``.

Knobs on :class:`CDSEStandin` simulate what real clients meet: a transfer
dropped mid-stream, a server that ignores ``Range``, transient 503s, access
tokens the server revokes after some uses (a 401 in the middle of a download),
and a wrong published checksum. Every request is recorded in ``log``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN_PATH = "/auth/realms/CDSE/protocol/openid-connect/token"
ODATA = "/odata/v1"


@dataclass
class Product:
    """A product the stand-in serves."""

    name: str  # without .SAFE
    payload: bytes
    id: str = field(default_factory=lambda: _uuid())
    online: bool = True
    #: published checksums; None: the true MD5 and BLAKE3 (see :func:`blake3_hex`)
    checksums: list[dict[str, str]] | None = None

    def odata(self) -> dict[str, Any]:
        sums = self.checksums
        if sums is None:
            sums = [
                {"Value": hashlib.md5(self.payload).hexdigest(), "Algorithm": "MD5",
                 "ChecksumDate": "2024-05-01T10:00:00.000000Z"},
                {"Value": blake3_hex(self.payload), "Algorithm": "BLAKE3",
                 "ChecksumDate": "2024-05-01T10:00:01.000000Z"},
            ]
        date = re.search(r"_(\d{8}T\d{6})_", self.name)
        start = date.group(1) if date else "20210315T000241"
        day, clock = start.split("T")
        iso = f"{day[:4]}-{day[4:6]}-{day[6:]}T{clock[:2]}:{clock[2:4]}:{clock[4:]}.024Z"
        return {
            "@odata.mediaContentType": "application/octet-stream",
            "Id": self.id,
            "Name": f"{self.name}.SAFE",
            "ContentType": "application/octet-stream",
            "ContentLength": len(self.payload),
            "OriginDate": "2021-03-15T03:41:12.000Z",
            "PublicationDate": "2023-01-12T10:22:11.000Z",
            "ModificationDate": "2023-01-12T10:22:11.000Z",
            "Online": self.online,
            "EvictionDate": "",
            "S3Path": f"/eodata/Sentinel/{self.name}.SAFE",
            "Checksum": sums,
            "ContentDate": {"Start": iso, "End": iso},
            "Footprint": "geography'SRID=4326;"
                         "POLYGON ((150 -33, 151 -33, 151 -34, 150 -34, 150 -33))'",
        }


def blake3_hex(data: bytes) -> str:
    """The BLAKE3 digest when the ``blake3`` package is installed, else a stand-in value
    (a client without ``blake3`` cannot compute it anyway)."""
    try:
        import blake3  # type: ignore[import-not-found]
    except ImportError:
        return hashlib.sha256(b"not blake3" + data).hexdigest()
    return str(blake3.blake3(data).hexdigest())


def _uuid() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class Request:
    """One recorded request."""

    server: str
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    status: int = 0


class CDSEStandin:
    """State and knobs shared by the two servers; see the module docstring."""

    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.users = users or {"alice@example.org": "correct horse"}
        self.products: dict[str, Product] = {}
        self.lock = threading.Lock()
        self.reset()
        self._servers: list[_Server] = []

    def reset(self) -> None:
        """Forget requests, tokens and knobs (products stay)."""
        with self.lock:
            self.log: list[Request] = []
            self.access: dict[str, dict[str, float]] = {}  # token -> expiry, uses left
            self.refresh: set[str] = set()
            self.expires_in = 600  # announced lifetime of access tokens
            self.token_uses: int | None = None  # revoke after this many downloads
            self.drop_after: int | None = None  # bytes, once
            self.ignore_range = False
            self.fail_next = 0  # 503s before serving downloads
            self.served: list[tuple[int, int]] = []  # (status, bytes) per download

    # -- lifecycle --------------------------------------------------------
    def start(self) -> CDSEStandin:
        for role in ("catalogue", "zipper"):
            server = _Server(("127.0.0.1", 0), _Handler)
            server.role, server.standin = role, self
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    @property
    def catalogue_root(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_port}"

    @property
    def zipper_root(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_port}"

    @property
    def catalogue_url(self) -> str:
        return self.catalogue_root + ODATA

    @property
    def download_url(self) -> str:
        """Download root on the *catalogue* host: it redirects to the zipper."""
        return self.catalogue_root + ODATA

    @property
    def token_url(self) -> str:
        return self.catalogue_root + TOKEN_PATH

    def add(self, product: Product) -> Product:
        self.products[product.name] = product
        return product

    def requests(self, server: str | None = None, path_part: str = "") -> list[Request]:
        return [r for r in self.log
                if (server is None or r.server == server) and path_part in r.path]

    def grants(self) -> list[str]:
        return [r.form.get("grant_type", "") for r in self.requests(path_part=TOKEN_PATH)]

    # -- tokens -----------------------------------------------------------
    def issue(self) -> dict[str, Any]:
        token, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        uses = float("inf") if self.token_uses is None else float(self.token_uses)
        expiry = time.monotonic() + max(self.expires_in, 0) + 5
        self.access[token] = {"expiry": expiry, "uses": uses}
        self.refresh.add(refresh)
        return {"access_token": token, "expires_in": self.expires_in, "refresh_expires_in": 3600,
                "refresh_token": refresh, "token_type": "Bearer", "not-before-policy": 0,
                "scope": "AUDIENCE_PUBLIC openid email profile user-context"}

    def use(self, header: str) -> bool:
        token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
        state = self.access.get(token)
        if state is None or state["uses"] <= 0 or time.monotonic() > state["expiry"]:
            return False
        state["uses"] -= 1
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    role: str
    standin: CDSEStandin

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (it closes unread keep-alive responses)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- helpers ----------------------------------------------------------
    @property
    def standin(self) -> CDSEStandin:
        return self.server.standin

    def _record(self, form: dict[str, str] | None = None) -> Request:
        entry = Request(self.server.role, self.command, unquote(self.path),
                        {k: v for k, v in self.headers.items()}, form or {})
        with self.standin.lock:
            self.standin.log.append(entry)
        return entry

    def _send(self, entry: Request, status: int, body: bytes = b"", *,
              ctype: str = "application/json", headers: dict[str, str] | None = None) -> None:
        entry.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, entry: Request, status: int, obj: Any) -> None:
        self._send(entry, status, json.dumps(obj).encode())

    def _product_by_id(self, path: str) -> Product | None:
        match = re.fullmatch(rf"{ODATA}/Products\(([0-9a-f-]+)\)/\$value", path)
        if not match:
            return None
        return next((p for p in self.standin.products.values() if p.id == match.group(1)), None)

    # -- verbs ------------------------------------------------------------
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        entry = self._record(form)
        if self.server.role != "catalogue" or urlsplit(self.path).path != TOKEN_PATH:
            return self._json(entry, 404, {"detail": "Not Found"})
        if form.get("client_id") != "cdse-public":
            return self._json(entry, 401, {"error": "invalid_client",
                                           "error_description": "Invalid client credentials"})
        standin = self.standin
        with standin.lock:
            grant = form.get("grant_type")
            if grant == "password":
                user, password = form.get("username"), form.get("password")
                if user not in standin.users or standin.users[user] != password:
                    return self._json(entry, 401, {"error": "invalid_grant",
                                                   "error_description": "Invalid user credentials"})
            elif grant == "refresh_token":
                if form.get("refresh_token") not in standin.refresh:
                    return self._json(entry, 400, {"error": "invalid_grant",
                                                   "error_description": "Invalid refresh token"})
            else:
                return self._json(entry, 400, {"error": "unsupported_grant_type"})
            return self._json(entry, 200, standin.issue())

    def do_GET(self) -> None:
        entry = self._record()
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if self.server.role == "catalogue":
            if path == f"{ODATA}/Products":
                return self._search(entry, parse_qs(parts.query))
            product = self._product_by_id(path)
            if product is not None:  # the real catalogue sends $value to the zipper
                target = self.standin.zipper_root + self.path
                return self._send(entry, 301, headers={"Location": target})
            return self._json(entry, 404, {"detail": "Not Found"})
        return self._download(entry, path)

    def _search(self, entry: Request, query: dict[str, list[str]]) -> None:
        match = re.fullmatch(r"Name eq '([^']*)'", (query.get("$filter") or [""])[0])
        if not match:
            return self._json(entry, 400, {"detail": "Invalid filter"})
        name = match.group(1)
        stem = name[:-5] if name.endswith(".SAFE") else name
        found = self.standin.products.get(stem)
        value = [found.odata()] if found and f"{stem}.SAFE" == name else []
        self._json(entry, 200, {"@odata.context": "$metadata#Products", "value": value})

    def _download(self, entry: Request, path: str) -> None:
        standin = self.standin
        product = self._product_by_id(path)
        with standin.lock:
            if not standin.use(self.headers.get("Authorization", "")):
                return self._json(entry, 401, {"detail": "Expired signature!"})
            if standin.fail_next > 0:
                standin.fail_next -= 1
                return self._send(entry, 503, b"Service Unavailable", ctype="text/plain",
                                  headers={"Retry-After": "0"})
            drop, standin.drop_after = standin.drop_after, None
        if product is None:
            return self._json(entry, 404, {"detail": "Product not found"})
        if not product.online:
            return self._json(entry, 422, {"detail": "Product is offline"})
        data, total = product.payload, len(product.payload)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and not standin.ignore_range:
            start = int(match.group(1))
            if start >= total:
                return self._send(entry, 416, headers={"Content-Range": f"bytes */{total}"})
        body = data[start:]
        entry.status = 206 if start else 200
        self.send_response(entry.status)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Disposition", f'attachment; filename="{product.name}.zip"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.end_headers()
        sent = body if drop is None else body[:drop]
        self.wfile.write(sent)
        self.wfile.flush()
        with standin.lock:
            standin.served.append((entry.status, len(sent)))
        if drop is not None:  # simulate a dropped connection mid-stream
            self.close_connection = True
