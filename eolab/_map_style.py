"""Colours and legends of map layers: colormaps, category colours, a legend control.

Used by the layer functions of :mod:`eolab.maps` (vector colouring and its
legend) and by :mod:`eolab._raster_preview` (colormap lookup).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
from branca.element import MacroElement
from folium.template import Template

from eolab.errors import LayerError

_NODATA_COLOR = "#9e9e9e"


# --------------------------------------------------------------------------- legend


class _Legend(MacroElement):
    """A Leaflet control listing colour swatches with labels."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "eolab-legend");
                div.style.cssText = "background:rgba(255,255,255,0.9);padding:6px 8px;" +
                    "border-radius:4px;font:12px/1.5 sans-serif;" +
                    "box-shadow:0 1px 4px rgba(0,0,0,0.3);";
                div.innerHTML = {{ this.body|tojson }};
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, title: str, entries: Sequence[tuple[str, str]],
                 position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        self.position = position
        rows = [f"<b>{_escape(title)}</b>"]
        for color, label in entries:
            rows.append(f'<div><span style="display:inline-block;width:12px;height:12px;'
                        f'margin-right:6px;vertical-align:middle;background:{_escape(color)};'
                        f'border:1px solid #555"></span>{_escape(label)}</div>')
        self.body = "".join(rows)


def _escape(text: Any) -> str:
    # folium re-parses rendered macros as Jinja templates: neutralise braces too.
    return html.escape(str(text)).replace("{", "&#123;").replace("}", "&#125;")

# --------------------------------------------------------------------------- colours


def _colormap(cmap: Any) -> Any:
    import matplotlib

    if isinstance(cmap, str):
        try:
            return matplotlib.colormaps[cmap]
        except KeyError as exc:
            raise LayerError(f"unknown matplotlib colormap {cmap!r}") from exc
    return cmap


def _category_colors(
    values: Any, cmap: Any, max_categories: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """Hex colour of every value and legend entries (empty if not simple)."""
    import pandas as pd
    from matplotlib.colors import ListedColormap, Normalize, to_hex

    series = pd.Series(values).reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    present = series.dropna().unique()
    if numeric and len(present) > max_categories:
        cm = _colormap(cmap or "viridis")
        vmin, vmax = float(np.min(present)), float(np.max(present))
        norm = Normalize(vmin, vmax)
        colors = [to_hex(cm(norm(v))) if pd.notna(v) else _NODATA_COLOR for v in series]
        ticks = np.linspace(vmin, vmax, 5)
        return colors, [(to_hex(cm(norm(t))), f"{t:.4g}") for t in ticks]
    try:
        cats = sorted(present)
    except TypeError:
        cats = sorted(present, key=str)
    cm = _colormap(cmap or ("viridis" if numeric else "tab10"))
    n = len(cats)
    if isinstance(cm, ListedColormap) and cm.N >= n:
        palette = [to_hex(cm(i)) for i in range(n)]
    else:
        palette = [to_hex(cm(x)) for x in (np.linspace(0, 1, n) if n > 1 else [0.5])]
    lookup = dict(zip(cats, palette))
    colors = [lookup[v] if pd.notna(v) else _NODATA_COLOR for v in series]
    legend = [(lookup[c], _label(c)) for c in cats] if n <= max_categories else []
    if legend and series.isna().any():
        legend.append((_NODATA_COLOR, "no data"))
    return colors, legend


def _label(value: Any) -> str:
    """Legend text of a category: 4.0 (an integer column with gaps) shows as 4."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
