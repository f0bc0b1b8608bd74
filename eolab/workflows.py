"""The tutorial's services as functions: files in, files out.

``eolab S2-CD`` and ``eolab flood-mask`` (and ``eolab tutorial``) call these;
each reads its inputs with the public readers, runs the public algorithms and
writes its outputs atomically (all or nothing), refusing to replace existing
files unless ``overwrite=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eolab.aoi import AOILike
from eolab.errors import OutputError

__all__ = ["band_tag", "s2_change_detection", "flood_mask_from_rasters", "s1_change_detection"]


def band_tag(bands: Sequence[str]) -> str:
    """File-name tag of a band list as the tutorial writes it: ``B3,B4,B8`` → ``B3B4B8``."""
    from eolab.io.sentinel2 import canonical_band

    tags = []
    for band in bands:
        name = canonical_band(band)
        tags.append(name if name.endswith("A") else f"B{int(name[1:])}")
    return "".join(tags)


def _check_free(outdir: Path, names: Sequence[str], overwrite: bool) -> None:
    existing = [n for n in names if (outdir / n).exists()]
    if existing and not overwrite:
        raise OutputError(f"{', '.join(existing)} already exist(s) in {outdir}; "
                          "use --overwrite (overwrite=True) to replace")


def _noop(_: str) -> None:
    return None


def s2_change_detection(
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    *,
    bands: Sequence[str] = ("B3", "B4", "B8"),
    resolution: int = 20,
    aoi: AOILike | None = None,
    outdir: str | os.PathLike[str] = ".",
    threshold: float | None = None,
    method: str = "ki",
    overwrite: bool = False,
    step: Callable[[str], Any] = _noop,
) -> dict[str, Path]:
    """The tutorial's S2-CD service: CVA raster and change classes from two L2A products.

    The no-change/change threshold is Kittler–Illingworth by default (Otsu
    cuts into the no-change peak when change covers a few percent of a
    scene); ``threshold`` fixes it in reflectance percent instead.

    Writes ``S2_CVA_<t1>_<t2>_<bands>_<r>.tif`` (float32; band 1 magnitude in
    reflectance percent, band 2 direction in degrees) and
    ``S2_CD_<t1>_<t2>_<bands>_<r>.tif`` (uint8 change classes, table in the
    raster's metadata) into ``outdir``.

    Returns
    -------
    dict
        ``{"cva": path, "classes": path}``.
    """
    from eolab.change import CHANGE_COLORS, classify, cva
    from eolab.io.rasters import atomic_outputs, write_geotiff
    from eolab.io.sentinel2 import open_l2a

    outdir = Path(outdir)
    step("read")
    wanted = [*bands, "SCL"]
    ds1 = open_l2a(before, bands=wanted, resolution=resolution, aoi=aoi)
    ds2 = open_l2a(after, bands=wanted, resolution=resolution, aoi=aoi)
    t1, t2 = (d.attrs["datetime"][:10].replace("-", "") for d in (ds1, ds2))
    tag = f"{t1}_{t2}_{band_tag(bands)}_{resolution}"
    names = {"cva": f"S2_CVA_{tag}.tif", "classes": f"S2_CD_{tag}.tif"}
    _check_free(outdir, list(names.values()), overwrite)
    step("cva")
    result = cva(ds1, ds2).compute()
    step("classes")
    classes = classify(result, threshold=threshold, method=method)
    step("write")
    meta = {"datetime_before": ds1.attrs["datetime"], "datetime_after": ds2.attrs["datetime"],
            "product_before": ds1.attrs["product_name"],
            "product_after": ds2.attrs["product_name"], "bands": ",".join(bands)}
    with atomic_outputs(outdir) as out:
        write_geotiff(result[["magnitude", "direction"]], out.path(names["cva"]),
                      descriptions=["CVA magnitude", "CVA direction"],
                      units=["percent reflectance", "degree"], tags=meta)
        class_tags = {k: str(classes.attrs[k]) for k in
                      ("flag_values", "flag_meanings", "classes", "threshold", "threshold_method")
                      if k in classes.attrs}
        write_geotiff(classes, out.path(names["classes"]), dtype=np.uint8, nodata=255,
                      descriptions=["S2-CD change class"], colormap=CHANGE_COLORS,
                      tags={**meta, **class_tags})
    return {key: outdir / name for key, name in names.items()}


def flood_mask_from_rasters(
    cva_raster: str | os.PathLike[str],
    *,
    outdir: str | os.PathLike[str] = ".",
    classes_raster: str | os.PathLike[str] | None = None,
    flood_only: bool = False,
    sieve_size: int = 10,
    min_level: int = 4,
    overwrite: bool = False,
    step: Callable[[str], Any] = _noop,
) -> list[Path]:
    """The tutorial's flood-mask chain on a CVA raster (band 1, magnitude).

    Without ``flood_only``: levels, sieve, ``floodLevel >= min_level``,
    polygonize → ``flood_mask.shp`` and ``flood_mask.gpkg``. With
    ``flood_only`` (needs ``classes_raster``): only the flooding class, clouds
    dropped → ``flood_extent.gpkg``. A copy in EPSG:4326 for the linked-data
    step goes beside it (``<stem>_4326.gpkg``).
    """
    import rioxarray

    from eolab import flood
    from eolab.errors import EolabError

    outdir = Path(outdir)
    if flood_only and classes_raster is None:
        raise EolabError("--flood-only needs the S2-CD class raster (--classes S2_CD_....tif)")
    stem = "flood_extent" if flood_only else "flood_mask"
    formats = ("gpkg",) if flood_only else ("shp", "gpkg")
    _check_free(outdir, [f"{stem}.{f}" for f in formats] + [f"{stem}_4326.gpkg"], overwrite)
    step("read")
    magnitude = rioxarray.open_rasterio(cva_raster, masked=True).isel(band=0, drop=True)
    magnitude = magnitude.rename("magnitude")
    step("vectorise")
    if flood_only:
        classes = rioxarray.open_rasterio(classes_raster).isel(band=0, drop=True)
        gdf = flood.flood_extent(magnitude, classes, sieve_size=sieve_size, min_level=min_level)
    else:
        gdf = flood.flood_mask(magnitude, sieve_size=sieve_size, min_level=min_level)
    step("write")
    written = flood.write_vectors(gdf, outdir, stem, formats=formats, overwrite=overwrite)
    written.update({"gpkg_4326": p for p in flood.write_vectors(
        flood.to_epsg4326(gdf), outdir, f"{stem}_4326", formats=("gpkg",),
        overwrite=overwrite).values()})
    paths: list[Path] = []
    for path in written.values():
        if path.suffix == ".shp":  # the sidecar files are outputs too
            paths += [p for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")
                      if (p := path.with_suffix(ext)).exists()]
        else:
            paths.append(path)
    return paths


def _s1_date(path: Any) -> str:
    from eolab.io.sentinel1 import read_s1_metadata

    start = read_s1_metadata(path).start_time
    return str(np.datetime64(str(start).replace("Z", ""), "D")).replace("-", "")


def s1_change_detection(
    reference: str | os.PathLike[str],
    secondary: str | os.PathLike[str],
    *,
    resolution: float = 20,
    aoi: AOILike,
    pol: str = "VV",
    outdir: str | os.PathLike[str] = ".",
    dem: str | os.PathLike[str] | None = None,
    db: bool = False,
    window: tuple[int, int] = (3, 10),
    flood: bool = False,
    coherence: bool = True,
    overwrite: bool = False,
    step: Callable[[str], Any] = _noop,
    progress: bool = False,
) -> dict[str, Path]:
    """The tutorial's S1-CD service: sigma0, coherence, ACD and MTC from two IW SLC products.

    Runs :func:`eolab.s1.chain.pair_to_map` and writes into ``outdir``
    (dates YYYYMMDD, ``r`` the resolution in metres):

    * ``S1_SIGMA0_<t>_<POL>_<r>.tif`` for each date: float32 sigma0, linear
      power (``db=True``: dB), NaN no data;
    * ``S1_COH_<t1>_<t2>_<POL>_<r>.tif``: float32 coherence 0–1, NaN no data;
    * ``S1_ACD_<t1>_<t2>_<POL>_<r>.tif``: RGB bytes, R date-1 and G, B date-2
      backscatter in dB stretched between the 2.5th and 97.5th percentiles
      of both dates (1–255, 0 no data): a flood shows red, new buildings cyan;
    * ``S1_MTC_<t1>_<t2>_<POL>_<r>.tif``: RGB bytes, R date 1, G date 2
      (same stretch), B coherence 0–1 → 1–255;
    * with ``flood=True``, ``S1_FLOOD_<t1>_<t2>_<POL>_<r>.tif``: uint8 flood
      from the backscatter decrease (:func:`eolab.s1.flood.sar_flood`,
      Kittler–Illingworth): 1 flooded, 0 not, 2 permanent water, 255 no data.

    ``coherence=False`` skips coregistration, coherence and the MTC: sigma0
    and the ACD only (:func:`eolab.s1.chain.sigma0_pair_to_map`), which also
    works on GRD products.

    ``dem`` is a terrain-height raster (m above the WGS84 ellipsoid, any CRS)
    for coregistration and geocoding; without it the ground is flat at the
    mean height of the product's geolocation grid, which misplaces land far
    from that height by (Δh / tan θ) in ground range.

    Returns
    -------
    dict
        ``{"sigma0_1", "sigma0_2", "coherence", "acd", "mtc"}`` (and ``"flood"``) → paths.

    Raises
    ------
    OutputError
        Outputs exist and ``overwrite`` is False (checked before any work).
    ProductTypeError, ProductError, AOIError, CorruptProductError, RasterError
        As :func:`eolab.s1.chain.pair_to_map`; nothing is written then.
    """
    from eolab.composites import acd_composite, mtc_composite, to_db
    from eolab.io.rasters import atomic_outputs, write_geotiff
    from eolab.s1.chain import pair_to_map

    outdir = Path(outdir)
    pol = str(pol).upper()
    r = f"{float(resolution):g}"
    t1, t2 = _s1_date(reference), _s1_date(secondary)
    names = {"sigma0_1": f"S1_SIGMA0_{t1}_{pol}_{r}.tif",
             "sigma0_2": f"S1_SIGMA0_{t2}_{pol}_{r}.tif",
             "coherence": f"S1_COH_{t1}_{t2}_{pol}_{r}.tif",
             "acd": f"S1_ACD_{t1}_{t2}_{pol}_{r}.tif",
             "mtc": f"S1_MTC_{t1}_{t2}_{pol}_{r}.tif"}
    if not coherence:
        del names["coherence"], names["mtc"]
    if flood:
        names["flood"] = f"S1_FLOOD_{t1}_{t2}_{pol}_{r}.tif"
    if names["sigma0_1"] == names["sigma0_2"]:
        from eolab.errors import ProductError

        raise ProductError(f"both products were acquired on {t1}; give two dates")
    _check_free(outdir, list(names.values()), overwrite)
    height = None
    if dem is not None:
        import rioxarray

        height = rioxarray.open_rasterio(dem, masked=True).squeeze(drop=True)
    if coherence:
        ds = pair_to_map(reference, secondary, aoi=aoi, resolution=resolution, pol=pol,
                         height=height, window=window, step=step, progress=progress)
    else:
        from eolab.s1.chain import sigma0_pair_to_map

        step("open")
        ds = sigma0_pair_to_map(reference, secondary, aoi=aoi, resolution=resolution, pol=pol,
                                height=height)
        step("bursts")
        step("map")
    step("composites")
    acd = acd_composite(ds["sigma0_1"], ds["sigma0_2"])
    mtc = mtc_composite(ds["sigma0_1"], ds["sigma0_2"], ds["coherence"]) if coherence else None
    flooded = None
    if flood:
        from eolab.s1.flood import sar_flood

        flooded = sar_flood(ds["sigma0_1"], ds["sigma0_2"])
    step("write")
    meta = {"datetime_1": ds.attrs["datetime_1"], "datetime_2": ds.attrs["datetime_2"],
            "product_1": ds.attrs["product_1"], "product_2": ds.attrs["product_2"],
            "polarisation": pol, "speckle_filter": ds.attrs["speckle_filter"]}
    if coherence:
        meta.update(coherence_window="x".join(map(str, ds.attrs["coherence_window"])),
                    flat_earth_removed=str(ds.attrs["flat_earth_removed"]),
                    height=ds.attrs["height"], bursts=",".join(ds.attrs["bursts"]))
    with atomic_outputs(outdir) as out:
        for i in ("1", "2"):
            sig = ds[f"sigma0_{i}"]
            sig = to_db(sig) if db else sig
            write_geotiff(sig, out.path(names[f"sigma0_{i}"]), dtype=np.float32,
                          nodata=float("nan"), descriptions=[f"sigma0 {pol}"],
                          units="dB" if db else "1",
                          tags={**meta, "datetime": ds.attrs[f"datetime_{i}"]})
        if coherence:
            write_geotiff(ds["coherence"], out.path(names["coherence"]), dtype=np.float32,
                          nodata=float("nan"), descriptions=[f"coherence {pol}"], units="1",
                          tags=meta)
        for key, rgb, what in (("acd", acd, "ACD"), ("mtc", mtc, "MTC")):
            if rgb is None:
                continue
            bands = (["date-1 backscatter", "date-2 backscatter", "date-2 backscatter"]
                     if key == "acd" else
                     ["date-1 backscatter", "date-2 backscatter", "coherence"])
            extra = {k: str(v) for k, v in rgb.attrs.items() if k not in ("_FillValue",)}
            write_geotiff(rgb, out.path(names[key]), dtype=np.uint8, nodata=0,
                          descriptions=bands, units="1",
                          tags={**meta, **extra, "composite": what})
        if flooded is not None:
            tags = {k: str(flooded.attrs[k]) for k in ("flag_values", "flag_meanings",
                                                       "threshold_db", "water_db",
                                                       "threshold_method", "water_method")}
            write_geotiff(flooded, out.path(names["flood"]), dtype=np.uint8, nodata=255,
                          descriptions=["flood from SAR backscatter decrease"], units="1",
                          tags={**meta, **tags})
    return {key: outdir / name for key, name in names.items()}
