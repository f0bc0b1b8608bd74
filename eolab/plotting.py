"""Static matplotlib views used by the notebooks (maps are in :mod:`eolab.maps`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap

__all__ = ["SCL_COLOURS", "plot_rgb", "plot_scl"]

#: Conventional colours of the SCL classes (as in the Sentinel-2 documentation).
SCL_COLOURS: dict[int, str] = {
    0: "#000000", 1: "#ff0000", 2: "#2f2f2f", 3: "#643200", 4: "#00a000", 5: "#ffe65a",
    6: "#0000ff", 7: "#808080", 8: "#c0c0c0", 9: "#ffffff", 10: "#64c8ff", 11: "#ff96ff",
}


def _extent(da: xr.DataArray) -> list[float]:
    dx = float(da.x[1] - da.x[0]) if da.sizes["x"] > 1 else 1.0
    dy = float(da.y[1] - da.y[0]) if da.sizes["y"] > 1 else -1.0
    return [float(da.x[0]) - dx / 2, float(da.x[-1]) + dx / 2,
            float(da.y[-1]) + dy / 2, float(da.y[0]) - dy / 2]


def plot_rgb(rgb: xr.DataArray, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Show a ``(band, y, x)`` byte composite (from :func:`eolab.composites.rgb_composite`)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    img = np.moveaxis(np.asarray(rgb.values), 0, -1)
    ax.imshow(img, extent=_extent(rgb), interpolation="nearest")
    ax.set_title(title or rgb.attrs.get("long_name", ""))
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    return ax


def plot_scl(scl: xr.DataArray, *, ax: Axes | None = None, title: str = "SCL",
             legend: bool = True) -> Axes:
    """Show the scene classification with its conventional colours and a legend."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from eolab.io.sentinel2 import SCL_CLASSES

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    cmap = ListedColormap([SCL_COLOURS[k] for k in range(12)])
    norm = BoundaryNorm(np.arange(-0.5, 12.5), cmap.N)
    values = np.asarray(scl.values)
    ax.imshow(np.where(np.isnan(values), 0, values), cmap=cmap, norm=norm, extent=_extent(scl),
              interpolation="nearest")
    ax.set_title(title)
    if legend:
        present = sorted(int(v) for v in np.unique(values[np.isfinite(values)]))
        handles: list[Any] = [Patch(facecolor=SCL_COLOURS[k], edgecolor="k",
                                    label=f"{k} {SCL_CLASSES[k]}") for k in present]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return ax
