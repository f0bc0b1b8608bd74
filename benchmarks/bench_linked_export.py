"""Export of flood polygons to N-Triples: eolab's streamed writer against an rdflib Graph.

The issue asks the export of 100,000 polygons to be at least 20 times faster
than building an rdflib Graph of the same triples and serialising it, in
bounded memory. Both run in fresh processes (``_measure.measure``: wall time
and peak RSS). rdflib runs on a subset (``--rdflib-features``, default
10,000) and its rate is extrapolated to the whole layer (rdflib's cost per
triple is flat; say so when quoting). Before timing, the rdflib graph of 200
features is checked to be the same triples as eolab's output.

    python benchmarks/bench_linked_export.py [--features 100000] [--rdflib-features 10000]
                                             [--repeat 3] [--from-file]

Each side runs its export ``--repeat`` times in its process and keeps the fastest
(as ``timeit`` does), so that one slow moment of a shared machine does not decide
the ratio.

Prints one JSON line per measurement and a summary line with triples/s, the
ratio and peak memory (VmHWM of each child process; see :func:`peak_mb`).
``linked_imports_only`` and ``linked_layer_only`` are processes that only
import the exporter, or also build the layer: the export's own memory is the
difference. ``--from-file`` also exports from a GeoPackage of the layer, read
2,000 features at a time (the default chunk).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure

TRIPLES_PER_FEATURE = 5     # type, has_floodLevel, hasGeometry, Geometry type, asWKT


def flood_layer(n: int, seed: int = 0):
    """``n`` small polygons (8–12 vertices, like sieved flood regions) over the tutorial AOI."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    x = rng.uniform(150.6266, 150.952, n)
    y = rng.uniform(-33.795, -33.49, n)
    polys = shapely.buffer(shapely.points(x, y), rng.uniform(2e-4, 6e-4, n),
                           quad_segs=rng.integers(2, 4))
    return gpd.GeoDataFrame({"floodLevel": rng.integers(4, 40, n).astype("int32")},
                            geometry=polys, crs=4326)


def peak_mb() -> float:
    """This process's own peak RSS (VmHWM), which ``exec`` resets.

    ``ru_maxrss`` (what ``_measure`` prints as ``peak_rss_mb``) survives the
    fork + exec of a spawned child, so it is at least the parent's RSS at
    that moment; VmHWM is not.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def run_imports_only() -> dict:
    """Baseline: the process after importing the exporter (geopandas, rasterio, pyoxigraph...)."""
    import eolab.linked.export  # noqa: F401

    return {"vm_hwm_mb": peak_mb()}


def run_layer_only(n: int) -> dict:
    """Baseline: the process that only builds the layer (imports included)."""
    import eolab.linked.export  # noqa: F401

    return {"features": len(flood_layer(n)), "vm_hwm_mb": peak_mb()}


def run_eolab(n: int, out: str, source: str | None = None, repeat: int = 1) -> dict:
    import time

    from eolab.linked.export import write_rdf

    layer = source if source else flood_layer(n)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        report = write_rdf(layer, out, name="flood", overwrite=True)
        times.append(time.perf_counter() - start)
    wall = min(times)
    return {"features": n, "triples": report.triples, "export_s": round(wall, 3),
            "triples_per_s": round(report.triples / wall), "bytes": Path(out).stat().st_size,
            "vm_hwm_mb": peak_mb()}


def rdflib_graph(gdf, base: str = "http://ai.di.uoa.gr/flood/"):
    """The same triples as eolab's default export, built as an rdflib Graph."""
    import shapely
    from rdflib import RDF, Graph, Literal, Namespace, URIRef

    geo = Namespace("http://www.opengis.net/ont/geosparql#")
    xsd_integer = URIRef("http://www.w3.org/2001/XMLSchema#integer")
    flo = Namespace(base + "ontology#")
    g = Graph()
    multi = shapely.multipolygons(gdf.geometry.values, indices=range(len(gdf)))
    for i, (level, geom) in enumerate(zip(gdf["floodLevel"].tolist(), multi), start=1):
        feature = URIRef(f"{base}flood/id/{i}")
        node = URIRef(f"{base}flood/Geometry/{i}")
        g.add((feature, RDF.type, flo.flood))
        g.add((feature, flo.has_floodLevel, Literal(str(level), datatype=xsd_integer)))
        g.add((feature, geo.hasGeometry, node))
        g.add((node, RDF.type, geo.Geometry))
        wkt = "<http://www.opengis.net/def/crs/EPSG/0/4326> " + shapely.to_wkt(
            geom, rounding_precision=24)
        g.add((node, geo.asWKT, Literal(wkt, datatype=geo.wktLiteral)))
    return g


def write_gpkg(n: int, path: str) -> dict:
    flood_layer(n).to_file(path, engine="pyogrio")
    return {"vm_hwm_mb": peak_mb()}


def run_rdflib(n: int, out: str, repeat: int = 1) -> dict:
    import time

    gdf = flood_layer(n)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        g = rdflib_graph(gdf)
        g.serialize(destination=out, format="nt", encoding="utf-8")
        times.append(time.perf_counter() - start)
    wall = min(times)
    return {"features": n, "triples": len(g), "export_s": round(wall, 3),
            "triples_per_s": round(len(g) / wall), "vm_hwm_mb": peak_mb()}


def check_same_triples(n: int = 200) -> None:
    import pyoxigraph as ox

    from eolab.linked.export import to_rdf

    gdf = flood_layer(n)
    ours = {(q.subject, q.predicate, q.object)
            for q in ox.parse(to_rdf(gdf, name="flood"), format=ox.RdfFormat.N_TRIPLES)}
    theirs = rdflib_graph(gdf).serialize(format="nt")
    other = {(q.subject, q.predicate, q.object)
             for q in ox.parse(theirs, format=ox.RdfFormat.N_TRIPLES)}
    if ours != other:
        raise SystemExit(f"the rdflib graph differs from eolab's output "
                         f"({len(ours ^ other)} triples)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--rdflib-features", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each export in its process; the fastest is kept "
                             "(on both sides, as timeit does, against a noisy machine)")
    parser.add_argument("--from-file", action="store_true",
                        help="also export from a GeoPackage read in chunks (streamed memory)")
    args = parser.parse_args()
    check_same_triples()
    with tempfile.TemporaryDirectory() as tmp:
        imports = measure("linked_imports_only", run_imports_only)
        base = measure("linked_layer_only", functools.partial(run_layer_only, args.features))
        ours = measure("linked_export_eolab",
                       functools.partial(run_eolab, args.features, f"{tmp}/eolab.nt",
                                         repeat=args.repeat))
        if args.from_file:
            measure("linked_write_gpkg", functools.partial(write_gpkg, args.features,
                                                           f"{tmp}/flood.gpkg"))
            file = measure("linked_export_eolab_from_gpkg",
                    functools.partial(run_eolab, args.features, f"{tmp}/gpkg.nt",
                                      f"{tmp}/flood.gpkg"))
        theirs = measure("linked_export_rdflib",
                         functools.partial(run_rdflib, args.rdflib_features, f"{tmp}/rdflib.nt",
                                           repeat=args.repeat))
    rdflib_full_s = theirs["export_s"] * args.features / args.rdflib_features
    print(json.dumps({
        "benchmark": "linked_export_summary",
        "features": args.features,
        "eolab_triples_per_s": ours["triples_per_s"],
        "rdflib_triples_per_s": theirs["triples_per_s"],
        "rdflib_extrapolated_s": round(rdflib_full_s, 1),
        "rdflib_measured_on_features": args.rdflib_features,
        "ratio": round(ours["triples_per_s"] / theirs["triples_per_s"], 1),
        "goal_ratio": 20,
        "eolab_vm_hwm_mb": ours["vm_hwm_mb"],
        "layer_only_vm_hwm_mb": base["vm_hwm_mb"],
        "imports_only_vm_hwm_mb": imports["vm_hwm_mb"],
        "eolab_from_gpkg_vm_hwm_mb": file["vm_hwm_mb"] if args.from_file else None,
        "rdflib_vm_hwm_mb_on_subset": theirs["vm_hwm_mb"],
    }))


if __name__ == "__main__":
    main()
