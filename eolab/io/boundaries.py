"""Administrative units from any boundary file, in one shape.

Exercise 1 intersects the flood with administrative units. The samples ship
simulated stand-ins (``admin_units.gpkg``); real files work the same way:
GADM (``NAME_<n>``/``GID_<n>`` columns), the Australian Bureau of
Statistics' ASGS files (``LGA_NAME23``, ``STE_NAME21``, ... in GeoJSON,
TopoJSON, Shapefile or GeoPackage), or any layer with a name column.

Every reader returns a GeoDataFrame in EPSG:4326 with the columns ``name``,
``code``, ``national_level`` (the GADM ontology's wording: ``"1stOrder"``
for countries, ``"2ndOrder"`` for states, ``"3rdOrder"`` for local
government areas / GADM level 2, ...), ``source`` and ``geometry``, with
valid geometries.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from eolab.aoi import AOILike, parse_aoi
from eolab.errors import CRSError, EolabError, ProductError

__all__ = ["read_admin_units", "national_level_name"]

_ABS_LEVELS = {"LGA": 2, "STE": 1}  # finest first; GADM-equivalent levels


def national_level_name(level: int) -> str:
    """GADM ontology name of an administrative level: 0 → ``"1stOrder"``, 2 → ``"3rdOrder"``."""
    n = level + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}Order"


def _detect(columns: list[str]) -> tuple[str, str | None, str | None, str]:
    """Return (name column, code column, national level or None, source kind)."""
    cols = set(columns)
    if "name" in cols:
        level_col = "national_level" if "national_level" in cols else None
        return "name", ("code" if "code" in cols else None), level_col, "eolab"
    gadm = sorted((int(m.group(1)) for c in columns if (m := re.fullmatch(r"NAME_(\d)", c))),
                  reverse=True)
    if gadm:
        level = gadm[0]
        code = f"GID_{level}" if f"GID_{level}" in cols else None
        return f"NAME_{level}", code, national_level_name(level), "GADM"
    for struct, level in _ABS_LEVELS.items():
        names = [c for c in columns if re.fullmatch(rf"{struct}_NAME\d\d", c)]
        if names:
            code = names[0].replace("_NAME", "_CODE")
            return names[0], (code if code in cols else None), national_level_name(level), "ABS"
    names = [c for c in columns if re.fullmatch(r"[A-Z0-9]+_NAME\d\d", c)]
    if names:
        code = names[0].replace("_NAME", "_CODE")
        return names[0], (code if code in cols else None), None, "ABS"
    raise EolabError(
        f"cannot tell which column holds the unit names (columns: {columns}); "
        "pass name_column=..."
    )


def read_admin_units(
    source: str | Path | gpd.GeoDataFrame,
    *,
    aoi: AOILike | None = None,
    name_column: str | None = None,
    code_column: str | None = None,
    national_level: str | None = None,
    layer: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read administrative units from a boundary file (or GeoDataFrame).

    Parameters
    ----------
    source
        Path of a vector file (GeoPackage, GeoJSON, TopoJSON, Shapefile...)
        or a GeoDataFrame.
    aoi
        Keep only the units that intersect this AOI (EPSG:4326 WKT/GeoJSON or
        a GeoSeries with a CRS); geometries are not cut.
    name_column, code_column
        Columns holding the unit name and code (detected for eolab, GADM and
        ABS files).
    national_level
        ``national_level`` to write (e.g. ``"3rdOrder"``); detected from the
        file's structure when possible.
    layer
        Layer of a multi-layer file (GADM GeoPackages hold ``ADM_ADM_0``...).
    crs
        CRS to assume when the file declares none (TopoJSON files do not).
        Without it, lon/lat-looking coordinates are taken as EPSG:4326 with a
        warning, and anything else is refused.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``code``, ``national_level``, ``source``,
        ``geometry``; EPSG:4326; valid, non-empty geometries.
    """
    if isinstance(source, gpd.GeoDataFrame):
        gdf, label = source.copy(), "GeoDataFrame"
    else:
        path = Path(source)
        if not path.exists():
            raise ProductError(f"boundary file not found: {path}")
        try:
            gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        except Exception as exc:  # pyogrio raises its own types
            raise ProductError(f"cannot read the boundary file {path.name}: {exc}") from exc
        label = path.name
    if len(gdf) == 0:
        raise EolabError(f"the boundary layer {label} has no features")
    if gdf.crs is None:
        if crs is not None:
            gdf = gdf.set_crs(crs)
        else:
            minx, miny, maxx, maxy = gdf.total_bounds
            if -180 <= minx and maxx <= 360 and -90 <= miny and maxy <= 90:
                warnings.warn(f"{label} declares no CRS; its coordinates look like longitude/"
                              "latitude and are taken as EPSG:4326 (pass crs=... to choose)",
                              UserWarning, stacklevel=2)
                gdf = gdf.set_crs(4326)
            else:
                raise CRSError(f"{label} declares no CRS and its coordinates are not "
                               "longitude/latitude; pass crs=... (e.g. crs='EPSG:7856')")
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    detected_name, detected_code, detected_level, kind = _detect(columns) if name_column is None \
        else (name_column, code_column, None, "custom")
    name_col = name_column or detected_name
    code_col = code_column or detected_code
    if name_col not in gdf.columns:
        raise EolabError(f"column {name_col!r} is not in {label} (columns: {columns})")
    if kind == "eolab" and detected_level:
        levels = gdf[detected_level].astype(str)
    else:
        levels = pd.Series([national_level or detected_level or "unknown"] * len(gdf),
                           index=gdf.index)
    if national_level:
        levels = pd.Series([national_level] * len(gdf), index=gdf.index)
    out = gpd.GeoDataFrame(
        {
            "name": gdf[name_col].astype(str).str.strip(),
            "code": gdf[code_col].astype(str) if code_col and code_col in gdf else
            pd.Series([str(i + 1) for i in range(len(gdf))], index=gdf.index),
            "national_level": levels.values,
            "source": kind,
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    )
    invalid = ~out.geometry.is_valid
    if invalid.any():
        out.loc[invalid, "geometry"] = shapely.make_valid(out.geometry[invalid].values)
    out = out[~out.geometry.is_empty & out.geometry.notna()]
    out = out.to_crs(4326)
    if aoi is not None:
        geom, aoi_crs = parse_aoi(aoi)
        aoi_4326 = gpd.GeoSeries([geom], crs=aoi_crs).to_crs(4326).iloc[0]
        out = out[out.intersects(aoi_4326)]
    return out.reset_index(drop=True)
