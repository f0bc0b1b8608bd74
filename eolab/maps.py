"""Interactive maps (folium/Leaflet) that also work without a network.

Every function here draws on a :class:`folium.Map` made by :func:`new_map`:
the AOI, vector layers (any CRS, reprojected to EPSG:4326) and raster
previews (warped to Web Mercator and embedded as PNG data URLs).

Maps from SPARQL queries, as Sextant drew them in the tutorial:
:func:`sparql_layer` turns the rows of a SELECT query on a GeoSPARQL store into a
layer (its WKT variable the geometry, the other variables tooltips, a colour ramp
on a variable such as ``floodLevel``), :func:`query_map` puts several on one map
with a layer control, fitted to their data, and :func:`save_map` writes the page.
:func:`cli_map` is ``eolab map --db DIR --layer NAME=query.rq ... -o map.html``.

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

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import xarray as xr
from branca.element import MacroElement
from folium.template import Template

from eolab._leaflet_offline import OFFLINE_ENV_VAR, _OfflineMap, resolve_offline
from eolab._map_style import _NODATA_COLOR, _category_colors, _colormap, _escape, _label, _Legend
from eolab._raster_preview import _png_data_url, raster_preview
from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import CRSError, LayerError

if TYPE_CHECKING:
    from eolab.linked.store import GeoStore

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
    "LAYER_PALETTE",
    "QueryLayer",
    "sparql_layer",
    "query_map",
    "cli_map",
]


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


# --------------------------------------------------------------------------- vectors


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
    layer = _draw(m, sub, colors, name=name, fields=fields, style=style, show=show)
    if legend and entries:
        m.add_child(_Legend(f"{name}: {column}" if column != name else name, entries))
    return layer


def _draw(m: folium.Map, sub: Any, colors: Sequence[str], *, name: str, fields: Sequence[str],
          style: Mapping[str, Any] | None, show: bool) -> folium.GeoJson:
    """Add an EPSG:4326 GeoDataFrame as GeoJSON, one colour per feature, safe tooltips.

    Tooltips are HTML (Leaflet sets ``innerHTML``) and folium renders every script twice
    as a Jinja template: text values are HTML-escaped and their braces written as
    entities, so a value such as ``<img onerror=...>`` or ``{{ ... }}`` shows as typed.
    """
    import numpy as np
    import pandas as pd
    import shapely

    props = sub.drop(columns=sub.geometry.name)
    props = props.rename(columns={c: _escape(c) for c in props.columns})
    for col in props.columns:
        if not (pd.api.types.is_numeric_dtype(props[col])
                or pd.api.types.is_bool_dtype(props[col])):
            props[col] = props[col].map(lambda v: _escape(v) if isinstance(v, str) else v,
                                        na_action="ignore").astype(object)
    props["_eolab_color"] = list(colors)
    records = props.astype(object).where(props.notna(), None).to_dict("records")
    geometries = shapely.to_geojson(np.asarray(sub.geometry.values, dtype=object))
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": _plain(rec), "geometry": json.loads(geom)}
        for rec, geom in zip(records, geometries)]}
    keys = [_escape(f) for f in fields]
    layer = folium.GeoJson(
        data, name=_escape(name), show=show,
        tooltip=folium.GeoJsonTooltip(fields=keys) if keys else None,
    )
    layer.add_child(_FeatureStyle(_path_style(style, name)))
    layer.add_to(m)
    return layer


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready values: numpy scalars as Python numbers, NaN/NaT as None."""
    out = {}
    for key, value in record.items():
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out


def _path_style(style: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """Leaflet path options (scalars only) over the defaults."""
    out: dict[str, Any] = {"weight": 1.5, "opacity": 1.0, "fillOpacity": 0.6}
    for key, value in dict(style or {}).items():
        ok = isinstance(value, (bool, int, float, type(None))) or (
            isinstance(value, str) and not set(value) & set("{}<>"))
        if not isinstance(key, str) or not key.isidentifier() or not ok:
            raise LayerError(f"layer {name!r}: style {key!r}: {value!r} is not a Leaflet path "
                             "option (a name and a number, boolean or plain text)")
        out[key] = value
    return out


class _FeatureStyle(MacroElement):
    """Styles each feature of the parent GeoJSON layer in the browser: its colour from the
    ``_eolab_color`` property, then the layer's path options (folium's Python
    ``style_function`` would instead embed a style table of every feature in the page)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            (function (layer, options) {
                var style = function (feature) {
                    var c = feature.properties._eolab_color;
                    return Object.assign({color: c, fillColor: c}, options);
                };
                layer.options.style = style;
                layer.setStyle(style);
            })({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "FeatureStyle"
        self.options = dict(options)


# --------------------------------------------------------------------------- rasters


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
    return final


# --------------------------------------------------------------------------- SPARQL layers

#: Colours of layers drawn in one colour (no ``color_by``), in layer order.
LAYER_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


@dataclass(frozen=True)
class QueryLayer:
    """A map layer made from the rows of a SPARQL SELECT query (see :func:`sparql_layer`).

    Attributes
    ----------
    name
        Layer name in the layer control and legend.
    data
        The rows in EPSG:4326 (longitude, latitude): the geometry column and the other
        variables as attributes, rows without geometry left out.
    color_by
        Attribute that colours the features, or None for one colour.
    cmap
        Matplotlib colormap (name or object) of ``color_by``.
    color
        Colour of every feature when ``color_by`` is None (None: the map picks one
        from :data:`LAYER_PALETTE`).
    tooltip
        Attributes shown when hovering a feature.
    style
        Leaflet path options overriding the defaults (``weight``, ``fillOpacity``...).
    query
        The SPARQL text the rows came from.
    """

    name: str
    data: Any
    color_by: str | None = None
    cmap: str | Any = "viridis"
    color: str | None = None
    tooltip: tuple[str, ...] = ()
    style: Mapping[str, Any] = field(default_factory=dict)
    query: str = ""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the features in degrees."""
        west, south, east, north = (float(v) for v in self.data.total_bounds)
        return west, south, east, north

    def colors(self, *, max_categories: int = 12) -> tuple[list[str], list[tuple[str, str]]]:
        """Hex colour of every feature and the legend entries (empty for one colour).

        A numeric ``color_by`` is a ramp proportional to the value: ``cmap`` runs from the
        smallest to the largest value in the layer (a layer of one value takes the
        middle of the ramp). The legend lists every value when there are at most
        ``max_categories`` of them, otherwise five ticks. Text values are categories.
        Missing values are grey.
        """
        if self.color_by is None:
            return [self.color or LAYER_PALETTE[0]] * len(self.data), []
        return _ramp_colors(self.data[self.color_by], self.cmap, max_categories)

    def add_to(self, m: folium.Map, *, color: str | None = None, legend: bool = True,
               show: bool = True, max_categories: int = 12) -> folium.GeoJson:
        """Draw the layer on ``m`` (``color`` replaces a missing :attr:`color`)."""
        layer = self if color is None or self.color is not None else replace(self, color=color)
        colors, entries = layer.colors(max_categories=max_categories)
        shown = self.data[[*self.tooltip, self.data.geometry.name]]   # only what is shown
        drawn = _draw(m, shown, colors, name=self.name, fields=self.tooltip,
                      style=self.style, show=show)
        if legend and entries:
            title = self.name if self.color_by == self.name else f"{self.name}: {self.color_by}"
            m.add_child(_Legend(title, entries))
        return drawn


def _hex(rgba: Any) -> list[str]:
    """``#rrggbb`` of RGBA rows in 0-1 (rounded as matplotlib's ``to_hex``)."""
    import numpy as np

    rgb = np.round(np.asarray(rgba, float)[:, :3] * 255).astype(int)
    return ["#%02x%02x%02x" % (r, g, b) for r, g, b in rgb]


def _ramp_colors(values: Any, cmap: Any, max_categories: int
                 ) -> tuple[list[str], list[tuple[str, str]]]:
    import numpy as np
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return _category_colors(series.map(lambda v: v if v is None else str(v)),
                                cmap, max_categories)
    cm = _colormap(cmap or "viridis")
    numbers = series.to_numpy(dtype=float, na_value=np.nan)
    present = np.unique(numbers[~np.isnan(numbers)])
    if len(present) == 0:
        return [_NODATA_COLOR] * len(series), [(_NODATA_COLOR, "no data")]
    vmin, vmax = float(present[0]), float(present[-1])

    def ramp(v: Any) -> list[str]:
        v = np.asarray(v, float)
        return _hex(cm(np.full(v.shape, 0.5) if vmax == vmin else (v - vmin) / (vmax - vmin)))

    colors = np.array(ramp(np.nan_to_num(numbers, nan=vmin)), dtype=object)
    colors[np.isnan(numbers)] = _NODATA_COLOR
    few = len(present) <= max_categories
    shown = present if few else np.linspace(vmin, vmax, 5)
    labels = [_label(v) if few else f"{v:.4g}" for v in shown]
    entries = list(zip(ramp(shown), labels))
    if np.isnan(numbers).any():
        entries.append((_NODATA_COLOR, "no data"))
    return colors.tolist(), entries


def sparql_layer(
    store: GeoStore,
    query: str,
    *,
    name: str,
    geometry: str | None = None,
    color_by: str | None = None,
    cmap: str | Any = "viridis",
    color: str | None = None,
    tooltip: str | Sequence[str] | bool | None = None,
    style: Mapping[str, Any] | None = None,
    bindings: Mapping[str, object] | None = None,
) -> QueryLayer:
    """A map layer from a SPARQL SELECT query, as Sextant draws one.

    The WKT column becomes the geometry (read with
    :func:`eolab.linked.queries.to_geodataframe`: EPSG:4326 and CRS84 literals are
    longitude first, projected CRSs are reprojected), the other variables become
    attributes shown in tooltips.

    Parameters
    ----------
    store
        Any :class:`eolab.linked.store.GeoStore` (embedded or remote).
    query
        SPARQL SELECT text, e.g. :data:`eolab.linked.queries.QUERY_2B`.
    name
        Layer name in the layer control.
    geometry
        The WKT variable (without ``?``); None: the first variable holding WKT.
    color_by
        Variable that colours the features, e.g. ``"floodLevel"``: numbers as a colour
        ramp proportional to the value, text as categories (see :meth:`QueryLayer.colors`).
    cmap
        Matplotlib colormap (name or object) for ``color_by``.
    color
        Colour of every feature when ``color_by`` is None; None lets
        :func:`query_map` pick one per layer.
    tooltip
        Variables shown on hover. None: every variable but the geometry and other WKT
        columns; False or ``[]``: none.
    style
        Leaflet path options overriding the defaults (``weight``, ``fillOpacity``,
        ``color``...).
    bindings
        Values bound to query variables as RDF terms (never pasted into the text).

    Returns
    -------
    QueryLayer
        The rows in EPSG:4326 with their style; draw it with :func:`query_map` or
        :meth:`QueryLayer.add_to`.

    Raises
    ------
    QueryError
        If the query is invalid, not a SELECT, or has no WKT variable.
    LayerError
        If it returns no row with a geometry, or ``color_by``/``tooltip`` name unknown
        variables.
    """
    from eolab.errors import QueryError
    from eolab.linked.queries import run, to_geodataframe, wkt_columns

    if not isinstance(name, str) or not name.strip():
        raise LayerError("a query layer needs a non-empty name")
    _colormap(cmap or "viridis")                         # bad options fail before querying
    _path_style(style, name)
    frame = run(store, query, bindings=bindings)
    if len(frame) == 0:
        raise LayerError(f"layer {name!r}: the query returned no rows, nothing to draw")
    if geometry is not None and geometry.startswith("?"):
        geometry = geometry[1:]
    if geometry is not None and geometry in frame.columns and geometry not in wkt_columns(frame):
        raise QueryError(f"layer {name!r}: variable {geometry!r} holds no WKT geometry; "
                         f"WKT variables: {wkt_columns(frame)}")
    gdf = to_geodataframe(frame, geometry=geometry)
    missing = gdf.geometry.isna() | gdf.geometry.is_empty
    if missing.all():
        raise LayerError(f"layer {name!r}: none of the {len(gdf)} rows has a geometry")
    if missing.any():
        warnings.warn(f"layer {name!r}: {int(missing.sum())} of {len(gdf)} rows have no "
                      "geometry and are not drawn", stacklevel=2)
        gdf = gdf[~missing]
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        import shapely

        gdf = gdf.copy()
        gdf.loc[invalid, gdf.geometry.name] = shapely.make_valid(gdf.geometry[invalid].values)
    attributes = [c for c in gdf.columns if c != gdf.geometry.name]
    if tooltip is None:
        other_wkt = set(wkt_columns(gdf[attributes])) if attributes else set()
        fields = [c for c in attributes if c not in other_wkt]
    elif tooltip is False:
        fields = []
    elif tooltip is True:
        fields = attributes
    else:
        fields = [tooltip] if isinstance(tooltip, str) else list(tooltip)
    unknown = [c for c in ([color_by] if color_by else []) + fields if c not in attributes]
    if unknown:
        raise LayerError(f"layer {name!r}: no variable(s) {unknown} in the query's results; "
                         f"available: {attributes}")
    gdf = gdf.reset_index(drop=True)
    return QueryLayer(name=name, data=gdf, color_by=color_by, cmap=cmap, color=color,
                      tooltip=tuple(fields), style=dict(style or {}), query=query)


def query_map(
    layers: Sequence[QueryLayer],
    *,
    title: str | None = None,
    basemap: str | folium.TileLayer | None = "OpenStreetMap",
    offline: bool | None = None,
    collapsed: bool = False,
    width: str | int = "100%",
    height: str | int = "100%",
) -> folium.Map:
    """Several query layers on one map, with a layer control, fitted to their data.

    Parameters
    ----------
    layers
        Layers from :func:`sparql_layer`, drawn in order (the last on top). Layers
        without ``color_by`` or ``color`` take the colours of :data:`LAYER_PALETTE`.
    title
        Shown at the top of the map and as the page's title.
    basemap
        Tiles of online maps (see :func:`new_map`); offline maps draw none.
    offline
        ``True``: a self-contained page that renders without a network (inline Leaflet);
        ``None``: decided by :func:`resolve_offline`.
    collapsed
        Fold the layer control into an icon.
    width, height
        Size of the map in its page.

    Returns
    -------
    folium.Map
        The map; save it with :func:`save_map`.

    Raises
    ------
    LayerError
        If ``layers`` is empty, holds something else than query layers, or two layers
        share a name.
    """
    layers = list(layers)
    if not layers:
        raise LayerError("query_map needs at least one layer")
    bad = [type(x).__name__ for x in layers if not isinstance(x, QueryLayer)]
    if bad:
        raise LayerError(f"query_map takes layers from sparql_layer(), got {bad}")
    names = [x.name for x in layers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LayerError(f"layer names must differ (the layer control shows them): {twice}")
    m = new_map(offline=offline, tiles=basemap, width=width, height=height, zoom_start=2)
    plain = 0
    for layer in layers:
        pick = None
        if layer.color_by is None and layer.color is None:
            pick = LAYER_PALETTE[plain % len(LAYER_PALETTE)]
            plain += 1
        layer.add_to(m, color=pick)
    add_layer_control(m, collapsed=collapsed)
    bounds = [x.bounds for x in layers]
    m.fit_bounds(_latlon_bounds((min(b[0] for b in bounds), min(b[1] for b in bounds),
                                 max(b[2] for b in bounds), max(b[3] for b in bounds))))
    if title:
        m.get_root().title = _escape(title)
        m.add_child(_Title(title))
    return m


class _Title(MacroElement):
    """A title box at the top centre of the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            (function () {
                var div = L.DomUtil.create("div", "eolab-title",
                                           {{ this._parent.get_name() }}.getContainer());
                div.style.cssText = "position:absolute;top:8px;left:50%;" +
                    "transform:translateX(-50%);z-index:1000;pointer-events:none;" +
                    "background:rgba(255,255,255,0.9);padding:4px 10px;border-radius:4px;" +
                    "font:bold 15px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3);";
                div.innerHTML = {{ this.body|tojson }};
            })();
        {% endmacro %}
    """)

    def __init__(self, title: str) -> None:
        super().__init__()
        self._name = "Title"
        self.body = _escape(title)


# --------------------------------------------------------------------------- CLI


def _layer_specs(specs: Sequence[str]) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for spec in specs:
        name, sep, file = str(spec).partition("=")
        name, file = name.strip(), file.strip()
        if not sep or not name or not file:
            raise LayerError(f"--layer {spec!r}: write NAME=QUERY_FILE, e.g. "
                             "'flood=query2b.rq'")
        out.append((name, Path(file)))
    names = [n for n, _ in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LayerError(f"--layer: each layer needs its own name; repeated: {twice}")
    return out


def cli_map(
    db: str | os.PathLike[str],
    layers: Sequence[str],
    output: str | os.PathLike[str],
    *,
    title: str | None = None,
    color_by: Sequence[str] = (),
    cmap: str = "viridis",
    offline: bool = True,
) -> Path:
    """``eolab map --db DIR --layer NAME=query.rq ... -o map.html``: a standalone map page.

    Each ``NAME=FILE`` runs the SELECT query in ``FILE`` on the store ``db`` (a folder
    opened read-only, or an endpoint URL) and draws its rows as layer ``NAME``;
    ``color_by`` entries ``NAME=VARIABLE`` colour a layer by a variable (a ramp for
    numbers). Every query runs before anything is written; the page is written to a
    temporary name and renamed, so a failure leaves no partial file.

    Returns
    -------
    pathlib.Path
        The page written.

    Raises
    ------
    LayerError
        For a malformed ``--layer`` or ``--color-by``, a missing query file or a query
        that returns no geometry.
    QueryError, StoreError
        For an invalid query or a store that cannot be opened.
    """
    from eolab.errors import QueryError
    from eolab.linked.store import open_store

    specs = _layer_specs(layers)
    if not specs:
        raise LayerError("eolab map needs at least one --layer NAME=QUERY_FILE")
    colouring: dict[str, str] = {}
    for spec in color_by:
        name, sep, var = str(spec).partition("=")
        if not sep or not name.strip() or not var.strip():
            raise LayerError(f"--color-by {spec!r}: write NAME=VARIABLE, e.g. "
                             "'flood=floodLevel'")
        if name.strip() not in dict(specs):
            raise LayerError(f"--color-by {spec!r}: no layer called {name.strip()!r}")
        colouring[name.strip()] = var.strip().lstrip("?")
    texts = {}
    for name, path in specs:
        if not path.is_file():
            raise LayerError(f"layer {name!r}: no query file at {path}")
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LayerError(f"layer {name!r}: cannot read {path}: {exc}") from exc
    location = os.fspath(db)
    options = {} if location.startswith(("http://", "https://")) else {"read_only": True}
    drawn = []
    with open_store(location, **options) as store:
        for name, path in specs:
            try:
                drawn.append(sparql_layer(store, texts[name], name=name,
                                          color_by=colouring.get(name), cmap=cmap))
            except (LayerError, QueryError) as exc:
                raise type(exc)(f"{path}: {exc}") from exc
    return save_map(query_map(drawn, title=title, offline=offline), output)
