"""Interactive maps (folium/Leaflet) that also work without a network.

Every function here draws on a :class:`folium.Map` made by :func:`new_map`:
the AOI, vector layers (any CRS, reprojected to EPSG:4326) and raster
previews (warped to Web Mercator and embedded as PNG data URLs).

Offline maps
------------
Folium loads Leaflet, jQuery, Bootstrap and Font-Awesome from CDNs, so
without a network a folium page stays blank. An *offline* map (see
:func:`resolve_offline`) instead inlines Leaflet's JavaScript and CSS (with
its images as data URLs) from the installed ``xstatic-leaflet`` package, drops
the other CDN assets, draws no basemap tiles and replaces jQuery by a small
stand-in for the two calls folium's templates make (popups, ``$(document)
.ready``). The page, saved or shown inline in Jupyter (an ``<iframe
srcdoc>``), then references no http(s) script or stylesheet at all. Folium
plugins that need other CDN assets are not available offline: their links are
dropped with a warning.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import math
import os
import socket
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import numpy as np
import xarray as xr
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.template import Template

from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import BandError, CRSError, EolabError, LayerError

__all__ = [
    "LayerError",
    "OFFLINE_ENV_VAR",
    "resolve_offline",
    "new_map",
    "add_aoi",
    "add_vector",
    "add_raster",
    "raster_preview",
    "add_layer_control",
    "save_map",
]

#: Environment variable that forces offline (``1/true/yes/on``) or online
#: (``0/false/no/off``) maps when ``offline=None``.
OFFLINE_ENV_VAR = "EOLAB_OFFLINE"

_FALSE = {"0", "false", "no", "off"}
#: Host probed (TCP connect only, nothing downloaded) to decide online/offline.
_PROBE_ADDRESS = ("cdn.jsdelivr.net", 443)
_PROBE_TIMEOUT_S = 1.5
_MERCATOR_MAX_LAT = 85.0511287798066
_NODATA_COLOR = "#9e9e9e"


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


# --------------------------------------------------------------------------- map and AOI


def _latlon_bounds(bounds: Sequence[float]) -> list[list[float]]:
    west, south, east, north = (float(v) for v in bounds)
    return [[south, west], [north, east]]


def new_map(
    *,
    aoi: AOILike | None = None,
    offline: bool | None = None,
    tiles: str | folium.TileLayer | None = "OpenStreetMap",
    zoom_start: int | None = None,
    width: str | int = "100%",
    height: str | int = "100%",
) -> folium.Map:
    """Create a folium map, online (CDN assets, tiles) or offline (inline assets).

    Parameters
    ----------
    aoi
        Optional area of interest (anything :func:`eolab.aoi.parse_aoi`
        accepts); the map is centred on it and, unless ``zoom_start`` is
        given, zoomed to fit it. It is not drawn: use :func:`add_aoi`.
    offline
        ``True``: a self-contained page (inline Leaflet, no basemap).
        ``False``: folium's default CDN assets and a tile basemap. ``None``:
        decided by :func:`resolve_offline`.
    tiles
        Basemap for online maps: a folium/xyzservices name such as
        ``"OpenStreetMap"`` or ``"Esri.WorldImagery"``, a
        :class:`folium.TileLayer`, or ``None``. Offline maps draw no basemap
        unless a :class:`folium.TileLayer` (e.g. a local tile server) is given.
    zoom_start
        Initial zoom level; ``None`` fits the AOI (world view without AOI).
    width, height
        Size of the map in its page (CSS units or pixels).

    Returns
    -------
    folium.Map
        The map; offline maps are a private subclass of it.
    """
    is_offline = resolve_offline(offline)
    if is_offline and not isinstance(tiles, folium.TileLayer):
        tiles = None
    bounds = None
    location = None
    if aoi is not None:
        geom = aoi_to_crs(aoi, "EPSG:4326")
        bounds = _latlon_bounds(geom.bounds)
        location = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    if location is None:
        location, zoom = [0.0, 0.0], 2 if zoom_start is None else zoom_start
    else:
        zoom = 10 if zoom_start is None else zoom_start
    cls = _OfflineMap if is_offline else folium.Map
    m = cls(location=location, tiles=tiles, zoom_start=zoom, width=width, height=height,
            control_scale=True)
    if bounds is not None and zoom_start is None:
        m.fit_bounds(bounds)
    return m


def add_aoi(
    m: folium.Map,
    aoi: AOILike,
    *,
    name: str = "AOI",
    color: str = "#ff7800",
    weight: float = 3.0,
    fill_opacity: float = 0.0,
    fit: bool = False,
) -> folium.GeoJson:
    """Draw the outline of an area of interest.

    Parameters
    ----------
    m
        Map to draw on (modified in place).
    aoi
        Anything :func:`eolab.aoi.parse_aoi` accepts, in any CRS.
    name
        Layer name in the layer control.
    color, weight, fill_opacity
        Outline colour, outline width in pixels, fill opacity (0: outline only).
    fit
        Also zoom the map to the AOI.

    Returns
    -------
    folium.GeoJson
        The layer that was added.
    """
    import shapely

    geom = aoi_to_crs(aoi, "EPSG:4326")
    feature = {"type": "Feature", "properties": {"name": name},
               "geometry": json.loads(shapely.to_geojson(geom))}
    style = {"color": color, "weight": weight, "fill": fill_opacity > 0,
             "fillColor": color, "fillOpacity": fill_opacity}
    layer = folium.GeoJson(feature, name=name, style_function=lambda _f: style,
                           control=True)
    layer.add_to(m)
    if fit:
        m.fit_bounds(_latlon_bounds(geom.bounds))
    return layer


# --------------------------------------------------------------------------- legend


class _Legend(MacroElement):
    """A Leaflet control listing colour swatches with labels."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "eolab-legend");
                div.style.cssText = "background:rgba(255,255,255,0.9);padding:6px 8px;" +
                    "border-radius:4px;font:12px/1.5 sans-serif;" +
                    "box-shadow:0 1px 4px rgba(0,0,0,0.3);";
                div.innerHTML = {{ this.body|tojson }};
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, title: str, entries: Sequence[tuple[str, str]],
                 position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        self.position = position
        rows = [f"<b>{_escape(title)}</b>"]
        for color, label in entries:
            rows.append(f'<div><span style="display:inline-block;width:12px;height:12px;'
                        f'margin-right:6px;vertical-align:middle;background:{_escape(color)};'
                        f'border:1px solid #555"></span>{_escape(label)}</div>')
        self.body = "".join(rows)


def _escape(text: Any) -> str:
    # folium re-parses rendered macros as Jinja templates: neutralise braces too.
    return html.escape(str(text)).replace("{", "&#123;").replace("}", "&#125;")


# --------------------------------------------------------------------------- vectors


def _colormap(cmap: Any) -> Any:
    import matplotlib

    if isinstance(cmap, str):
        try:
            return matplotlib.colormaps[cmap]
        except KeyError as exc:
            raise LayerError(f"unknown matplotlib colormap {cmap!r}") from exc
    return cmap


def _category_colors(
    values: Any, cmap: Any, max_categories: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """Hex colour of every value and legend entries (empty if not simple)."""
    import pandas as pd
    from matplotlib.colors import ListedColormap, Normalize, to_hex

    series = pd.Series(values).reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    present = series.dropna().unique()
    if numeric and len(present) > max_categories:
        cm = _colormap(cmap or "viridis")
        vmin, vmax = float(np.min(present)), float(np.max(present))
        norm = Normalize(vmin, vmax)
        colors = [to_hex(cm(norm(v))) if pd.notna(v) else _NODATA_COLOR for v in series]
        ticks = np.linspace(vmin, vmax, 5)
        return colors, [(to_hex(cm(norm(t))), f"{t:.4g}") for t in ticks]
    try:
        cats = sorted(present)
    except TypeError:
        cats = sorted(present, key=str)
    cm = _colormap(cmap or ("viridis" if numeric else "tab10"))
    n = len(cats)
    if isinstance(cm, ListedColormap) and cm.N >= n:
        palette = [to_hex(cm(i)) for i in range(n)]
    else:
        palette = [to_hex(cm(x)) for x in (np.linspace(0, 1, n) if n > 1 else [0.5])]
    lookup = dict(zip(cats, palette))
    colors = [lookup[v] if pd.notna(v) else _NODATA_COLOR for v in series]
    legend = [(lookup[c], _label(c)) for c in cats] if n <= max_categories else []
    if legend and series.isna().any():
        legend.append((_NODATA_COLOR, "no data"))
    return colors, legend


def _label(value: Any) -> str:
    """Legend text of a category: 4.0 (an integer column with gaps) shows as 4."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def add_vector(
    m: folium.Map,
    gdf: Any,
    *,
    name: str,
    column: str | None = None,
    cmap: str | Any | None = None,
    color: str = "#3388ff",
    tooltip: str | Sequence[str] | None = None,
    style: Mapping[str, Any] | None = None,
    legend: bool = True,
    max_categories: int = 12,
    show: bool = True,
) -> folium.GeoJson:
    """Draw a GeoDataFrame (any CRS) as a GeoJSON layer.

    Parameters
    ----------
    m
        Map to draw on (modified in place).
    gdf
        GeoDataFrame or GeoSeries with a CRS; reprojected to EPSG:4326,
        invalid geometries repaired with ``shapely.make_valid``, empty ones
        dropped.
    name
        Layer name in the layer control (and legend title).
    column
        Optional attribute that colours the features (e.g. ``"floodLevel"``):
        up to ``max_categories`` distinct values are categories (with a
        legend), more numeric values a continuous scale. Missing values are
        grey.
    cmap
        Matplotlib colormap (name or object) for ``column``; default
        ``"viridis"`` for numbers, ``"tab10"`` for labels.
    color
        Colour of every feature when ``column`` is None.
    tooltip
        Attribute name(s) shown when hovering a feature.
    style
        Leaflet path options that override the defaults (``weight``,
        ``fillOpacity``, ``color``, ``fillColor``...).
    legend
        Add a legend when ``column`` is given and the scale is simple.
    max_categories
        Most distinct values treated as categories.
    show
        Whether the layer is visible when the map opens.

    Returns
    -------
    folium.GeoJson
        The layer that was added.

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS.
    LayerError
        If it has no non-empty geometry, or ``column``/``tooltip`` name
        unknown attributes.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    if isinstance(gdf, gpd.GeoSeries):
        gdf = gdf.to_frame(name=gdf.name if gdf.name is not None else "geometry")
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise LayerError(f"add_vector needs a GeoDataFrame or GeoSeries, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise CRSError(f"the GeoDataFrame for layer {name!r} has no CRS; set it with "
                       "gdf.set_crs('EPSG:...') before mapping it")
    fields = [tooltip] if isinstance(tooltip, str) else list(tooltip or [])
    wanted = ([column] if column is not None else []) + fields
    missing = [c for c in wanted if c not in gdf.columns]
    if missing:
        raise LayerError(f"layer {name!r}: no column(s) {missing}; available: "
                         f"{[c for c in gdf.columns if c != gdf.geometry.name]}")
    keep = list(dict.fromkeys(wanted))
    sub = gpd.GeoDataFrame(gdf[keep].copy(), geometry=gdf.geometry.values, crs=gdf.crs)
    sub = sub[~(sub.geometry.isna() | sub.geometry.is_empty)]
    if len(sub) == 0:
        raise LayerError(f"layer {name!r} is empty: the GeoDataFrame has no non-empty geometry")
    sub = sub.to_crs("EPSG:4326")
    invalid = ~sub.geometry.is_valid
    if invalid.any():
        sub.loc[invalid, "geometry"] = shapely.make_valid(sub.geometry[invalid].values)
        sub = sub[~sub.geometry.is_empty]
    for col in keep:
        if not (pd.api.types.is_numeric_dtype(sub[col]) or pd.api.types.is_bool_dtype(sub[col])):
            sub[col] = sub[col].map(lambda v: None if v is None or v is pd.NaT
                                    or (isinstance(v, float) and math.isnan(v)) else str(v))

    entries: list[tuple[str, str]] = []
    if column is not None:
        colors, entries = _category_colors(sub[column], cmap, max_categories)
    else:
        colors = [color] * len(sub)
    sub["_eolab_color"] = colors
    data = json.loads(sub.to_json(na="null", drop_id=True))

    user_style = dict(style or {})

    def style_function(feature: Mapping[str, Any]) -> dict[str, Any]:
        c = feature["properties"]["_eolab_color"]
        return {"color": c, "fillColor": c, "weight": 1.5, "opacity": 1.0,
                "fillOpacity": 0.6, **user_style}

    layer = folium.GeoJson(
        data, name=name, style_function=style_function, show=show,
        tooltip=folium.GeoJsonTooltip(fields=fields) if fields else None,
    )
    layer.add_to(m)
    if legend and entries:
        m.add_child(_Legend(f"{name}: {column}" if column != name else name, entries))
    return layer


# --------------------------------------------------------------------------- rasters


def _raster_grid(da: xr.DataArray, *, rgb: bool) -> tuple[xr.DataArray, str, str, Any]:
    """Validate a raster; return it as (band, y, x), its y/x dim names and CRS."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from rioxarray.exceptions import RioXarrayError

    if isinstance(da, xr.Dataset):
        raise LayerError("add_raster needs a DataArray; select a variable (ds['B04']) or "
                         "stack bands with ds.to_dataarray('band')")
    if not isinstance(da, xr.DataArray):
        raise LayerError(f"add_raster needs an xarray.DataArray, got {type(da).__name__}")
    try:
        xdim, ydim = da.rio.x_dim, da.rio.y_dim
    except RioXarrayError as exc:
        raise LayerError(f"the raster has no x/y dimensions (dims {da.dims}); rename them "
                         "or call da.rio.set_spatial_dims(...)") from exc
    crs = da.rio.crs
    if crs is None:
        raise CRSError("the raster has no CRS; set it with da.rio.write_crs('EPSG:...') "
                       "before mapping it")
    others = [d for d in da.dims if d not in (xdim, ydim)]
    extra = [d for d in others if da.sizes[d] != 1]
    da = da.squeeze([d for d in others if d not in extra], drop=True)
    if rgb:
        if len(extra) != 1 or da.sizes[extra[0]] != 3:
            raise BandError(f"rgb=True needs a (band, y, x) raster with exactly 3 bands (red, "
                            f"green, blue), got dims {dict(da.sizes)}; select them, e.g. "
                            "da.sel(band=['B04', 'B03', 'B02'])")
        da = da.transpose(extra[0], ydim, xdim)
    else:
        if extra:
            raise BandError(f"the raster has dims {dict(da.sizes)}; select one band "
                            "(da.isel(band=0)) or pass rgb=True with three bands")
        da = da.expand_dims("_band").transpose("_band", ydim, xdim)
    if da.sizes[ydim] == 0 or da.sizes[xdim] == 0:
        raise LayerError("the raster is empty (zero pixels)")
    return da, ydim, xdim, crs


def _warp_to_mercator(
    da: xr.DataArray, ydim: str, xdim: str, crs: Any, *, max_size: int, resampling: str
) -> tuple[np.ndarray, list[list[float]]]:
    """Downsample, then warp to EPSG:3857; return (band, y, x) float32 and lat/lon bounds."""
    from pyproj import Transformer
    from rasterio.enums import Resampling
    from rasterio.transform import Affine, array_bounds, from_bounds
    from rasterio.warp import reproject, transform_bounds

    try:
        method = Resampling[resampling]
    except KeyError as exc:
        raise LayerError(f"unknown resampling {resampling!r}; use e.g. 'nearest', "
                         "'average' or 'bilinear'") from exc
    try:
        transform = da.rio.transform(recalc=True)
    except Exception:  # 1-pixel axes: fall back to the stored transform
        transform = da.rio.transform()

    nodata = da.rio.encoded_nodata if da.rio.encoded_nodata is not None else da.rio.nodata
    ny, nx = da.sizes[ydim], da.sizes[xdim]
    fy, fx = max(1, math.ceil(ny / max_size)), max(1, math.ceil(nx / max_size))
    if fy > 1 or fx > 1:  # lazily, before loading: only the preview is read
        if method == Resampling.nearest:
            da = da.isel({ydim: slice(fy // 2, (ny // fy) * fy, fy),
                          xdim: slice(fx // 2, (nx // fx) * fx, fx)})
        else:
            valid = da if nodata is None or _isnan(nodata) else da.where(da != nodata)
            da = valid.astype("float32").coarsen({ydim: fy, xdim: fx}, boundary="trim").mean()
            nodata = None
        transform = Affine(transform.a * fx, transform.b * fy, transform.c,
                           transform.d * fx, transform.e * fy, transform.f)
    arr = np.asarray(da.values, dtype="float32")
    if nodata is not None and not _isnan(nodata):
        arr[arr == np.float32(nodata)] = np.nan
    h, w = arr.shape[1:]

    left, bottom, right, top = array_bounds(h, w, transform)
    west, south, east, north = transform_bounds(crs, "EPSG:4326", left, bottom, right, top,
                                                densify_pts=21)
    if not all(map(math.isfinite, (west, south, east, north))) or west >= east:
        raise CRSError(f"cannot place the raster on the map: its bounds in EPSG:4326 are "
                       f"{(west, south, east, north)} (outside its CRS's area of use or "
                       "across the antimeridian)")
    south, north = max(south, -_MERCATOR_MAX_LAT), min(north, _MERCATOR_MAX_LAT)
    if south >= north:
        raise CRSError("the raster lies beyond 85 degrees of latitude, which a Web Mercator "
                       "map cannot show")
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    (x0, x1), (y0, y1) = to_merc.transform([west, east], [south, north])
    aspect = (x1 - x0) / (y1 - y0)
    dst_w = max(1, round(math.sqrt(h * w * aspect)))
    dst_h = max(1, round(math.sqrt(h * w / aspect)))
    shrink = max(dst_w / max_size, dst_h / max_size, 1.0)
    dst_w, dst_h = max(1, round(dst_w / shrink)), max(1, round(dst_h / shrink))
    dst = np.full((arr.shape[0], dst_h, dst_w), np.nan, dtype="float32")
    reproject(source=arr, destination=dst, src_transform=transform, src_crs=crs,
              src_nodata=np.nan, dst_transform=from_bounds(x0, y0, x1, y1, dst_w, dst_h),
              dst_crs="EPSG:3857", dst_nodata=np.nan, resampling=method)
    return dst, [[south, west], [north, east]]


def _isnan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _limits(values: np.ndarray, vmin: float | None, vmax: float | None,
            percentiles: tuple[float, float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo = float(np.percentile(finite, percentiles[0])) if vmin is None else float(vmin)
    hi = float(np.percentile(finite, percentiles[1])) if vmax is None else float(vmax)
    if not hi > lo:  # constant data: put it mid-scale
        lo, hi = lo - 0.5, lo + 0.5
    return lo, hi


def raster_preview(
    da: xr.DataArray,
    *,
    rgb: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    percentiles: tuple[float, float] = (2.5, 97.5),
    cmap: str | Any = "viridis",
    max_size: int = 1024,
    resampling: str = "nearest",
) -> tuple[np.ndarray, list[list[float]]]:
    """Render a georeferenced raster as an RGBA image on the Web Mercator grid.

    The raster is first downsampled (lazily for dask-backed data) so that no
    side exceeds ``max_size``, then warped to EPSG:3857 (the projection of
    the map, so the image lines up exactly when Leaflet stretches it between
    its corners) and coloured.

    Parameters
    ----------
    da
        ``(y, x)`` or, with ``rgb=True``, ``(band, y, x)`` DataArray with a
        CRS (rioxarray). No-data values (``rio.nodata``/``_FillValue``) and
        NaN become transparent.
    rgb
        Treat the three bands as red, green, blue, each stretched on its own.
    vmin, vmax
        Value range of the colour scale (of every band for RGB); ``None``
        takes the ``percentiles`` of the valid pixels.
    percentiles
        Lower and upper percentiles used where ``vmin``/``vmax`` are None.
    cmap
        Matplotlib colormap (name or object) of single-band rasters.
    max_size
        Largest width/height in pixels of the image.
    resampling
        Rasterio resampling name used to downsample and warp: ``"nearest"``
        (classes, default), ``"average"`` or ``"bilinear"`` (continuous data).

    Returns
    -------
    rgba, bounds
        ``(height, width, 4)`` uint8 image, north up, and its bounds
        ``[[south, west], [north, east]]`` in degrees (EPSG:4326).

    Raises
    ------
    CRSError
        If the raster has no CRS or cannot be placed on a Web Mercator map.
    BandError
        If the band layout does not fit ``rgb``.
    LayerError
        If the raster is empty or has no valid pixel.
    """
    if max_size < 2:
        raise LayerError(f"max_size must be at least 2 pixels, got {max_size}")
    grid, ydim, xdim, crs = _raster_grid(da, rgb=rgb)
    values, bounds = _warp_to_mercator(grid, ydim, xdim, crs, max_size=max_size,
                                       resampling=resampling)
    valid = np.all(np.isfinite(values), axis=0)
    if not valid.any():
        raise LayerError("the raster has no valid pixel to show (all NaN or no-data)")
    rgba = np.zeros(values.shape[1:] + (4,), dtype="uint8")
    if rgb:
        for i in range(3):
            lo, hi = _limits(values[i][valid], vmin, vmax, percentiles)
            scaled = np.clip((values[i] - lo) / (hi - lo), 0.0, 1.0)
            rgba[..., i] = np.round(np.nan_to_num(scaled) * 255).astype("uint8")
    else:
        lo, hi = _limits(values[0][valid], vmin, vmax, percentiles)
        scaled = np.clip((np.nan_to_num(values[0], nan=lo) - lo) / (hi - lo), 0.0, 1.0)
        rgba[..., :3] = _colormap(cmap)(scaled, bytes=True)[..., :3]
    rgba[..., 3] = np.where(valid, 255, 0)
    rgba[~valid, :3] = 0
    return rgba, bounds


def _png_data_url(rgba: np.ndarray) -> str:
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, rgba, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def add_raster(
    m: folium.Map,
    da: xr.DataArray,
    *,
    name: str,
    rgb: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    percentiles: tuple[float, float] = (2.5, 97.5),
    cmap: str | Any = "viridis",
    opacity: float = 0.8,
    max_size: int = 1024,
    resampling: str = "nearest",
    show: bool = True,
) -> folium.raster_layers.ImageOverlay:
    """Draw a raster preview as an image overlay (embedded PNG data URL).

    See :func:`raster_preview` for ``rgb``, ``vmin``, ``vmax``,
    ``percentiles``, ``cmap``, ``max_size`` and ``resampling``.

    Parameters
    ----------
    m
        Map to draw on (modified in place).
    da
        Georeferenced raster (any CRS).
    name
        Layer name in the layer control.
    opacity
        Opacity of the overlay (0-1); no-data pixels are always transparent.
    show
        Whether the layer is visible when the map opens.

    Returns
    -------
    folium.raster_layers.ImageOverlay
        The layer that was added.
    """
    rgba, bounds = raster_preview(da, rgb=rgb, vmin=vmin, vmax=vmax, percentiles=percentiles,
                                  cmap=cmap, max_size=max_size, resampling=resampling)
    layer = folium.raster_layers.ImageOverlay(
        image=_png_data_url(rgba), bounds=bounds, name=name, opacity=opacity,
        interactive=False, show=show,
    )
    layer.add_to(m)
    return layer


# --------------------------------------------------------------------------- control, save


def add_layer_control(m: folium.Map, *, collapsed: bool = False) -> folium.LayerControl:
    """Add a control that switches layers on and off (call after adding them).

    Parameters
    ----------
    m
        Map to add it to (modified in place).
    collapsed
        Show the control folded into an icon.

    Returns
    -------
    folium.LayerControl
        The control that was added.
    """
    control = folium.LayerControl(collapsed=collapsed)
    control.add_to(m)
    return control


def save_map(m: folium.Map, path: str | os.PathLike[str]) -> Path:
    """Write the map as one standalone HTML page, atomically.

    Offline maps (see :func:`new_map`) produce a self-contained file that
    opens anywhere without a network. The page is written to a temporary
    file next to ``path`` and moved into place, so an error never leaves a
    half-written page.

    Parameters
    ----------
    m
        The map.
    path
        Output ``.html`` file; missing parent folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from eolab.io.rasters import atomic_path

    page = m.get_root().render()
    final = Path(path)
    with atomic_path(final) as tmp:
        tmp.write_bytes(page.encode("utf-8"))
        tmp.chmod(0o644)  # mkstemp makes it private; a web page is for sharing
    return final
