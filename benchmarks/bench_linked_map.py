"""Time of a Sextant-style map of Query 2b (no LIMIT) on N flood polygons: query, map, page.

``python benchmarks/bench_linked_map.py [N]`` (default 10,000) prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from eolab import maps
from eolab.linked.export import to_rdf
from eolab.linked.queries import QUERY_2B
from eolab.linked.store import EmbeddedStore


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = np.random.default_rng(0)
    x, y = rng.uniform(150.5, 151, n), rng.uniform(-34, -33.5, n)
    gdf = gpd.GeoDataFrame({"floodLevel": rng.integers(1, 7, n)},
                           geometry=shapely.box(x, y, x + 0.003, y + 0.003), crs=4326)
    store = EmbeddedStore()
    store.load(to_rdf(gdf, name="flood").encode(), graph="http://example.org/flood")
    t0 = time.perf_counter()
    layer = maps.sparql_layer(store, QUERY_2B.replace("LIMIT 50", ""), name="flood",
                              color_by="floodLevel")
    t1 = time.perf_counter()
    m = maps.query_map([layer], offline=True)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        page = maps.save_map(m, Path(tmp) / "map.html")
        t3 = time.perf_counter()
        size = page.stat().st_size
    print(json.dumps({"polygons": n, "sparql_layer_s": round(t1 - t0, 2),
                      "query_map_s": round(t2 - t1, 2), "save_map_s": round(t3 - t2, 2),
                      "page_mb": round(size / 1e6, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                           / 1024)}))


if __name__ == "__main__":
    main()
