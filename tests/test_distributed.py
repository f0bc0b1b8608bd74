"""The tutorial's flood chain, lazily, on a dask.distributed local cluster: the arrays stay dask
until computed, the work runs on the cluster's worker processes, and the polygons equal the
eager chain's (GDAL's sieve)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask.array
import numpy as np
import pytest
import shapely

from eolab import change, flood
from eolab.io.sentinel2 import open_l2a
from eolab.tutorial import TUTORIAL_AOI_WKT, flood_products

distributed = pytest.importorskip("distributed")

BANDS = ["B3", "B4", "B8", "SCL"]


def quarter_aoi() -> str:
    """The south-west quarter of the tutorial's AOI: the same chain, a quarter of the reading."""
    x0, y0, x1, y1 = shapely.from_wkt(TUTORIAL_AOI_WKT).bounds
    return shapely.box(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2).wkt


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_flood_chain__lazy_on_local_cluster_equals_eager(samples_dir: Path, client):
    before, after = flood_products(samples_dir)
    ds_before = open_l2a(before, bands=BANDS, resolution=20, aoi=quarter_aoi())
    ds_after = open_l2a(after, bands=BANDS, resolution=20, aoi=quarter_aoi())
    magnitude = change.cva(ds_before, ds_after, bands=["B3", "B4", "B8"])["magnitude"]
    levels = flood.flood_levels(magnitude).chunk({"y": 200})         # 5 row strips
    sieved = flood.sieve(levels, size=10, connectivity=4)
    kept = flood.threshold_levels(sieved, min_level=4)
    for step in (magnitude, levels, sieved, kept):
        assert isinstance(step.data, dask.array.Array), step.name

    with distributed.get_task_stream(client) as stream:
        magnitude = magnitude.persist()           # reading and CVA, on the cluster
        kept = kept.persist()                     # levels, sieve and threshold, on the cluster
        distributed.wait([magnitude.data, kept.data])
    assert len(kept.data.chunks[0]) == 5
    assert isinstance(kept.data, dask.array.Array)
    workers = set(client.scheduler_info()["workers"])
    ran = {(t["key"][0] if isinstance(t["key"], tuple) else t["key"]).split("-")[0]: t["worker"]
           for t in stream.data}
    for step in ("label_strip", "summarise_strip", "stitch_strips", "strip_candidates",
                 "decide", "apply_strip"):
        assert ran.get(step) in workers, f"{step} did not run on the cluster"
    lazy = flood.polygonize(kept)

    eager_levels = flood.flood_levels(magnitude.compute())
    eager = flood.polygonize(flood.threshold_levels(
        flood.sieve(eager_levels, size=10, engine="gdal"), min_level=4))
    np.testing.assert_array_equal(kept.values, flood.threshold_levels(
        flood.sieve(eager_levels, size=10, engine="gdal")).values)
    assert len(lazy) == len(eager) > 100
    area_lazy = lazy.area.groupby(lazy["floodLevel"]).sum().sort_index()
    area_eager = eager.area.groupby(eager["floodLevel"]).sum().sort_index()
    assert list(area_lazy.index) == list(area_eager.index)
    np.testing.assert_allclose(area_lazy.values, area_eager.values, rtol=0, atol=1e-6)
