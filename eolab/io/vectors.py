"""Vector outputs: polygons as ESRI Shapefile and GeoPackage, written atomically.

The flood polygons go out as the tutorial wrote them (ESRI Shapefile, whose
field names hold at most 10 characters: ``floodLevel`` just fits) and as a
GeoPackage, in the raster's CRS (Shapefiles of polygons with integer fields
by a vectorised writer that gives the bytes of GDAL's driver, several times
faster for many polygons; everything else through GDAL with pyogrio);
:func:`to_epsg4326` gives the copy in longitude/latitude that the
linked-data step maps to RDF. Like the raster
writers, :func:`write_vectors` goes through
:func:`eolab.io.rasters.atomic_outputs`: an error leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from eolab._polygonize import repair_polygons
from eolab.errors import CRSError, OutputError
from eolab.io._shapefile import write_polygons
from eolab.io.rasters import atomic_outputs

__all__ = ["write_vectors", "to_epsg4326", "vector_outputs"]

_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
_FORMATS = {"shp": "ESRI Shapefile", "gpkg": "GPKG"}


def to_epsg4326(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygons in EPSG:4326 (longitude, latitude) for the linked-data step.

    Geometries are repaired in their own CRS before reprojecting and again
    after it (rounding can fold a sliver), and empty ones are dropped.
    """
    if gdf.crs is None:
        raise CRSError("the polygons have no CRS; set it with gdf.set_crs(...) first")
    out = gdf.set_geometry(repair_polygons(gdf.geometry.values)).to_crs(4326)
    out = out.set_geometry(repair_polygons(out.geometry.values))
    return out[~out.geometry.is_empty & out.geometry.notna()].reset_index(drop=True)


def vector_outputs(outdir: str | os.PathLike[str], stem: str, fmt: str) -> list[Path]:
    """Every file a format may write for ``stem`` in ``outdir`` (Shapefile sidecars included)."""
    outdir = Path(outdir)
    return [outdir / f"{stem}{ext}" for ext in (_SHP_SIDECARS if fmt == "shp" else (".gpkg",))]


def write_vectors(gdf: gpd.GeoDataFrame, outdir: str | os.PathLike[str], stem: str, *,
                  formats: Sequence[str] = ("shp", "gpkg"),
                  overwrite: bool = False) -> dict[str, Path]:
    """Write polygons as ESRI Shapefile and/or GeoPackage, all-or-nothing.

    Parameters
    ----------
    gdf
        Polygons with a CRS (e.g. from :func:`eolab.flood.flood_mask`).
    outdir, stem
        Files ``outdir/stem.shp`` (with ``.shx``, ``.dbf``, ``.prj``,
        ``.cpg``) and ``outdir/stem.gpkg`` (layer ``stem``).
    formats
        Any of ``"shp"`` and ``"gpkg"``.
    overwrite
        Replace existing outputs; otherwise an existing one is refused.

    Returns
    -------
    dict
        Format → path of the written file.

    Raises
    ------
    OutputError
        An output exists (without ``overwrite``), a column name is longer
        than the 10 characters a Shapefile field can hold, or writing failed;
        nothing is left half-written.
    CRSError
        The polygons have no CRS.
    """
    fmts = [str(f).lower().lstrip(".") for f in formats]
    unknown = sorted(set(fmts) - set(_FORMATS))
    if unknown or not fmts:
        raise OutputError(f"unknown vector format(s) {unknown or fmts}; choose from 'shp', 'gpkg'")
    if not stem or Path(stem).name != stem:
        raise OutputError(f"stem must be a plain file name without folders, got {stem!r}")
    if gdf.crs is None:
        raise CRSError("the polygons have no CRS; set it with gdf.set_crs(...) first")
    long_names = [c for c in gdf.columns if c != gdf.geometry.name and len(str(c)) > 10]
    if "shp" in fmts and long_names:
        raise OutputError(f"Shapefile field names hold at most 10 characters: rename {long_names}"
                          " (e.g. gdf.rename(columns=...)) or write only 'gpkg'")
    final = Path(outdir)
    existing = [p for f in fmts for p in vector_outputs(final, stem, f) if p.exists()]
    if existing and not overwrite:
        raise OutputError(f"{', '.join(p.name for p in existing)} already exist(s) in {final}; "
                          "pass overwrite=True (--overwrite) to replace, or choose another folder")
    written: dict[str, Path] = {}
    try:
        with atomic_outputs(final) as out:
            for fmt in fmts:
                main = out.path(f"{stem}.{fmt}")
                kwargs: dict[str, Any] = {"layer": stem} if fmt == "gpkg" else {}
                if len(gdf) == 0:
                    kwargs["geometry_type"] = "Polygon"
                if not (fmt == "shp" and write_polygons(gdf, main)):
                    gdf.to_file(main, driver=_FORMATS[fmt], engine="pyogrio", **kwargs)
                for path in vector_outputs(out.dir, stem, fmt):
                    if path.exists():
                        out.path(path.name)
                written[fmt] = final / main.name
            stale = [p for p in existing if not (out.dir / p.name).exists()]
    except OutputError:
        raise
    except Exception as exc:  # pyogrio / GDAL raise their own types
        raise OutputError(f"cannot write {stem} to {final}: {exc}") from exc
    for path in stale:          # sidecars of a replaced Shapefile the new one lacks
        path.unlink(missing_ok=True)
    return written
