"""Query 2a of the tutorial on 10,000 flood polygons x 500 units: eolab's store, PostGIS, geopandas.

Data (seeded): 500 Voronoi administrative units (3rdOrder) over one degree square near
Sydney and 10,000 square flood polygons of 0.001-0.008 degrees, written as GeoTriples
writes them (EPSG:4326 IRI, ``has_floodLevel``) and as GADM units.

* ``embedded``: :class:`eolab.linked.store.EmbeddedStore` on disk in a temporary folder;
  load, then close and reopen (``open`` includes the in-memory copy), then the first
  query (``cold``: R-tree build, the materialised relation and the query) and later
  ones (``warm``). ``index_build`` is timed on its own; ``on_disk_warm`` is the warm
  query with ``memory=False`` (RocksDB reads).
* ``postgis``: PostgreSQL + PostGIS started here on 127.0.0.1 (a temporary cluster, run
  as the ``postgres`` user when this script runs as root), the same polygons in two
  tables with GiST indexes, ANALYZEd; ``SELECT DISTINCT a.name, a.wkt FROM flood f JOIN
  admin a ON ST_Intersects(f.geom, a.geom) WHERE a.level = '3rdOrder'`` timed by psql
  (``\\timing``, round trip over the Unix socket, rows sent to /dev/null). Skipped with
  a message when PostGIS is missing
  (``sh benchmarks/install-postgis.sh`` installs it on Debian).
* ``geopandas``: ``sjoin(units, floods, predicate="intersects")`` and the distinct names.

Warm times are taken in ``--rounds`` interleaved rounds of ``--reps`` runs of each engine,
so that load from other processes falls on all of them alike; median and minimum are
printed. All three must find the same units. Target: embedded warm <= 2 x PostGIS. The
load average is printed with the figures.

``python benchmarks/bench_linked_query.py [--floods 10000] [--units 500] [--rounds 5] [--reps 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.ops import voronoi_diagram

from eolab.linked.queries import QUERY_2A
from eolab.linked.store import EmbeddedStore

EPSG = "<http://www.opengis.net/def/crs/EPSG/0/4326> "
GEO = "http://www.opengis.net/ont/geosparql#"
XSD = "http://www.w3.org/2001/XMLSchema#"


def make_data(n_floods: int, n_units: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = 150.0, -34.0, 151.0, -33.0
    pts = shapely.MultiPoint(np.column_stack([rng.uniform(x0, x1, n_units),
                                              rng.uniform(y0, y1, n_units)]))
    env = shapely.box(x0, y0, x1, y1)
    units = [shapely.intersection(g, env) for g in voronoi_diagram(pts, envelope=env).geoms]
    cx, cy = rng.uniform(x0, x1, n_floods), rng.uniform(y0, y1, n_floods)
    s = rng.uniform(0.0005, 0.004, n_floods)
    floods = [shapely.MultiPolygon([b]) for b in shapely.box(cx - s, cy - s, cx + s, cy + s)]
    levels = rng.integers(1, 6, n_floods).tolist()
    return floods, levels, units


def write_ntriples(path: Path, floods, levels, units) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for i, (g, lvl) in enumerate(zip(floods, levels), 1):
            f, gg = f"<http://ai.di.uoa.gr/flood/flood/id/{i}>", f"<http://ai.di.uoa.gr/flood/flood/Geometry/{i}>"
            out.write(f'{f} <http://ai.di.uoa.gr/flood/ontology#has_floodLevel> "{lvl}"^^<{XSD}integer> .\n'
                      f"{f} <{GEO}hasGeometry> {gg} .\n"
                      f'{gg} <{GEO}asWKT> "{EPSG}{g.wkt}"^^<{GEO}wktLiteral> .\n')
        for i, g in enumerate(units, 1):
            u, gg = f"<http://www.app-lab.eu/gadm/unit/{i}>", f"<http://www.app-lab.eu/gadm/unit/{i}/geometry>"
            out.write(f"{u} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.app-lab.eu/gadm/AdministrativeUnit> .\n"
                      f'{u} <http://www.app-lab.eu/gadm/ontology/hasName> "Unit {i}"@en .\n'
                      f'{u} <http://www.app-lab.eu/gadm/ontology/hasNationalLevel> "3rdOrder"^^<{XSD}string> .\n'
                      f"{u} <{GEO}hasGeometry> {gg} .\n"
                      f'{gg} <{GEO}asWKT> "{EPSG}{g.wkt}"^^<{GEO}wktLiteral> .\n')


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def open_embedded(nt: Path, work: Path) -> tuple[EmbeddedStore, dict, set[str]]:
    """Load, reopen, time the index build and the cold query; the store stays open."""
    db = work / "store"
    store = EmbeddedStore(db)
    _, load_s = timed(lambda: store.load(nt, graph="http://example.org/bench"))
    store.close()
    store, open_s = timed(lambda: EmbeddedStore(db))
    _, index_s = timed(store.spatial_index)
    store._index = None                                  # cold: build again inside the query
    rows, cold_s = timed(lambda: store.select(QUERY_2A))
    names = {r[0].value for r in rows.rows}
    return store, {"load_s": load_s, "open_s": open_s, "index_build_s": index_s,
                   "cold_s": cold_s, "rows": len(rows)}, names


def on_disk_warm(work: Path, reps: int) -> float:
    """Median warm time with ``memory=False`` (RocksDB reads), for comparison."""
    disk = EmbeddedStore(work / "store", memory=False)
    disk.select(QUERY_2A)
    times = [timed(lambda: disk.select(QUERY_2A))[1] for _ in range(reps)]
    disk.close()
    return statistics.median(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


class PostGIS:
    """A temporary PostgreSQL + PostGIS cluster on 127.0.0.1 holding the same polygons."""

    QUERY = ("SELECT DISTINCT a.name, a.wkt FROM flood f JOIN admin a "
             "ON ST_Intersects(f.geom, a.geom) WHERE a.level = '3rdOrder';")

    def __init__(self, work: Path) -> None:
        self.initdb, self.pg_ctl, self.psql = _pg_bin("initdb"), _pg_bin("pg_ctl"), _pg_bin("psql")
        self.pg = work / "pg"
        self.as_user: list[str] = []
        self.work = work
        self.port = _free_port()
        self.started = False

    def missing(self) -> str:
        """Why PostGIS cannot run here ("" when it can)."""
        if not (self.initdb and self.pg_ctl and self.psql):
            return "PostgreSQL binaries (initdb, pg_ctl, psql) not found"
        version = subprocess.run([_pg_bin("postgres") or "postgres", "--version"],
                                 capture_output=True, text=True, check=False).stdout
        major = re.search(r"(\d+)", version)
        control = Path(f"/usr/share/postgresql/{major.group(1) if major else '?'}"
                       "/extension/postgis.control")
        if not control.exists():
            return f"PostGIS is not installed ({control} missing): sh benchmarks/install-postgis.sh"
        return ""

    def start(self, floods, levels, units) -> None:
        self.pg.mkdir()
        if os.geteuid() == 0:                         # postgres refuses to run as root
            shutil.chown(self.work, "postgres")
            shutil.chown(self.pg, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = str(self.pg / "data")
        subprocess.run([*self.as_user, str(self.initdb), "-D", data, "-U", "postgres",
                        "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
        options = (f"-p {self.port} -k {self.pg} -c listen_addresses=127.0.0.1 "
                   "-c shared_buffers=256MB")
        subprocess.run([*self.as_user, str(self.pg_ctl), "-D", data, "-w", "-l",
                        str(self.pg / "log"), "-o", options, "start"],
                       check=True, capture_output=True)
        self.started = True
        self.sql("CREATE EXTENSION postgis;"
                 "CREATE TABLE flood (id int, level int, geom geometry(MultiPolygon, 4326));"
                 "CREATE TABLE admin (id int, name text, level text, wkt text, "
                 "geom geometry(Geometry, 4326));")
        rows = "\n".join(f"{i}\t{lvl}\tSRID=4326;{g.wkt}"
                         for i, (g, lvl) in enumerate(zip(floods, levels), 1))
        self.sql("COPY flood (id, level, geom) FROM STDIN;\n" + rows + "\n\\.\n")
        rows = "\n".join(f"{i}\tUnit {i}\t3rdOrder\t{EPSG}{g.wkt}\tSRID=4326;{g.wkt}"
                         for i, g in enumerate(units, 1))
        self.sql("COPY admin (id, name, level, wkt, geom) FROM STDIN;\n" + rows + "\n\\.\n")
        self.sql("CREATE INDEX ON flood USING gist (geom); CREATE INDEX ON admin USING gist (geom);"
                 "ANALYZE flood; ANALYZE admin;")

    def sql(self, text: str, *extra: str) -> str:
        res = subprocess.run([str(self.psql), "-h", str(self.pg), "-p", str(self.port), "-U",
                              "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1", *extra],
                             input=text, text=True, capture_output=True, check=False)
        if res.returncode:
            raise RuntimeError(res.stderr)
        return res.stdout

    def names(self) -> set[str]:
        lines = self.sql(self.QUERY, "-A", "-t", "-F", "\t").splitlines()
        return {line.split("\t")[0] for line in lines if line}

    def times(self, n: int) -> list[float]:
        """``n`` timed runs in one psql session (after one untimed warm-up run)."""
        out = self.sql("\\timing on\n\\o /dev/null\n" + self.QUERY * (n + 1))
        return [float(t) / 1000 for t in re.findall(r"Time: ([\d.]+) ms", out)][1:]

    def plan(self) -> str:
        return self.sql("EXPLAIN ANALYZE " + self.QUERY)

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self.as_user, str(self.pg_ctl), "-D", str(self.pg / "data"), "-m",
                            "fast", "stop"], capture_output=True, check=False)


def geopandas_join(floods, units):
    """The sjoin as a callable, its first run's time and the flooded unit names."""
    fl = gpd.GeoDataFrame(geometry=floods, crs=4326)
    un = gpd.GeoDataFrame({"name": [f"Unit {i}" for i in range(1, len(units) + 1)]},
                          geometry=units, crs=4326)

    def join() -> set[str]:
        return set(gpd.sjoin(un, fl, predicate="intersects")["name"].unique())

    names, first = timed(join)
    return join, {"first_s": first, "rows": len(names)}, names


def summary(times: list[float]) -> dict:
    return {"warm_median_s": statistics.median(times), "warm_min_s": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floods", type=int, default=10000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3, help="runs of each engine per round")
    args = parser.parse_args()
    floods, levels, units = make_data(args.floods, args.units)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_linked_") as tmp:
        work = Path(tmp)
        nt = work / "layers.nt"
        write_ntriples(nt, floods, levels, units)
        store, results["embedded"], emb_names = open_embedded(nt, work)
        gpd_join, results["geopandas"], gpd_names = geopandas_join(floods, units)
        pg = PostGIS(work)
        why = pg.missing()
        try:
            if why:
                print(f"PostGIS skipped: {why}")
            else:
                pg.start(floods, levels, units)
                pg_names = pg.names()
                assert pg_names == gpd_names, "PostGIS and geopandas disagree"
                plan = pg.plan()
                results["postgis"] = {"rows": len(pg_names), "uses_gist": "Index" in plan,
                                      "jit": "JIT:" in plan}
            # interleaved rounds: every engine meets the same load from other processes
            times: dict[str, list[float]] = {k: [] for k in results}
            for _ in range(args.rounds):
                times["embedded"] += [timed(lambda: store.select(QUERY_2A))[1]
                                      for _ in range(args.reps)]
                times["geopandas"] += [timed(gpd_join)[1] for _ in range(args.reps)]
                if not why:
                    times["postgis"] += pg.times(args.reps)
        finally:
            pg.stop()
        store.close()
        for name, t in times.items():
            results[name].update(summary(t))
        results["embedded"]["on_disk_warm_median_s"] = on_disk_warm(work, args.reps)
    assert emb_names == gpd_names, "embedded store and geopandas disagree"
    for name, r in results.items():
        print(json.dumps({"benchmark": f"query_2a/{name}", **{k: round(v, 4) if isinstance(v, float)
                                                               else v for k, v in r.items()}}))
    if "postgis" in results:
        e, p = results["embedded"], results["postgis"]
        print(f"embedded warm / PostGIS: median {e['warm_median_s'] / p['warm_median_s']:.2f}, "
              f"min {e['warm_min_s'] / p['warm_min_s']:.2f} (target <= 2)")
    print(f"load average: {os.getloadavg()}  ({args.floods} floods x {args.units} units, "
          f"{len(gpd_names)} units flooded)")


if __name__ == "__main__":
    main()
