"""RemoteStore against a real ``oxigraph serve`` on 127.0.0.1, started and stopped here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import geopandas as gpd
import linked_testdata as td
import pyoxigraph as ox
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eolab.errors import EndpointError, QueryError, StoreError
from eolab.linked.queries import PREFIXES, QUERY_1, QUERY_2A, QUERY_2B
from eolab.linked.remote import RemoteStore
from eolab.linked.store import open_store

UNITS, NAMES, LEVELS = td.units_grid()
BOXES, FLOOD_LEVELS = td.floods()
FLOOD_G, UNITS_G = td.FLOOD_G, td.UNITS_G


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = shutil.which("oxigraph")
    if binary is None:
        pytest.skip("the oxigraph server binary is not installed (pip install oxigraph)")
    port = _free_port()
    proc = subprocess.Popen([binary, "serve", "--location", str(tmp_path_factory.mktemp("ox")),
                             "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, params={"query": "ASK {}"}, timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"oxigraph serve did not start: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture()
def remote(server):
    store = open_store(server)
    assert isinstance(store, RemoteStore)
    store.load(td.flood_nt(BOXES, FLOOD_LEVELS), graph=FLOOD_G)
    store.load(td.units_nt(UNITS, NAMES, LEVELS), graph=UNITS_G)
    yield store
    for g in store.graphs():
        store.delete_graph(g)
    store.close()


def _frames():
    fl = gpd.GeoDataFrame({"lvl": FLOOD_LEVELS}, geometry=BOXES, crs=4326)
    un = gpd.GeoDataFrame({"name": NAMES, "level": LEVELS}, geometry=UNITS, crs=4326)
    return fl, un


def test_remote__tutorial_queries_give_the_embedded_and_geopandas_rows(remote):
    fl, un = _frames()
    q1 = remote.select(QUERY_1).to_frame()
    assert dict(zip(q1["floodLevel"], q1["amountofareas"])) == fl["lvl"].value_counts().to_dict()
    names = sorted(remote.select(QUERY_2A).to_frame()["name"])
    truth = gpd.sjoin(un[un.level == "3rdOrder"], fl, predicate="intersects")
    assert names == sorted(set(truth["name"])) and len(names) == 6
    rows = remote.select(QUERY_2B).to_frame()
    assert len(rows) == min(50, len(BOXES))
    assert all(w.startswith("<http://www.opengis.net/def/crs/OGC/1.3/CRS84> MULTIPOLYGON")
               for w in rows["geo"])                                   # relabelled on load
    embedded = open_store(None)
    embedded.load(td.flood_nt(BOXES, FLOOD_LEVELS), graph=FLOOD_G)
    embedded.load(td.units_nt(UNITS, NAMES, LEVELS), graph=UNITS_G)
    assert sorted(embedded.select(QUERY_2A).to_frame()["name"]) == names


def test_remote__projected_layer_transformed_to_crs84(remote):
    fl, un = _frames()
    n = len(BOXES) - 3
    remote.load(td.flood_nt(BOXES[:n], FLOOD_LEVELS[:n]), graph=FLOOD_G)
    remote.load(td.units_nt(UNITS, NAMES, LEVELS, crs="<http://www.opengis.net/def/crs/EPSG/0/32756> ",
                            transform=td.utm56s), graph=UNITS_G)
    truth = gpd.sjoin(un[un.level == "3rdOrder"], fl.iloc[:n], predicate="intersects")
    assert sorted(remote.select(QUERY_2A).to_frame()["name"]) == sorted(set(truth["name"]))


def test_remote__reload_replaces_and_failed_load_keeps_graph(remote):
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    before = remote.select(count).to_frame()["n"][0]
    assert before == 5 * len(BOXES) + 5 * len(UNITS)
    assert remote.load(td.flood_nt(BOXES, FLOOD_LEVELS), graph=FLOOD_G) == 5 * len(BOXES)
    assert remote.select(count).to_frame()["n"][0] == before
    bad = td.flood_nt(BOXES[:2], [1, 2]) + b"<http://ex/a> <http://ex/b> .\n"
    with pytest.raises(StoreError, match="nothing was sent"):
        remote.load(bad, graph=FLOOD_G)
    assert remote.select(count).to_frame()["n"][0] == before
    assert sorted(remote.graphs()) == sorted([FLOOD_G, UNITS_G])
    # the server's side of it: a PUT that fails to parse is refused and changes nothing
    with pytest.raises(EndpointError, match="400"):
        remote._request("PUT", remote.store_url, params={"graph": FLOOD_G}, data=bad,
                        headers={"Content-Type": "application/n-triples"}, bad_request=EndpointError)
    assert remote.select(count).to_frame()["n"][0] == before


def test_remote__injection_is_bound_not_pasted(remote):
    q = PREFIXES + "SELECT ?u ?name WHERE { ?u gadmo:hasName ?name }"
    evil = 'Unit 0-0"@en } } ; DROP ALL ; SELECT * { ?s ?p ?o . FILTER("x'
    assert len(remote.select(q, bindings={"name": evil})) == 0
    hit = remote.select(q, bindings={"name": ox.Literal("Unit 0-0", language="en")})
    assert hit.to_frame()["u"].tolist() == [f"{td.GADM}unit/1"]
    assert len(remote.graphs()) == 2 and len(remote.select(QUERY_2A)) == 6
    ask = PREFIXES + "ASK { ?u gadmo:hasName ?name }"
    assert remote.query(ask, bindings={"name": evil}) is False
    built = remote.query(PREFIXES + "CONSTRUCT { ?u <http://ex/label> ?name } WHERE { ?u gadmo:hasName ?name }",
                         bindings={"name": ox.Literal("Unit 0-1", language="en")})
    assert [(t.subject.value, t.object.value) for t in built] == [(f"{td.GADM}unit/2", "Unit 0-1")]


def test_remote__failing_endpoints_name_url_and_status(server):
    dead = f"http://127.0.0.1:{_free_port()}/query"
    with pytest.raises(EndpointError, match=f"{dead} is unreachable"):
        RemoteStore(dead, timeout=2).select("SELECT * WHERE { ?s ?p ?o }")
    missing = server.rsplit("/", 1)[0] + "/no-such-endpoint"
    with pytest.raises(EndpointError, match=f"{missing} answered 404"):
        RemoteStore(missing).select("SELECT * WHERE { ?s ?p ?o }")
    with pytest.raises(QueryError, match="400"):
        RemoteStore(server).select("SELEC nothing")
    with pytest.raises(EndpointError, match="answered 4"):
        RemoteStore(server, store_url=server.rsplit("/", 1)[0] + "/nowhere").load(
            td.units_nt(UNITS, NAMES, LEVELS), graph=UNITS_G)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=40), lang=st.sampled_from([None, "en", "el-GR"]))
def test_remote__any_bound_text_comes_back_unchanged(server, value, lang):
    """Quotes, backslashes, newlines, braces, control and non-ASCII characters: the VALUES
    block pyoxigraph serialises is read back by the server as the very same literal."""
    term = ox.Literal(value, language=lang) if lang else ox.Literal(value)
    out = RemoteStore(server).select("SELECT ?v WHERE { }", bindings={"v": term})
    assert out.rows == [(term,)]
