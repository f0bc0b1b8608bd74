"""Offline Leaflet pages: inline assets, no CDN links, and the online/offline probe.

Folium loads Leaflet, jQuery, Bootstrap and Font-Awesome from CDNs, so
without a network a folium page stays blank. :class:`_OfflineMap` instead
inlines Leaflet's JavaScript and CSS (with its images as data URLs) from the
installed ``xstatic-leaflet`` package, drops the other CDN assets and replaces
jQuery by a small stand-in for the two calls folium's templates make.
:func:`resolve_offline` decides which kind of map to draw. The public entry
points are in :mod:`eolab.maps`.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import socket
import threading
import warnings
from pathlib import Path
from typing import Any

import folium
from branca.element import CssLink, Element, Figure, JavascriptLink

from eolab.errors import EolabError

#: Environment variable that forces offline (``1/true/yes/on``) or online
#: (``0/false/no/off``) maps when ``offline=None``.
OFFLINE_ENV_VAR = "EOLAB_OFFLINE"

_FALSE = {"0", "false", "no", "off"}
#: Host probed (TCP connect only, nothing downloaded) to decide online/offline.
_PROBE_ADDRESS = ("cdn.jsdelivr.net", 443)
_PROBE_TIMEOUT_S = 1.5


# --------------------------------------------------------------------------- online/offline


def resolve_offline(offline: bool | None = None) -> bool:
    """Decide whether a map must work without a network.

    Parameters
    ----------
    offline
        ``True`` or ``False`` is returned as is. ``None`` (default) reads the
        ``EOLAB_OFFLINE`` environment variable if set (``1/true/yes/on`` or
        ``0/false/no/off``; any other value counts as offline), otherwise
        tries a TCP connection to the CDN that serves Leaflet. The probe
        downloads nothing, gives up after 1.5 s (DNS included, so a notebook
        never hangs) and its answer is cached for the session; no answer in
        time means offline.

    Returns
    -------
    bool
        ``True`` for an offline map.
    """
    if offline is not None:
        return bool(offline)
    env = os.environ.get(OFFLINE_ENV_VAR, "").strip().lower()
    if env:
        return env not in _FALSE
    return not _network_reachable(*_PROBE_ADDRESS, timeout=_PROBE_TIMEOUT_S)


@functools.lru_cache(maxsize=8)
def _network_reachable(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` s."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    # getaddrinfo ignores socket timeouts: run in a daemon thread, wait a bounded time.
    thread = threading.Thread(target=probe, name="eolab-network-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


# --------------------------------------------------------------------------- inline assets


class _RawElement(Element):
    """An element rendered verbatim (not parsed as a Jinja template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RawElement"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


# folium's templates call jQuery twice: $(`<html>`)[0] for popups and
# $(document).ready(fn) for keep_in_front. This covers both, nothing else.
_JQUERY_STANDIN = """
(function () {
  if (window.$) { return; }
  window.$ = function (arg) {
    if (typeof arg === "string") {
      var t = document.createElement("template");
      t.innerHTML = arg.trim();
      return Array.prototype.slice.call(t.content.childNodes);
    }
    return {ready: function (fn) {
      if (document.readyState !== "loading") { fn(); }
      else { document.addEventListener("DOMContentLoaded", fn); }
    }};
  };
})();
"""


def _data_url(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@functools.lru_cache(maxsize=1)
def _offline_assets() -> tuple[tuple[str, str], ...]:
    """(name, HTML) of the inline Leaflet CSS and JS, read from xstatic-leaflet."""
    try:
        import xstatic.pkg.leaflet as xleaflet
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise EolabError("offline maps need the 'xstatic-leaflet' package: "
                         "pip install xstatic-leaflet") from exc
    base = Path(xleaflet.BASE_DIR)
    images = base / "images"
    css = (base / "leaflet.css").read_text(encoding="utf-8")
    for png in ("layers.png", "layers-2x.png", "marker-icon.png"):
        css = css.replace(f"url(images/{png})", f"url({_data_url(images / png, 'image/png')})")
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    icons = {
        "iconUrl": _data_url(images / "marker-icon.png", "image/png"),
        "iconRetinaUrl": _data_url(images / "marker-icon-2x.png", "image/png"),
        "shadowUrl": _data_url(images / "marker-shadow.png", "image/png"),
    }
    icon_js = ("L.Icon.Default.imagePath = '';\n"
               f"L.Util.extend(L.Icon.Default.prototype.options, {json.dumps(icons)});\n")
    return (
        ("leaflet_css", "<style>" + css.replace("</style", "<\\/style") + "</style>"),
        ("leaflet", "<script>" + js.replace("</script", "<\\/script") + "</script>"),
        ("leaflet_icons", "<script>" + icon_js + "</script>"),
        ("jquery_standin", "<script>" + _JQUERY_STANDIN + "</script>"),
    )


def _is_remote(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "//"))


class _OfflineMap(folium.Map):
    """A folium map whose page inlines Leaflet and links no CDN asset."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        if isinstance(figure, Figure):
            for name, text in _offline_assets():
                figure.header.add_child(_RawElement(text), name=name)
        super().render(**kwargs)
        if isinstance(figure, Figure):
            for name, child in list(figure.header._children.items()):
                if isinstance(child, (JavascriptLink, CssLink)) and _is_remote(child.url):
                    del figure.header._children[name]
                    warnings.warn(f"offline map: dropped {child.url}; the layer that needs it "
                                  "will not work without a network", stacklevel=2)
