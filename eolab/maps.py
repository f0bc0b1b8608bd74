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

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import xarray as xr

from eolab._leaflet_offline import OFFLINE_ENV_VAR, _OfflineMap, resolve_offline
from eolab._map_style import _category_colors, _Legend
from eolab._raster_preview import _png_data_url, raster_preview
from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import CRSError, LayerError

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
