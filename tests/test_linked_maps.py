"""Sextant-style maps from SPARQL queries: layers, colour ramps, tooltips, the page, the CLI,
and a real headless-browser render of the tutorial's Queries 2a + 2b (offline)."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, to_hex

from eolab import maps
from eolab._map_style import _NODATA_COLOR, _Legend
from eolab.errors import LayerError, QueryError, StoreError
from eolab.linked.admin import iter_admin_rdf
from eolab.linked.export import to_rdf
from eolab.linked.queries import PREFIXES, QUERY_2A, QUERY_2B
from eolab.linked.store import EmbeddedStore

FLOOD_G, UNITS_G = "http://example.org/graph/flood", "http://example.org/graph/units"
CELL = 0.1
X0, Y0 = 150.6, -33.8          # south-west corner of a 3 x 3 grid of units near Sydney
RED, GREEN, BLUE = "#ff0000", "#00ff00", "#0000ff"
_REMOTE_ASSET = re.compile(
    r"<script[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//|"
    r"<link[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//|"
    r"@import\s+(?:url\()?\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- data


def _units() -> gpd.GeoDataFrame:
    """3 x 3 units "Unit r-c" (row r from the south, column c from the west)."""
    rows = [(f"Unit {r}-{c}", f"U{r}{c}",
             shapely.box(X0 + c * CELL, Y0 + r * CELL, X0 + (c + 1) * CELL, Y0 + (r + 1) * CELL))
            for r in range(3) for c in range(3)]
    return gpd.GeoDataFrame({"name": [r[0] for r in rows], "code": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs="EPSG:4326")


def _cell_centre(r: int, c: int) -> tuple[float, float]:
    return X0 + (c + 0.5) * CELL, Y0 + (r + 0.5) * CELL


def _floods() -> gpd.GeoDataFrame:
    """Three flood polygons, each well inside one unit of the diagonal: 0-0, 1-1, 2-2."""
    boxes, levels = [], [1, 1, 2]
    for k in range(3):
        cx, cy = _cell_centre(k, k)
        boxes.append(shapely.box(cx - 0.02, cy - 0.02, cx + 0.02, cy + 0.02))
    return gpd.GeoDataFrame({"floodLevel": levels}, geometry=boxes, crs="EPSG:4326")


def _load(store: EmbeddedStore, floods: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> None:
    """The layers as eolab exports them (GeoTriples naming, GADM vocabulary)."""
    store.load(to_rdf(floods, name="flood").encode(), graph=FLOOD_G)
    store.load("".join(iter_admin_rdf(units, name_field="name", code_field="code",
                                      level="3rdOrder")).encode(), graph=UNITS_G)


@pytest.fixture()
def store():
    s = EmbeddedStore()
    _load(s, _floods(), _units())
    yield s
    s.close()


# --------------------------------------------------------------------------- layers


def test_sparql_layer__query_2b_geometries_and_levels(store):
    layer = maps.sparql_layer(store, QUERY_2B, name="flood", color_by="floodLevel")
    floods = _floods()
    assert layer.data.crs == "EPSG:4326"
    assert len(layer.data) == len(floods)
    matched = []
    for level, geom in zip(layer.data["floodLevel"], layer.data.geometry):
        same = [k for k, g in enumerate(floods.geometry) if g.equals(geom)]
        assert len(same) == 1 and floods["floodLevel"][same[0]] == level
        matched += same
    assert sorted(matched) == list(range(len(floods)))
    assert layer.tooltip == ("floodLevel",) and layer.query == QUERY_2B
    west, south, east, north = layer.bounds
    assert (west, south, east, north) == pytest.approx(tuple(floods.total_bounds), abs=1e-12)


def test_sparql_layer__query_2a_units_are_those_geopandas_finds(store):
    layer = maps.sparql_layer(store, QUERY_2A, name="units")
    units, floods = _units(), _floods()
    truth = units.sjoin(floods, predicate="intersects")["name"].unique()
    assert sorted(layer.data["name"]) == sorted(truth) == ["Unit 0-0", "Unit 1-1", "Unit 2-2"]
    by_name = dict(zip(units["name"], units.geometry))
    for name, geom in zip(layer.data["name"], layer.data.geometry):
        assert geom.equals(by_name[name]), name
    # the other variable is a tooltip; the geometry is not
    assert layer.tooltip == ("name",) and "wgeo" not in layer.data.columns


def test_sparql_layer__ramp_is_proportional_to_the_value():
    s = EmbeddedStore()
    levels = [1, 2, 4, 4]
    boxes = [shapely.box(150.6 + i * 0.01, -33.7, 150.605 + i * 0.01, -33.69) for i in range(4)]
    s.load(to_rdf(gpd.GeoDataFrame({"floodLevel": levels}, geometry=boxes, crs=4326),
                  name="flood").encode(), graph=FLOOD_G)
    layer = maps.sparql_layer(s, QUERY_2B, name="flood", color_by="floodLevel", cmap="viridis")
    colours, legend = layer.colors()
    viridis = colormaps["viridis"]
    truth = {1: to_hex(viridis(0.0)), 2: to_hex(viridis(1 / 3)), 4: to_hex(viridis(1.0))}
    assert colours == [truth[v] for v in layer.data["floodLevel"]]
    assert legend == [(truth[1], "1"), (truth[2], "2"), (truth[4], "4")]
    # drawn: every feature carries its colour, the map a legend titled by the variable
    m = maps.new_map(offline=True)
    drawn = layer.add_to(m)
    assert [f["properties"]["_eolab_color"] for f in drawn.data["features"]] == colours
    legends = [c for c in m._children.values() if isinstance(c, _Legend)]
    assert len(legends) == 1 and "flood: floodLevel" in legends[0].body
    assert all(f"{v}</div>" in legends[0].body for v in ("1", "2", "4"))


def test_sparql_layer__ramp_many_values_missing_and_constant():
    query = PREFIXES + ("SELECT ?lvl ?geo WHERE { ?x geo:hasGeometry ?g . ?g geo:asWKT ?geo "
                        "OPTIONAL { ?x flo:has_floodLevel ?lvl } }")
    values = [float(v) for v in range(20)] + [None]
    gdf = gpd.GeoDataFrame({"floodLevel": values},
                           geometry=[shapely.box(150 + i, -33, 150.5 + i, -32.5)
                                     for i in range(21)], crs=4326)
    s = EmbeddedStore()
    s.load(to_rdf(gdf, name="flood").encode(), graph=FLOOD_G)
    layer = maps.sparql_layer(s, query, name="v", color_by="lvl", cmap="magma")
    colours, legend = layer.colors()
    magma = colormaps["magma"]
    for value, colour in zip(layer.data["lvl"], colours):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert colour == _NODATA_COLOR
        else:
            assert colour == to_hex(magma(value / 19.0))
    assert len(colours) == 21 and colours.count(_NODATA_COLOR) == 1  # the OPTIONAL miss
    # more values than categories: five ticks from the smallest to the largest, + no data
    assert [label for _, label in legend] == ["0", "4.75", "9.5", "14.25", "19", "no data"]
    # one value only: the middle of the ramp
    inner = query.replace("OPTIONAL { ?x flo:has_floodLevel ?lvl }", ". ?x flo:has_floodLevel ?lvl")
    one = maps.sparql_layer(s, inner, name="one", color_by="lvl", cmap="magma",
                            bindings={"lvl": 7.0})
    assert len(one.data) == 1 and one.colors()[0] == [to_hex(magma(0.5))]
    s.close()


def test_sparql_layer__text_categories_and_plain_colour(store):
    layer = maps.sparql_layer(store, QUERY_2A, name="units", color_by="name", cmap="tab10")
    colours, legend = layer.colors()
    assert len(set(colours)) == 3 and [lab for _, lab in legend] == sorted(layer.data["name"])
    plain = maps.sparql_layer(store, QUERY_2A, name="units", color="#123456")
    assert plain.colors() == (["#123456"] * 3, [])


def test_sparql_layer__geometry_choice_tooltips_and_bindings(store):
    query = PREFIXES + (
        "SELECT ?name ?wgeo ?geo ?floodLevel WHERE { ?x flo:has_floodLevel ?floodLevel . "
        "?x geo:hasGeometry ?xg . ?xg geo:asWKT ?geo . ?u gadmo:hasName ?name . "
        "?u geo:hasGeometry ?ug . ?ug geo:asWKT ?wgeo FILTER(geof:sfContains(?wgeo, ?geo)) }")
    first = maps.sparql_layer(store, query, name="units")          # first WKT variable: ?wgeo
    assert first.tooltip == ("name", "floodLevel")                 # ?geo is WKT: no tooltip
    assert sorted(first.data["name"]) == ["Unit 0-0", "Unit 1-1", "Unit 2-2"]
    units = dict(zip(_units()["name"], _units().geometry))
    assert all(g.equals(units[n]) for n, g in zip(first.data["name"], first.data.geometry))
    flood = maps.sparql_layer(store, query, name="flood", geometry="?geo",
                              tooltip=["floodLevel"], bindings={"floodLevel": 2})
    assert flood.data["floodLevel"].tolist() == [2] and flood.tooltip == ("floodLevel",)
    assert flood.data.geometry.iloc[0].equals(_floods().geometry.iloc[2])
    none = maps.sparql_layer(store, query, name="bare", tooltip=False)
    m = maps.new_map(offline=True)
    assert not any(isinstance(c, folium.GeoJsonTooltip) for c in none.add_to(m)._children.values())
    tipped = first.add_to(m)
    tips = [c for c in tipped._children.values() if isinstance(c, folium.GeoJsonTooltip)]
    assert len(tips) == 1 and tips[0].fields == ["name", "floodLevel"]
    # the page holds what the map shows: no copy of the other WKT variable
    assert all(set(f["properties"]) == {"name", "floodLevel", "_eolab_color"}
               for f in tipped.data["features"])
    # an injection attempt through a binding is a value, not query text
    with pytest.raises(LayerError, match="no rows"):
        maps.sparql_layer(store, query, name="x", bindings={"name": 'x" } ?s ?p ?o { "'})


def test_sparql_layer__hostile_values_are_shown_as_text(store):
    hostile = '<img src=x onerror=alert(1)>{{ "zz" ~ "qq" }}{% if 1 %}yy{% endif %}</script>'
    units = _units()
    units.loc[4, "name"] = hostile                                  # Unit 1-1
    s = EmbeddedStore()
    _load(s, _floods(), units)
    layer = maps.sparql_layer(s, QUERY_2A, name="units {{ 1 }}")
    assert hostile in layer.data["name"].tolist()                   # the data keep the value
    m = maps.query_map([layer], offline=True)
    page = m.get_root().render()
    assert "zzqq" not in page and "yy{" not in page and ">yy<" not in page
    assert "<img src=x" not in page and hostile not in page
    shown = json.loads(re.search(r"_add\((\{.*?\})\);", page, re.S).group(1))
    names = [f["properties"]["name"] for f in shown["features"]]
    # HTML entities (the tooltip sets innerHTML): the browser shows the value as typed
    import html

    assert hostile in [html.unescape(n) for n in names]
    assert all("<" not in n and "{" not in n for n in names)
    s.close()


def test_sparql_layer__errors(store):
    with pytest.raises(LayerError, match="no rows"):
        maps.sparql_layer(store, PREFIXES + "SELECT ?geo WHERE { ?x geo:asWKT ?geo "
                          "FILTER(false) }", name="empty")
    with pytest.raises(QueryError, match="no WKT column"):
        maps.sparql_layer(store, PREFIXES + "SELECT ?name WHERE { ?x gadmo:hasName ?name }",
                          name="nowkt")
    with pytest.raises(QueryError, match="SELECT"):
        maps.sparql_layer(store, PREFIXES + "ASK { ?s ?p ?o }", name="ask")
    with pytest.raises(QueryError, match="invalid SPARQL"):
        maps.sparql_layer(store, "SELECT ?x WHERE { ?x", name="broken")
    with pytest.raises(LayerError, match="depth"):
        maps.sparql_layer(store, QUERY_2B, name="flood", color_by="depth")
    with pytest.raises(LayerError, match="nosuch"):
        maps.sparql_layer(store, QUERY_2B, name="flood", tooltip=["nosuch"])
    with pytest.raises(LayerError, match="colormap"):
        maps.sparql_layer(store, QUERY_2B, name="flood", color_by="floodLevel", cmap="nope")
    with pytest.raises(LayerError, match="name"):
        maps.sparql_layer(store, QUERY_2B, name=" ")
    for style in ({"color": "{{ x }}"}, {"weight": [1]}, {"on-click": 1}):
        with pytest.raises(LayerError, match="path option"):
            maps.sparql_layer(store, QUERY_2B, name="flood", style=style)
    with pytest.raises(QueryError, match="geometry"):
        maps.sparql_layer(store, QUERY_2B, name="flood", geometry="floodLevel")


# --------------------------------------------------------------------------- map and page


def test_query_map__layer_control_fit_title_offline(store, tmp_path):
    units = maps.sparql_layer(store, QUERY_2A, name="Query 2a: units")
    flood = maps.sparql_layer(store, QUERY_2B, name="Query 2b: flood", color_by="floodLevel")
    other = maps.sparql_layer(store, QUERY_2B, name="plain flood")
    m = maps.query_map([units, flood, other], title="Flood <&> units", offline=True)
    controls = [c for c in m._children.values() if isinstance(c, folium.LayerControl)]
    assert len(controls) == 1
    layers = [c for c in m._children.values() if isinstance(c, folium.GeoJson)]
    assert [x.layer_name for x in layers] == ["Query 2a: units", "Query 2b: flood", "plain flood"]
    # layers without a colour get the palette in order; the ramp layer keeps its ramp
    assert {f["properties"]["_eolab_color"] for f in layers[0].data["features"]} == {
        maps.LAYER_PALETTE[0]}
    assert {f["properties"]["_eolab_color"] for f in layers[2].data["features"]} == {
        maps.LAYER_PALETTE[1]}
    fits = [c for c in m._children.values() if isinstance(c, folium.FitBounds)]
    (south, west), (north, east) = fits[-1].bounds
    assert (west, south, east, north) == pytest.approx((X0, Y0, X0 + 3 * CELL, Y0 + 3 * CELL))
    page = maps.save_map(m, tmp_path / "sub" / "map.html").read_text(encoding="utf-8")
    assert not _REMOTE_ASSET.search(page), "the offline page links a remote asset"
    assert "<title>Flood &lt;&amp;&gt; units</title>" in page and "eolab-title" in page
    for name in ("Query 2a: units", "Query 2b: flood", "plain flood"):
        assert name in page
    assert "L.control.layers" in page and "fitBounds" in page
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name != "map.html"]


def test_query_map__online_basemap_and_bad_input(store):
    layer = maps.sparql_layer(store, QUERY_2A, name="units")
    page = maps.query_map([layer], offline=False).get_root().render()
    assert "tile.openstreetmap.org" in page and _REMOTE_ASSET.search(page)
    with pytest.raises(LayerError, match="at least one"):
        maps.query_map([])
    with pytest.raises(LayerError, match="differ"):
        maps.query_map([layer, layer], offline=True)
    with pytest.raises(LayerError, match="GeoDataFrame"):
        maps.query_map([_units()], offline=True)


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def db(tmp_path) -> Path:
    path = tmp_path / "db"
    s = EmbeddedStore(path)
    _load(s, _floods(), _units())
    s.close()
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_map__two_layers_page(db, tmp_path):
    q2a, q2b = _write(tmp_path / "q2a.rq", QUERY_2A), _write(tmp_path / "q2b.rq", QUERY_2B)
    out = maps.cli_map(db, [f"units={q2a}", f"flood={q2b}"], tmp_path / "out" / "map.html",
                       title="Queries 2a and 2b", color_by=["flood=floodLevel"])
    page = out.read_text(encoding="utf-8")
    assert not _REMOTE_ASSET.search(page)
    data = [json.loads(d) for d in re.findall(r"_add\((\{.*?\})\);", page, re.S)]
    assert len(data) == 2
    names = sorted(f["properties"]["name"] for f in data[0]["features"])
    assert names == ["Unit 0-0", "Unit 1-1", "Unit 2-2"]
    ramp = {f["properties"]["floodLevel"]: f["properties"]["_eolab_color"]
            for f in data[1]["features"]}
    viridis = colormaps["viridis"]
    assert ramp == {1: to_hex(viridis(0.0)), 2: to_hex(viridis(1.0))}
    assert "<title>Queries 2a and 2b</title>" in page


def test_cli_map__bad_input_leaves_no_page(db, tmp_path):
    q2b = _write(tmp_path / "q2b.rq", QUERY_2B)
    empty = _write(tmp_path / "empty.rq", PREFIXES + "SELECT ?geo WHERE { ?x geo:asWKT ?geo "
                   "FILTER(false) }")
    bad = _write(tmp_path / "bad.rq", "SELECT ?x WHERE { ?x")
    out = tmp_path / "map.html"
    out.write_text("previous", encoding="utf-8")
    cases = [
        (["flood"], LayerError, "NAME=QUERY_FILE"),
        ([f"={q2b}"], LayerError, "NAME=QUERY_FILE"),
        (["flood="], LayerError, "NAME=QUERY_FILE"),
        ([f"a={q2b}", f"a={q2b}"], LayerError, "repeated"),
        ([f"flood={tmp_path / 'missing.rq'}"], LayerError, "no query file at .*missing.rq"),
        ([f"flood={q2b}", f"nothing={empty}"], LayerError, "empty.rq.*no rows"),
        ([f"broken={bad}"], QueryError, "bad.rq.*invalid SPARQL"),
        ([], LayerError, "at least one"),
    ]
    for layers, error, message in cases:
        with pytest.raises(error, match=message):
            maps.cli_map(db, layers, out)
    with pytest.raises(LayerError, match="no layer called 'other'"):
        maps.cli_map(db, [f"flood={q2b}"], out, color_by=["other=floodLevel"])
    with pytest.raises(LayerError, match="NAME=VARIABLE"):
        maps.cli_map(db, [f"flood={q2b}"], out, color_by=["floodLevel"])
    with pytest.raises(StoreError, match="no store"):
        maps.cli_map(tmp_path / "nodb", [f"flood={q2b}"], out)
    assert out.read_text(encoding="utf-8") == "previous"
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["bad.rq", "db", "empty.rq", "map.html", "q2b.rq"]


# --------------------------------------------------------------------------- browser
# (the ``chromium`` fixture is in conftest.py)


WINDOW = (800, 600)


def _chromium_run(exe: str, page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on ``page`` without any network."""
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=5000",
        *args, page.resolve().as_uri(),
    ]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"headless Chromium did not finish rendering {page} in 120 s")


def _project(lon, lat, zoom: float):
    """Web Mercator pixel coordinates at ``zoom`` (256-pixel tiles), as Leaflet's EPSG3857."""
    scale = 256 * 2.0 ** zoom
    y = np.log(np.tan(np.pi / 4 + np.radians(np.asarray(lat, float)) / 2))
    return (np.asarray(lon, float) + 180) / 360 * scale, (1 - y / np.pi) / 2 * scale


def _fit_zoom(bounds: tuple[float, float, float, float], size: tuple[float, float]) -> int:
    """The zoom of Leaflet's ``fitBounds`` (getBoundsZoom, zoomSnap 1): the largest whole
    zoom at which the bounds fit a map of ``size`` pixels."""
    west, south, east, north = bounds
    x0, y0 = _project(west, north, 0)
    x1, y1 = _project(east, south, 0)
    scale = min(size[0] / (x1 - x0), size[1] / (y1 - y0))
    return math.floor(round(math.log2(scale) * 100) / 100)


def _js_round(v):
    return np.floor(np.asarray(v, float) + 0.5)


def _leaflet_pixels(lonlat: np.ndarray, bounds: tuple[float, float, float, float], zoom: int,
                    size: tuple[int, int], loaded: tuple[int, int] | None = None) -> np.ndarray:
    """Where Leaflet draws the vertex (lon, lat) on a map of ``size`` px after
    ``fitBounds(bounds)`` chose ``zoom`` on a map of ``loaded`` px (default ``size``).

    Leaflet's arithmetic: the view is centred on the middle ``c`` of the bounds' projected
    corners; the pixel origin is ``round(c - loaded / 2)``; a vertex is at
    ``round(project(v)) - origin``; a later resize pans by ``round(size / 2) -
    round(loaded / 2)`` (the centre stays)."""
    loaded = size if loaded is None else loaded
    west, south, east, north = bounds
    sx, sy = _project(west, south, zoom)
    nx, ny = _project(east, north, zoom)
    px, py = _project(lonlat[:, 0], lonlat[:, 1], zoom)
    out = []
    for p, c, n0, n1 in ((px, (sx + nx) / 2, loaded[0], size[0]),
                         (py, (sy + ny) / 2, loaded[1], size[1])):
        origin = _js_round(c - n0 / 2)
        out.append(_js_round(p) - origin + _js_round(n1 / 2) - _js_round(n0 / 2))
    return np.column_stack(out)


_PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  for (var key in window) {
    if (key.indexOf("map_") === 0 && window[key] instanceof L.Map) {
      var m = window[key], pre = document.createElement("pre");
      pre.id = "eolab-probe";
      pre.textContent = JSON.stringify({zoom: m.getZoom(), size: m.getSize()});
      document.body.appendChild(pre);
    }
  }
}, 100); });
</script>"""


def _colour_at(img: np.ndarray, xy: np.ndarray, r: int = 3) -> np.ndarray:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return np.median(img[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3), axis=0)


@pytest.mark.browser
def test_browser__query_2a_and_2b_drawn_where_they_are(store, chromium, tmp_path):
    """The page of Query 2a (blue units) under Query 2b (flood ramp: level 1 red, 2 green),
    rendered offline: every flood polygon and every unit Query 2a returns is drawn, in its
    colour, at the pixels Web Mercator puts it; units Query 2a does not return are not."""
    from PIL import Image

    solid = {"fillOpacity": 1.0, "weight": 0}
    units = maps.sparql_layer(store, QUERY_2A, name="Query 2a", color=BLUE, style=solid)
    flood = maps.sparql_layer(store, QUERY_2B, name="Query 2b", color_by="floodLevel",
                              cmap=ListedColormap([RED, GREEN]), style=solid)
    page = maps.save_map(maps.query_map([units, flood], title="Flood and units", offline=True),
                         tmp_path / "map.html")

    png = tmp_path / "map.png"
    shot = _chromium_run(chromium, page, tmp_path, f"--screenshot={png}")
    if not png.exists():
        pytest.fail(f"Chromium wrote no screenshot (exit {shot.returncode}):\n"
                    f"{shot.stderr[-2000:]}")
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    size = (img.shape[1], img.shape[0])

    # the DOM after the scripts ran (a test-only copy of the page reports the map's zoom
    # and its size when fitBounds ran): one SVG path per feature, filled in its colour
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</html>", _PROBE + "</html>"),
                     encoding="utf-8")
    dom = _chromium_run(chromium, probe, tmp_path, "--dump-dom").stdout
    paths = [p for p in re.findall(r"<path\b[^>]*>", dom) if "leaflet-interactive" in p]
    fills = sorted(re.search(r'fill="([^"]+)"', p).group(1) for p in paths)
    assert fills == sorted([BLUE] * 3 + [RED, RED, GREEN]), fills
    found = re.search(r'<pre id="eolab-probe">([^<]*)</pre>', dom)
    assert found, "the probe found no Leaflet map in the page"
    state = json.loads(found.group(1))
    bounds = (X0, Y0, X0 + 3 * CELL, Y0 + 3 * CELL)
    zoom, loaded = state["zoom"], (state["size"]["x"], state["size"]["y"])
    assert zoom == _fit_zoom(bounds, loaded), state

    colours = {"red": np.array([255, 0, 0]), "green": np.array([0, 255, 0]),
               "blue": np.array([0, 0, 255])}

    def is_(colour: str, rgb: np.ndarray) -> bool:
        return bool(np.abs(rgb - colours[colour]).max() < 40)

    flood_level = {0: "red", 1: "red", 2: "green"}
    for r in range(3):
        for c in range(3):
            cx, cy = _cell_centre(r, c)
            # the unit's centre (a flood polygon on the diagonal) and a point inside the
            # unit but outside any flood polygon (a quarter cell from its south-west corner)
            centre, inner = _leaflet_pixels(
                np.array([[cx, cy], [cx - CELL / 4, cy - CELL / 4]]), bounds, zoom, size, loaded)
            at_centre, at_inner = _colour_at(img, centre), _colour_at(img, inner)
            if r == c:
                assert is_(flood_level[r], at_centre), (r, c, centre, at_centre)
                assert is_("blue", at_inner), (r, c, inner, at_inner)
            else:
                for xy, rgb in ((centre, at_centre), (inner, at_inner)):
                    assert not any(is_(k, rgb) for k in colours), (r, c, xy, rgb)
                    assert rgb.min() > 150, (r, c, xy, rgb)         # the plain background
    # edges: each unit of Query 2a covers exactly the pixels Mercator gives its corners.
    # Along a line through the unit (clear of its flood polygon) the blue coverage of
    # each pixel (antialiased edges are partly blue) gives the edges to a fraction of a
    # pixel: to 0.5 px.
    background = 221.0                                   # Leaflet's #ddd: no basemap
    for k in range(3):
        cx, cy = _cell_centre(k, k)
        (west, north), (east, south), (lx, ly) = _leaflet_pixels(
            np.array([[cx - CELL / 2, cy + CELL / 2], [cx + CELL / 2, cy - CELL / 2],
                      [cx - CELL / 4, cy - CELL / 4]]), bounds, zoom, size, loaded)
        for profile, (lo, hi) in ((img[int(ly), :, 0], (west, east)),
                                  (img[:, int(lx), 0], (north, south))):
            start = int(lo) - 12                         # the unit and 12 px around it
            cover = np.clip((background - profile[start:int(hi) + 13]) / background, 0, 1)
            inside = np.nonzero(cover > 0.02)[0] + start
            first, last = inside.min(), inside.max()
            cover = np.concatenate([np.zeros(start), cover])
            assert np.all(cover[first + 1:last] > 0.98), (k, "a gap in the unit")
            edges = (first + 1 - cover[first], last + cover[last])
            assert edges == pytest.approx((lo, hi), abs=0.5), (k, edges, (lo, hi))
