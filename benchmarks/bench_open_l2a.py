"""Time and memory of reading both sample dates with ``open_l2a`` (AOI-clipped)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import measure  # noqa: E402


def _read(bands: list[str], resolution: int) -> dict[str, float]:
    import warnings

    from eolab.aoi import TUTORIAL_AOI_WKT
    from eolab.io.sentinel2 import open_l2a
    from eolab.samples import ensure_samples
    from eolab.tutorial import flood_products

    pixels = 0
    for product in flood_products(ensure_samples()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = open_l2a(product, bands=bands, resolution=resolution, aoi=TUTORIAL_AOI_WKT)
        means = ds.mean().compute()
        pixels += ds.sizes["y"] * ds.sizes["x"]
        assert all(float(means[v]) == float(means[v]) for v in means.data_vars)
    return {"pixels": pixels}


def read_20m() -> dict[str, float]:
    return _read(["B3", "B4", "B8", "SCL"], 20)


def read_10m() -> dict[str, float]:
    return _read(["B2", "B3", "B4", "B8"], 10)


if __name__ == "__main__":
    measure("open_l2a_20m_B3B4B8SCL_2dates", read_20m)
    measure("open_l2a_10m_B2B3B4B8_2dates", read_10m)
