"""The tutorial as a sequence of steps run on the bundled samples.

``eolab tutorial --outdir DIR`` runs every step that exists so far, in
order, and says which steps are not available yet. Each step is a thin
function over the public API that writes its outputs into ``DIR`` (through
:func:`eolab.io.rasters.atomic_outputs`, so a failing step leaves nothing
half-written) and returns the paths it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eolab.aoi import TUTORIAL_AOI_WKT
from eolab.errors import SampleDataError

__all__ = ["Step", "STEPS", "run_tutorial", "flood_products"]

#: Names of the two Sentinel-2 L2A products of exercise 1 (as the real ones).
S2_BEFORE = "S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346"
S2_AFTER = "S2A_MSIL2A_20210325T000241_N0214_R030_T56HKH_20210325T022649"


@dataclass(frozen=True)
class Step:
    """One tutorial step: ``run(samples_dir, outdir) -> written paths`` or ``None`` if not yet built."""

    name: str
    title: str
    run: Callable[[Path, Path], list[Path]] | None
    issue: str = ""


def flood_products(samples: Path) -> tuple[Path, Path]:
    """Paths of the before/after Sentinel-2 products among the samples."""
    before, after = samples / f"{S2_BEFORE}.zip", samples / f"{S2_AFTER}.zip"
    missing = [p.name for p in (before, after) if not p.exists()]
    if missing:
        raise SampleDataError(
            f"sample products missing in {samples}: {', '.join(missing)}; run `eolab samples build`"
        )
    return before, after


def _date_tag(iso: str) -> str:
    return iso[:10].replace("-", "")


def _step_read_s2(samples: Path, outdir: Path) -> list[Path]:
    from eolab.io.rasters import atomic_outputs, write_geotiff
    from eolab.io.sentinel2 import open_l2a

    written: list[Path] = []
    with atomic_outputs(outdir) as out:
        for product in flood_products(samples):
            ds = open_l2a(product, bands=["B3", "B4", "B8", "SCL"], resolution=20,
                          aoi=TUTORIAL_AOI_WKT)
            tag = _date_tag(ds.attrs["datetime"])
            refl = ds[["B03", "B04", "B08"]]
            name = f"S2_L2A_{tag}_B3B4B8_20.tif"
            write_geotiff(refl, out.path(name),
                          tags={"datetime": ds.attrs["datetime"],
                                "product": ds.attrs["product_name"]})
            scl_name = f"S2_SCL_{tag}_20.tif"
            write_geotiff(ds["SCL"], out.path(scl_name), dtype=np.uint8, nodata=0,
                          descriptions=["scene classification (SCL)"])
            written += [outdir / name, outdir / scl_name]
    return written


def _step_map(samples: Path, outdir: Path) -> list[Path]:
    import geopandas as gpd

    from eolab import maps
    from eolab.composites import rgb_composite
    from eolab.io.rasters import atomic_outputs
    from eolab.io.sentinel2 import cloud_mask, open_l2a

    m = maps.new_map(aoi=TUTORIAL_AOI_WKT)
    for product in flood_products(samples):
        ds = open_l2a(product, bands=["B4", "B3", "B2", "SCL"], resolution=60, aoi=TUTORIAL_AOI_WKT)
        rgb = rgb_composite(ds, ("B04", "B03", "B02"), common_stretch=True,
                            stretch_where=~cloud_mask(ds))
        maps.add_raster(m, rgb.where(rgb > 0), name=f"S2 true colour {ds.attrs['datetime'][:10]}",
                        rgb=True, vmin=1, vmax=255, opacity=0.9)
    truth = samples / "flood_truth.gpkg"
    if truth.exists():
        maps.add_vector(m, gpd.read_file(truth), name="flood (simulated truth)", color="#d7301f")
    units = samples / "admin_units.gpkg"
    if units.exists():
        maps.add_vector(m, gpd.read_file(units), name="administrative units (simulated)",
                        color="#444444", style={"fillOpacity": 0.0, "weight": 1.5},
                        tooltip="name")
    maps.add_aoi(m, TUTORIAL_AOI_WKT)
    maps.add_layer_control(m)
    with atomic_outputs(outdir) as out:
        maps.save_map(m, out.path("tutorial_map.html"))
    return [outdir / "tutorial_map.html"]


def _step_s2cd(samples: Path, outdir: Path) -> list[Path]:
    from eolab.workflows import s2_change_detection

    before, after = flood_products(samples)
    paths = s2_change_detection(before, after, bands=["B3", "B4", "B8"], resolution=20,
                                aoi=TUTORIAL_AOI_WKT, outdir=outdir, overwrite=True)
    return list(paths.values())


def _step_s1cd(samples: Path, outdir: Path) -> list[Path]:
    import rioxarray

    from eolab.io.rasters import match_grid
    from eolab.samples.build import S1_PRODUCTS
    from eolab.workflows import s1_change_detection

    products = [samples / f"{name}.zip" for name in S1_PRODUCTS]
    missing = [p.name for p in products if not p.exists()]
    if missing:
        raise SampleDataError(f"{', '.join(missing)} missing in {samples}; run eolab samples build")
    dem = samples / "dem.tif"
    paths = s1_change_detection(products[0], products[1], resolution=20, aoi=TUTORIAL_AOI_WKT,
                                outdir=outdir, dem=dem if dem.exists() else None, flood=True,
                                overwrite=True)
    truth = samples / "flood_truth.tif"
    if truth.exists():
        from eolab import flood

        flooded = rioxarray.open_rasterio(paths["flood"]).isel(band=0, drop=True)
        reference = match_grid(rioxarray.open_rasterio(truth).isel(band=0, drop=True), flooded)
        scores = flood.accuracy(flooded == 1, reference == 1, ignore=flooded == 255)
        print(f"  SAR flood vs. the simulated truth (covered pixels): IoU {scores['iou']:.3f}, "
              f"F1 {scores['f1']:.3f}")
    return list(paths.values())


def _cva_outputs(outdir: Path) -> tuple[Path, Path]:
    cva = sorted(outdir.glob("S2_CVA_*_B3B4B8_20.tif"))
    classes = sorted(outdir.glob("S2_CD_*_B3B4B8_20.tif"))
    if not cva or not classes:
        raise SampleDataError(f"the S2-CD outputs are missing in {outdir}; run the S2-CD step")
    return cva[-1], classes[-1]


def _step_flood_mask(samples: Path, outdir: Path) -> list[Path]:
    import geopandas as gpd
    import pandas as pd

    from eolab import flood
    from eolab.io.boundaries import read_admin_units
    from eolab.io.rasters import atomic_outputs
    from eolab.workflows import flood_mask_from_rasters

    cva, classes = _cva_outputs(outdir)
    paths = flood_mask_from_rasters(cva, outdir=outdir, overwrite=True)
    paths += flood_mask_from_rasters(cva, outdir=outdir, classes_raster=classes, flood_only=True,
                                     overwrite=True)
    extent = gpd.read_file(outdir / "flood_extent.gpkg")
    units = read_admin_units(samples / "admin_units.gpkg")
    per_level = flood.flood_area(extent, by="floodLevel")
    per_unit = flood.flood_area(extent, by=units)
    with atomic_outputs(outdir) as out:
        per_level.to_csv(out.path("flood_area_per_level.csv"), index=False)
        per_unit.to_csv(out.path("flood_area_per_unit.csv"), index=False)
    total = per_level.attrs.get("total_flooded_km2", float(pd.to_numeric(
        per_level.get("flooded_km2", pd.Series(dtype=float))).sum()))
    print(f"  flooded area (flood-specific chain): {total:.2f} km²")
    truth = samples / "flood_truth.tif"
    if truth.exists():
        import rioxarray

        from eolab.io.rasters import match_grid

        classes_da = rioxarray.open_rasterio(classes).isel(band=0, drop=True)
        reference = match_grid(rioxarray.open_rasterio(truth).isel(band=0, drop=True),
                               classes_da)
        scores = flood.accuracy(extent, reference == 1, ignore=classes_da >= 254)
        print(f"  vs. the simulated truth (clear pixels): IoU {scores['iou']:.3f}, "
              f"F1 {scores['f1']:.3f}")
    return paths + [outdir / "flood_area_per_level.csv", outdir / "flood_area_per_unit.csv"]


def _step_linked_data(samples: Path, outdir: Path) -> list[Path]:
    from eolab.io.rasters import atomic_outputs
    from eolab.linked import (
        QUERY_1,
        QUERY_2A,
        QUERY_2B,
        EmbeddedStore,
        generate_mapping,
        iter_admin_rdf,
        write_mapping,
        write_rdf,
    )

    layer = outdir / "flood_mask.shp"
    if not layer.exists():
        raise SampleDataError(f"{layer} is missing; run the flood-mask step first")
    base = "http://ai.di.uoa.gr/flood/"
    mapping = generate_mapping(layer, base_iri=base)
    names = {"mapping": "flood_mask_mapping.ttl", "flood": "flood_mask.nt",
             "admin": "admin_units.nt", "q1": "query1_flood_areas_per_level.csv",
             "q2a": "query2a_admin_units_flooded.csv", "q2b": "query2b_flooded_areas.csv",
             "map": "linked_data_map.html"}
    with atomic_outputs(outdir) as out:
        write_mapping(mapping, out.path(names["mapping"]), overwrite=True)
        report = write_rdf(layer, out.path(names["flood"]), mapping=mapping, base_iri=base,
                           overwrite=True)
        with open(out.path(names["admin"]), "w", encoding="utf-8") as fh:
            for chunk in iter_admin_rdf(samples / "admin_units.gpkg", level="3rdOrder"):
                fh.write(chunk)
        with EmbeddedStore() as store:  # in memory: the files above are the durable outputs
            store.load(out.path(names["flood"]), graph=base + "graph/flood_mask")
            store.load(out.path(names["admin"]), graph="http://www.app-lab.eu/gadm/graph/units")
            for key, query in (("q1", QUERY_1), ("q2a", QUERY_2A), ("q2b", QUERY_2B)):
                out.path(names[key]).write_text(store.select(query).to_csv(), encoding="utf-8")
            from eolab.maps import query_map, save_map, sparql_layer

            layers = [sparql_layer(store, QUERY_2A, name="Query 2a: flooded admin units"),
                      sparql_layer(store, QUERY_2B, name="Query 2b: flooded areas",
                                   color_by="floodLevel")]
            save_map(query_map(layers, title="Flood and administrative units (GeoSPARQL)",
                               offline=True), out.path(names["map"]))
    print(f"  {report.features} flood polygons, {report.triples} triples; queries 1, 2a, 2b "
          "answered by the embedded GeoSPARQL store")
    return [outdir / name for name in names.values()]


def _step_crop(samples: Path, outdir: Path) -> list[Path]:
    from eolab.crop.cli import tutorial_crop_map

    return list(tutorial_crop_map(samples, outdir))


STEPS: list[Step] = [
    Step("s2-read", "Sentinel-2 L2A of both dates, B3/B4/B8 and SCL at 20 m, clipped to the AOI",
         _step_read_s2),
    Step("map", "AOI, true-colour previews, flood truth and admin units on an offline map",
         _step_map),
    Step("S1-CD", "Sentinel-1 sigma0, coherence, ACD and MTC composites and the SAR flood "
         "(VV, 20 m)", _step_s1cd),
    Step("S2-CD", "Sentinel-2 change vector analysis (B3,B4,B8, 20 m) and change classes",
         _step_s2cd),
    Step("flood-mask", "flood polygons with floodLevel (Shapefile, GeoPackage), flooded km²",
         _step_flood_mask),
    Step("linked-data", "GeoTriples-style mapping and RDF, admin units, the tutorial's "
         "GeoSPARQL queries 1, 2a, 2b and their map", _step_linked_data),
    Step("crop-mapping", "exercise 2: monthly composites of the simulated 33UVP cube, the "
         "shipped LSTM, parcel majority vote -> crop_map.tif", _step_crop),
]


def run_tutorial(
    outdir: str | Path,
    *,
    samples: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Run every available tutorial step on the samples, writing into ``outdir``.

    Parameters
    ----------
    outdir
        Output folder (created if needed).
    samples
        Sample folder (default :func:`eolab.samples.paths.data_dir`); built
        with :func:`eolab.samples.ensure_samples` when missing.
    echo
        Where progress lines go (default ``print``).

    Returns
    -------
    list of Path
        Every file written.
    """
    from eolab.samples import ensure_samples

    outdir = Path(outdir)
    samples_dir = ensure_samples(samples)
    echo(f"samples: {samples_dir}")
    written: list[Path] = []
    for step in STEPS:
        if step.run is None:
            echo(f"[not available yet] {step.name}: {step.title} ({step.issue})")
            continue
        echo(f"[run] {step.name}: {step.title}")
        paths = step.run(samples_dir, outdir)
        for path in paths:
            echo(f"  wrote {path}")
        written += paths
    echo(f"{len(written)} files written to {outdir}")
    return written
