"""Tests of eolab.maps: layers, offline pages, and a real headless-browser render."""

from __future__ import annotations

import base64
import html
import io
import re
import socket
import subprocess
import time
from pathlib import Path

import dask.array
import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import shapely
import xarray as xr
from matplotlib.colors import ListedColormap
from pyproj import Transformer
from rasterio.warp import transform_bounds

from eolab import _leaflet_offline, _map_style, maps
from eolab.aoi import TUTORIAL_AOI_WKT, aoi_to_crs
from eolab.errors import BandError, CRSError, EolabError

UTM = "EPSG:32756"  # UTM zone 56 south: the tutorial's Sentinel-2 tiles near Sydney
RED, BLUE, GREEN = "#ff0000", "#0000ff", "#00ff00"
_REMOTE_ASSET = re.compile(
    r"<script[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//|"
    r"<link[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//|"
    r"@import\s+(?:url\()?\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- fixtures


def _utm_raster(data: np.ndarray, bounds: tuple[float, float, float, float],
                crs: str = UTM) -> xr.DataArray:
    """(y, x) or (band, y, x) DataArray whose pixels exactly tile ``bounds``."""
    x0, y0, x1, y1 = bounds
    ny, nx = data.shape[-2:]
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    coords = {"y": y1 - dy * (np.arange(ny) + 0.5), "x": x0 + dx * (np.arange(nx) + 0.5)}
    dims = ("y", "x") if data.ndim == 2 else ("band", "y", "x")
    if data.ndim == 3:
        coords["band"] = np.arange(1, data.shape[0] + 1)
    return xr.DataArray(data, dims=dims, coords=coords).rio.write_crs(crs)


@pytest.fixture(scope="module")
def scene() -> dict:
    """The tutorial AOI, a red polygon on its west half and a blue raster on its east half.

    The raster covers the whole AOI but its west half is NaN, so the red
    polygon (drawn first, under the raster) only shows if NaN is transparent.
    """
    aoi_utm = aoi_to_crs(TUTORIAL_AOI_WKT, UTM)
    x0, y0, x1, y1 = aoi_utm.bounds
    xm = (x0 + x1) / 2
    red = gpd.GeoDataFrame({"floodLevel": [5]},
                           geometry=[shapely.box(x0 + 2000, y0 + 2000, xm - 1000, y1 - 2000)],
                           crs=UTM)
    data = np.ones((200, 200), "float32")
    data[:, :100] = np.nan
    return {"aoi": TUTORIAL_AOI_WKT, "red": red, "raster": _utm_raster(data, aoi_utm.bounds)}


def _build(scene: dict, *, offline: bool) -> folium.Map:
    m = maps.new_map(aoi=scene["aoi"], offline=offline)
    maps.add_aoi(m, scene["aoi"], color=GREEN)
    maps.add_vector(m, scene["red"], name="flood", color=RED, style={"fillOpacity": 1.0})
    maps.add_raster(m, scene["raster"], name="raster", cmap=ListedColormap([BLUE]), opacity=1.0)
    maps.add_layer_control(m)
    return m


# --------------------------------------------------------------------------- online / offline


def test_resolve_offline__explicit_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(maps.OFFLINE_ENV_VAR, "1")
    assert maps.resolve_offline(False) is False
    assert maps.resolve_offline(True) is True


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("TRUE", True), ("yes", True),
                                                 ("0", False), ("false", False), ("off", False),
                                                 ("maybe", True)])
def test_resolve_offline__env(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setattr(_leaflet_offline, "_network_reachable", _must_not_probe)
    monkeypatch.setenv(maps.OFFLINE_ENV_VAR, value)
    assert maps.resolve_offline() is expected


def _must_not_probe(*args: object, **kwargs: object) -> bool:
    raise AssertionError("the network was probed although EOLAB_OFFLINE is set")


def test_resolve_offline__probe_refused_means_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv(maps.OFFLINE_ENV_VAR, raising=False)
    monkeypatch.setattr(_leaflet_offline, "_PROBE_ADDRESS", ("127.0.0.1", port))
    assert maps.resolve_offline() is True


def test_network_reachable__listening_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert _leaflet_offline._network_reachable("127.0.0.1", port, 2.0) is True


def test_network_reachable__never_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_connect(*args: object, **kwargs: object) -> socket.socket:
        time.sleep(3)  # a DNS lookup that never answers
        raise OSError("too late")

    monkeypatch.setattr(_leaflet_offline.socket, "create_connection", slow_connect)
    start = time.monotonic()
    assert _leaflet_offline._network_reachable("slow.invalid", 443, 0.2) is False
    assert time.monotonic() - start < 1.5


# --------------------------------------------------------------------------- pages


def test_new_map__offline_html_links_no_remote_asset(scene: dict) -> None:
    page = _build(scene, offline=True).get_root().render()
    assert not _REMOTE_ASSET.search(page), _REMOTE_ASSET.search(page)
    assert "cdn.jsdelivr.net" not in page and "jquery-3" not in page
    assert "L.version" in page or "leaflet-container" in page  # Leaflet itself is inline
    assert "url(data:image/png;base64," in page  # its CSS images too


def test_new_map__offline_notebook_repr_is_self_contained(scene: dict) -> None:
    out = _build(scene, offline=True)._repr_html_()
    srcdoc = re.search(r'srcdoc="([^"]*)"', out)
    assert srcdoc, "folium's notebook output should be an <iframe srcdoc>"
    page = html.unescape(srcdoc.group(1))
    assert not _REMOTE_ASSET.search(page)
    assert "leaflet-container" in page and "data:image/png;base64," in page


def test_new_map__online_uses_cdn_and_tiles(scene: dict) -> None:
    page = _build(scene, offline=False).get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@" in page
    assert "tile.openstreetmap.org" in page


def test_new_map__offline_drops_plugin_cdn_with_warning() -> None:
    m = maps.new_map(offline=True)
    folium.plugins.MiniMap().add_to(m)
    with pytest.warns(UserWarning, match="offline map: dropped"):
        page = m.get_root().render()
    assert not _REMOTE_ASSET.search(page)


def test_new_map__fits_aoi() -> None:
    m = maps.new_map(aoi=TUTORIAL_AOI_WKT, offline=True)
    fits = [c for c in m._children.values() if isinstance(c, folium.map.FitBounds)]
    assert len(fits) == 1
    np.testing.assert_allclose(fits[0].bounds, [[-33.795, 150.6266], [-33.49, 150.952]])
    assert m.location == pytest.approx([-33.6425, 150.7893])


def test_save_map__atomic_and_standalone(scene: dict, tmp_path: Path) -> None:
    out = maps.save_map(_build(scene, offline=True), tmp_path / "sub" / "map.html")
    assert out == tmp_path / "sub" / "map.html"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and not _REMOTE_ASSET.search(text)
    assert [p.name for p in out.parent.iterdir()] == ["map.html"]  # no temporary left over


# --------------------------------------------------------------------------- vectors


def test_add_vector__utm_lands_at_lonlat() -> None:
    # Easting 500 000 m is the central meridian of UTM zone 56: longitude 153 degrees exactly.
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(500_000, 6_283_000)], crs=UTM)
    layer = maps.add_vector(maps.new_map(offline=True), gdf, name="pt")
    lon, lat = layer.data["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(153.0, abs=1e-9)
    expected_lat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(
        500_000, 6_283_000)[1]
    assert lat == pytest.approx(expected_lat, abs=1e-9)
    assert -33.6 < lat < -33.5


def test_add_vector__repairs_invalid_geometry() -> None:
    bowtie = shapely.Polygon([(150.7, -33.6), (150.8, -33.5), (150.8, -33.6), (150.7, -33.5)])
    assert not bowtie.is_valid
    gdf = gpd.GeoDataFrame(geometry=[bowtie], crs="EPSG:4326")
    layer = maps.add_vector(maps.new_map(offline=True), gdf, name="bowtie")
    geom = shapely.geometry.shape(layer.data["features"][0]["geometry"])
    assert geom.is_valid and geom.area == pytest.approx(0.005)


def test_add_vector__column_colours_and_legend() -> None:
    gdf = gpd.GeoDataFrame(
        {"floodLevel": [4, 5, 6, 5, None]},
        geometry=[shapely.box(150.7 + i / 100, -33.6, 150.705 + i / 100, -33.55) for i in range(5)],
        crs="EPSG:4326",
    )
    m = maps.new_map(offline=True)
    layer = maps.add_vector(m, gdf, name="Flood", column="floodLevel", tooltip="floodLevel")
    colours = [f["properties"]["_eolab_color"] for f in layer.data["features"]]
    assert colours[1] == colours[3] and len({colours[0], colours[1], colours[2]}) == 3
    assert colours[4] == _map_style._NODATA_COLOR
    legends = [c for c in m._children.values() if isinstance(c, _map_style._Legend)]
    assert len(legends) == 1
    for label in ("4", "5", "6", "no data"):
        assert f"{label}</div>" in legends[0].body
    page = m.get_root().render()
    assert "eolab-legend" in page and "floodLevel" in page


def test_add_vector__continuous_column_has_ticks() -> None:
    gdf = gpd.GeoDataFrame({"v": np.arange(30.0)},
                           geometry=[shapely.Point(150.7, -33.6)] * 30, crs="EPSG:4326")
    m = maps.new_map(offline=True)
    layer = maps.add_vector(m, gdf, name="v", column="v", cmap="viridis")
    assert len({f["properties"]["_eolab_color"] for f in layer.data["features"]}) > 12
    legend = next(c for c in m._children.values() if isinstance(c, _map_style._Legend))
    assert "29</div>" in legend.body and "0</div>" in legend.body


def test_add_vector__geoseries_and_string_categories() -> None:
    series = gpd.GeoSeries([shapely.Point(150.7, -33.6), shapely.Point(150.8, -33.6)],
                           crs="EPSG:4326")
    assert len(maps.add_vector(maps.new_map(offline=True), series, name="s").data["features"]) == 2
    gdf = gpd.GeoDataFrame({"kind": ["water", "land"], "when": pd.to_datetime(["2021-03-01"] * 2)},
                           geometry=list(series), crs="EPSG:4326")
    m = maps.new_map(offline=True)
    layer = maps.add_vector(m, gdf, name="kinds", column="kind", tooltip=["kind", "when"])
    props = [f["properties"] for f in layer.data["features"]]
    assert props[0]["_eolab_color"] != props[1]["_eolab_color"]
    assert props[0]["when"].startswith("2021-03-01")
    assert any(isinstance(c, folium.GeoJsonTooltip) for c in layer._children.values())
    m.get_root().render()


def test_add_vector__no_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)])
    with pytest.raises(CRSError, match="no CRS"):
        maps.add_vector(maps.new_map(offline=True), gdf, name="x")


@pytest.mark.parametrize("geoms", [[], [shapely.Polygon()], [None]])
def test_add_vector__empty_layer(geoms: list) -> None:
    gdf = gpd.GeoDataFrame(geometry=geoms, crs="EPSG:4326")
    with pytest.raises(maps.LayerError, match="empty") as info:
        maps.add_vector(maps.new_map(offline=True), gdf, name="nothing")
    assert isinstance(info.value, EolabError)


def test_add_vector__unknown_column() -> None:
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4326")
    with pytest.raises(maps.LayerError, match="floodLevel"):
        maps.add_vector(maps.new_map(offline=True), gdf, name="x", column="floodLevel")


# --------------------------------------------------------------------------- rasters


def test_raster_preview__bounds_lonlat_grid() -> None:
    da = _utm_raster(np.ones((50, 100), "float32"), (150.0, -34.0, 151.0, -33.0), "EPSG:4326")
    rgba, bounds = maps.raster_preview(da)
    np.testing.assert_allclose(bounds, [[-34.0, 150.0], [-33.0, 151.0]], atol=1e-9)
    assert rgba.dtype == np.uint8 and rgba.shape[2] == 4


def test_raster_preview__bounds_utm(scene: dict) -> None:
    da = scene["raster"]
    _, bounds = maps.raster_preview(da)
    w, s, e, n = transform_bounds(UTM, "EPSG:4326", *da.rio.bounds(), densify_pts=21)
    np.testing.assert_allclose(bounds, [[s, w], [n, e]], atol=1e-9)
    # ... and they enclose the tutorial AOI, which is where the raster was made
    assert w <= 150.6266 and e >= 150.952 and s <= -33.795 and n >= -33.49


def test_raster_preview__nan_and_nodata_transparent() -> None:
    data = np.arange(40 * 60, dtype="float32").reshape(40, 60)
    data[:, :30] = np.nan
    da = _utm_raster(data, (150.0, -34.0, 151.0, -33.0), "EPSG:4326")
    rgba, _ = maps.raster_preview(da)
    w = rgba.shape[1]
    assert (rgba[:, : w // 2 - 1, 3] == 0).all() and (rgba[:, : w // 2 - 1, :3] == 0).all()
    assert (rgba[:, w // 2 + 1 :, 3] == 255).all()

    ints = xr.DataArray(np.where(np.isnan(data), 0, 7).astype("uint8"), dims=da.dims,
                        coords=da.coords).rio.write_nodata(0)
    rgba, _ = maps.raster_preview(ints)
    assert (rgba[:, : w // 2 - 1, 3] == 0).all() and (rgba[:, w // 2 + 1 :, 3] == 255).all()


def test_raster_preview__rgb_stretch() -> None:
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 1000, (3, 30, 30)).astype("float32")
    data[0, 0, 0] = np.nan
    da = _utm_raster(data, (150.0, -34.0, 150.3, -33.7), "EPSG:4326")
    rgba, _ = maps.raster_preview(da, rgb=True)
    assert rgba[0, 0, 3] == 0 and (rgba[..., 3] == 255).sum() == rgba.shape[0] * rgba.shape[1] - 1
    opaque = rgba[rgba[..., 3] == 255][:, :3]
    assert opaque.min() == 0 and opaque.max() == 255  # 2.5-97.5 % stretch saturates both ends
    fixed, _ = maps.raster_preview(da, rgb=True, vmin=0, vmax=2000)
    assert fixed[..., :3].max() <= 128


def test_raster_preview__downsamples_lazily() -> None:
    big = dask.array.ones((3000, 4000), chunks=(1000, 1000), dtype="float32")
    da = _utm_raster(big, (300_000, 6_200_000, 340_000, 6_230_000))
    rgba, _ = maps.raster_preview(da, max_size=256)
    assert max(rgba.shape[:2]) <= 256 and (rgba[..., 3] == 255).mean() > 0.9
    rgba, _ = maps.raster_preview(da, max_size=256, resampling="average")
    assert max(rgba.shape[:2]) <= 256


def test_add_raster__png_data_url(scene: dict) -> None:
    from matplotlib.image import imread

    layer = maps.add_raster(maps.new_map(offline=True), scene["raster"], name="r",
                            cmap=ListedColormap([BLUE]))
    assert layer.url.startswith("data:image/png;base64,")
    png = imread(io.BytesIO(base64.b64decode(layer.url.split(",", 1)[1])), format="png")
    assert png.shape[2] == 4
    opaque = png[png[..., 3] == 1.0]
    assert len(opaque) > 0 and (opaque[:, :3] == [0, 0, 1]).all()
    assert (png[..., 3] == 0).any()


def test_raster_preview__no_crs() -> None:
    da = xr.DataArray(np.ones((4, 4)), dims=("y", "x"),
                      coords={"y": np.arange(4.0), "x": np.arange(4.0)})
    with pytest.raises(CRSError, match="no CRS"):
        maps.raster_preview(da)


def test_raster_preview__bad_bands() -> None:
    bands2 = _utm_raster(np.ones((2, 4, 4), "float32"), (0, 0, 4, 4), "EPSG:4326")
    with pytest.raises(BandError, match="select one band"):
        maps.raster_preview(bands2)
    with pytest.raises(BandError, match="exactly 3 bands"):
        maps.raster_preview(bands2, rgb=True)
    one = bands2.isel(band=[0])  # a size-1 band dimension is fine
    assert maps.raster_preview(one)[0].shape[2] == 4


def test_raster_preview__all_nan() -> None:
    da = _utm_raster(np.full((4, 4), np.nan, "float32"), (0, 0, 4, 4), "EPSG:4326")
    with pytest.raises(maps.LayerError, match="no valid pixel"):
        maps.raster_preview(da)


# --------------------------------------------------------------------------- browser
# (the ``chromium`` fixture is in conftest.py)


def _screenshot(exe: str, page: Path, tmp_path: Path) -> np.ndarray:
    """Render ``page`` in headless Chromium with no network; return RGB uint8 pixels."""
    from PIL import Image

    png = tmp_path / f"{page.stem}.png"
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        # no network for the page whatever the machine has: the CDN control must fail here too
        "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=800,600",
        "--virtual-time-budget=5000", f"--screenshot={png}", page.resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"headless Chromium did not finish rendering {page} in 120 s")
    if not png.exists():
        pytest.fail(f"Chromium wrote no screenshot (exit {proc.returncode}):\n"
                    f"{proc.stderr[-2000:]}")
    return np.asarray(Image.open(png).convert("RGB"))


def _mask(img: np.ndarray, colour: str) -> np.ndarray:
    """Pixels of a pure primary colour (allowing for antialiasing)."""
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return {"red": (r > 200) & (g < 50) & (b < 50),
            "green": (g > 200) & (r < 80) & (b < 80),
            "blue": (b > 200) & (r < 50) & (g < 50)}[colour]


@pytest.mark.browser
def test_browser__offline_map_draws_layers(scene: dict, chromium: str, tmp_path: Path) -> None:
    pixels = {}
    for offline in (True, False):
        page = maps.save_map(_build(scene, offline=offline),
                             tmp_path / f"map_{'offline' if offline else 'cdn'}.html")
        pixels[offline] = _screenshot(chromium, page, tmp_path)

    img = pixels[True]
    height, width = img.shape[:2]
    red, blue, green = _mask(img, "red"), _mask(img, "blue"), _mask(img, "green")
    assert red.sum() > 5000, f"vector layer not drawn: {red.sum()} red pixels"
    assert blue.sum() > 5000, f"raster layer not drawn: {blue.sum()} blue pixels"
    assert green.sum() > 500, f"AOI not drawn: {green.sum()} green pixels"
    # where: the map is fitted to the AOI, so its outline frames the middle of the page ...
    gy, gx = np.nonzero(green)
    top, bottom, left, right = gy.min(), gy.max(), gx.min(), gx.max()
    assert abs((left + right) / 2 - width / 2) < 20 and abs((top + bottom) / 2 - height / 2) < 20
    # ... the red polygon lies in its west half, inside it; the blue raster fills the east
    # half (its UTM grid is a little wider) ...
    ry, rx = np.nonzero(red)
    by, bx = np.nonzero(blue)
    middle = (left + right) / 2
    assert rx.min() > left and rx.max() < middle and ry.min() > top and ry.max() < bottom
    assert bx.min() > middle - 10 and np.median(bx) > middle
    assert right - 10 < bx.max() < right + 20 and abs(by.min() - top) < 15
    # ... and its NaN west half is transparent: the plain background shows around the polygon
    inside = img[top + 3 : bottom - 2, left + 3 : right - 2].astype(int)
    background = (np.ptp(inside, axis=2) < 8) & (inside.min(axis=2) > 200)
    dark = inside.max(axis=2) < 60
    assert background.sum() > 2000 and dark.sum() < 100, "NaN pixels of the raster are opaque"

    # proof that the test can fail: folium's CDN page draws nothing without a network
    cdn = pixels[False]
    for colour in ("red", "blue", "green"):
        assert _mask(cdn, colour).sum() < 50, f"{colour} drawn although Leaflet came from a CDN"


@pytest.mark.browser
def test_browser__notebook_iframe_draws_layers(scene: dict, chromium: str,
                                               tmp_path: Path) -> None:
    notebook_cell = _build(scene, offline=True)._repr_html_()
    page = tmp_path / "notebook.html"
    page.write_text(f"<!DOCTYPE html><html><body style='margin:0'>{notebook_cell}</body></html>",
                    encoding="utf-8")
    img = _screenshot(chromium, page, tmp_path)
    assert _mask(img, "red").sum() > 2000 and _mask(img, "blue").sum() > 2000
