"""Build, check and register the simulated samples of exercise 1.

``eolab samples build`` calls :func:`build_samples`, ``eolab samples verify``
calls :func:`verify_samples`. The build writes, all-or-nothing, the two
Sentinel-2 L2A products of the tutorial (plus a processing-baseline 04.00
copy of the second), the truth rasters and polygons, and simulated
administrative units, then records what it made in ``.build-info.json``.

``registry.json`` (committed next to the samples) holds, for the default seed,
SHA-256 checksums of every output's *decoded* content: the pixel arrays of
each raster and of every JPEG 2000 band inside the zips, and the normalised
geometries and attributes of each vector layer. Checksums of decoded content
do not depend on the JPEG 2000 encoder or GeoPackage writer versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eolab.errors import OutputError, SampleDataError
from eolab.samples._flood_fields import _release_memory
from eolab.samples.flood import (
    BANDS,
    CLOUD_CLASSES,
    DATES,
    DEFAULT_SEED,
    EPSG,
    FULL_WINDOW,
    GENERATION_TIMES,
    GENERATOR_VERSION,
    LANDCOVER_CLASSES,
    SENSING_TIMES,
    _Renderer,
)
from eolab.samples.paths import data_dir

__all__ = [
    "PRODUCTS",
    "TRUTH_FILES",
    "build_samples",
    "checksums",
    "ensure_samples",
    "sample_files",
    "simulated_admin_units",
    "update_registry",
    "verify_samples",
]

#: Product name -> (date, processing baseline). The first two are the tutorial's names.
PRODUCTS: dict[str, tuple[str, str]] = {
    "S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346": ("20210315", "02.14"),
    "S2A_MSIL2A_20210325T000241_N0214_R030_T56HKH_20210325T022649": ("20210325", "02.14"),
    "S2A_MSIL2A_20210325T000241_N0400_R030_T56HKH_20210325T022649": ("20210325", "04.00"),
}
#: The simulated Sentinel-1 IW SLC pair (:func:`eolab.samples.s1safe.write_slc_pair`).
S1_PRODUCTS = (
    "S1A_IW_SLC__1SDV_20210312T191602_20210312T191608_036969_0459F2_51CF",
    "S1A_IW_SLC__1SDV_20210324T191602_20210324T191608_037144_045D5D_BB22",
)
S1_TRUTH = "s1_truth.npz"
TRUTH_FILES = (
    "flood_truth.tif", "flood_truth.gpkg", "permanent_water_truth.tif",
    "permanent_water_truth.gpkg", "landcover_truth.tif", "cloud_truth_20210315.tif",
    "cloud_truth_20210325.tif", "admin_units.gpkg", "dem.tif",
)
BUILD_INFO = ".build-info.json"
REGISTRY = "registry.json"
_TUTORIAL_PRODUCTS = tuple(list(PRODUCTS)[:2])
_LANDCOVER_COLORS = {1: (33, 102, 172, 255), 2: (178, 24, 43, 255), 3: (27, 120, 55, 255),
                     4: (240, 200, 60, 255), 5: (166, 217, 106, 255), 6: (166, 120, 80, 255),
                     255: (0, 0, 0, 0)}
_ADMIN_NAMES = (  # 3 x 3 cells from the north-west; stand-ins named after real LGAs nearby
    "Sim LGA Hawkesbury-West", "Sim LGA Hawkesbury-North", "Sim LGA Hornsby-West",
    "Sim LGA Blue Mountains-East", "Sim LGA Hawkesbury-Central", "Sim LGA The Hills-North",
    "Sim LGA Penrith-West", "Sim LGA Penrith-North", "Sim LGA Blacktown-North",
)


def _crop_files() -> list[str]:
    from eolab.samples.crop import CROP_CUBE, CROP_PARCELS, TIMESEN2CROP_DIR, TRAINING_TILES

    return [CROP_CUBE, CROP_PARCELS] + [f"{TIMESEN2CROP_DIR}/{tile}/dates.csv"
                                        for tile in sorted(TRAINING_TILES)]


def sample_files() -> list[str]:
    """Names of every file a build writes (products as ``.zip``; a TimeSen2Crop tile by its
    ``dates.csv``)."""
    return ([f"{name}.zip" for name in PRODUCTS] + list(TRUTH_FILES)
            + [f"{name}.zip" for name in S1_PRODUCTS] + [S1_TRUTH] + _crop_files())


# --------------------------------------------------------------------------- writing
def _data_array(values: np.ndarray, bounds: tuple[float, ...], res: int, name: str) -> Any:
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    x0, _, _, y1 = bounds
    ny, nx = values.shape
    da = xr.DataArray(values, dims=("y", "x"), name=name,
                      coords={"x": x0 + res / 2 + res * np.arange(nx),
                              "y": y1 - res / 2 - res * np.arange(ny)})
    return da.rio.write_crs(f"EPSG:{EPSG}")


def _polygons(mask: np.ndarray, bounds: tuple[float, ...], res: int, label: str) -> Any:
    import geopandas as gpd
    import shapely
    from rasterio.features import shapes
    from rasterio.transform import from_origin

    transform = from_origin(bounds[0], bounds[3], res, res)
    geoms = [shapely.geometry.shape(g) for g, _ in
             shapes(mask.astype(np.uint8), mask=mask, transform=transform)]
    areas = [round(g.area, 1) for g in geoms]
    return gpd.GeoDataFrame({"class": [label] * len(geoms), "area_m2": areas}, geometry=geoms,
                            crs=f"EPSG:{EPSG}")


def simulated_admin_units(seed: int = DEFAULT_SEED) -> Any:
    """Nine simulated local-government units covering the tutorial AOI (EPSG:4326).

    A jittered 3 x 3 Voronoi partition of a box 3 km around the AOI. Columns
    ``name`` (``"Sim LGA ..."``: obviously stand-ins), ``code``,
    ``national_level`` (``"3rdOrder"``), ``country``, ``simulated`` (True).
    Real boundaries (GADM level 2, ABS LGAs) work the same way, see
    :func:`eolab.io.boundaries.read_admin_units`.
    """
    import geopandas as gpd
    import shapely

    from eolab.aoi import TUTORIAL_AOI_WKT, aoi_bounds

    x0, y0, x1, y1 = aoi_bounds(TUTORIAL_AOI_WKT, f"EPSG:{EPSG}")
    box = shapely.box(x0 - 3000, y0 - 3000, x1 + 3000, y1 + 3000)
    bx0, by0, bx1, by1 = box.bounds
    rng = np.random.default_rng([int(seed), 30])
    cw, ch = (bx1 - bx0) / 3, (by1 - by0) / 3
    points = [shapely.Point(bx0 + (j + 0.5 + rng.uniform(-0.3, 0.3)) * cw,
                            by1 - (i + 0.5 + rng.uniform(-0.3, 0.3)) * ch)
              for i in range(3) for j in range(3)]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=box)
    geoms = []
    for p in points:
        cell = next(c for c in cells.geoms if c.contains(p))
        geoms.append(shapely.segmentize(cell.intersection(box), 250.0))
    geoms = [shapely.set_precision(g, 0.01) for g in geoms]   # 1 cm, shared edges stay shared
    gdf = gpd.GeoDataFrame(
        {"name": list(_ADMIN_NAMES), "code": [f"SIM{i + 1:02d}" for i in range(9)],
         "national_level": "3rdOrder", "country": "Australia", "simulated": True},
        geometry=geoms, crs=f"EPSG:{EPSG}")
    gdf = gdf.to_crs(4326)
    gdf["geometry"] = shapely.set_precision(gdf.geometry.values, 1e-7)
    return gdf


def _progress(progress: bool, total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not progress, unit="step", desc="eolab samples",
                bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]{postfix}")


def _read_info(dest: Path) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = json.loads((dest / BUILD_INFO).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def build_samples(
    dest: str | os.PathLike[str] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    window: tuple[float, float, float, float] | None = None,
) -> list[Path]:
    """Generate the simulated samples of exercise 1 into ``dest``.

    Parameters
    ----------
    dest
        Target folder (default :func:`eolab.samples.paths.data_dir`).
    seed
        Scene seed; :data:`DEFAULT_SEED` gives the samples the registry
        describes. Any other seed draws another landscape, flood and weather
        with the same statistics.
    progress
        Show a progress bar (tqdm).
    window
        Build only this part of the scene, ``(minx, miny, maxx, maxy)`` in
        EPSG:32756 (snapped to the 60 m grid; for tests). Default: the
        whole scene, :data:`eolab.samples.flood.FULL_WINDOW`.

    Returns
    -------
    list of Path
        The written files: three Sentinel-2 product zips, truth rasters and
        polygons, ``admin_units.gpkg``, the two Sentinel-1 SLC zips and
        ``s1_truth.npz``.

    Raises
    ------
    OutputError
        If ``dest`` cannot be written, or already holds Sentinel-2 products
        that eolab did not build (real ones are never overwritten).
    """
    from eolab.io.rasters import atomic_outputs, write_geotiff
    from eolab.samples.s2safe import write_l2a_product

    dest = Path(dest) if dest is not None else data_dir()
    foreign = [n for n in PRODUCTS if (dest / f"{n}.zip").exists()]
    if foreign and _read_info(dest) is None:
        raise OutputError(
            f"{dest} already holds {foreign[0]}.zip, which eolab did not build (no "
            f"{BUILD_INFO}); real products are never overwritten: choose another --dest or "
            "remove them")
    bar = _progress(progress, 10)
    tags = {"simulated": "true", "seed": str(seed), "generator": "eolab.samples",
            "generator_version": GENERATOR_VERSION}
    with atomic_outputs(dest) as out:
        bar.set_postfix_str("landscape")
        rend = _Renderer(int(seed), window, progress=bar)
        x0, _, _, y1 = rend.bounds
        truth = rend.truth
        for date in DATES:
            bar.set_postfix_str(f"bands {date}")
            bands = {band: noisy for band, (_, noisy) in
                     rend.render(date, BANDS, clean=False).items()}
            bar.update(1)
            for name, (pdate, baseline) in PRODUCTS.items():
                if pdate != date:
                    continue
                bar.set_postfix_str(f"write {date} N{baseline.replace('.', '')}")
                path = write_l2a_product(
                    out.dir, bands=bands, scl=truth["scl"][date], x0=x0, y0=y1,
                    sensing_time=SENSING_TIMES[date], generation_time=GENERATION_TIMES[date],
                    processing_baseline=baseline, name=name)
                out.path(path.name)
                bar.update(1)
            del bands
            _release_memory()
        bar.set_postfix_str("truth")
        b = rend.bounds
        classes = ";".join(f"{k}={v}" for k, v in LANDCOVER_CLASSES.items())
        rasters = [
            ("flood_truth.tif", truth["flood"], "flooded on 2021-03-25 (simulated truth)",
             {"values": "1=flooded;0=not flooded"}, None),
            ("permanent_water_truth.tif", truth["perm"], "permanent water (simulated truth)",
             {"values": "1=permanent water;0=other"}, None),
            ("landcover_truth.tif", truth["landcover"], "land cover (simulated truth)",
             {"classes": classes}, _LANDCOVER_COLORS),
        ] + [(f"cloud_truth_{d}.tif", truth["clouds"][d], f"clouds on {d} (simulated truth)",
              {"classes": ";".join(f"{k}={v}" for k, v in CLOUD_CLASSES.items())}, None)
             for d in DATES]
        for name, values, title, extra, cmap in rasters:
            da = _data_array(values.astype(np.uint8), b, 20, title)
            write_geotiff(da, out.path(name), nodata=255, dtype=np.uint8, descriptions=[title],
                          units="1", tags={**tags, **extra}, colormap=cmap)
        dem = _data_array(np.asarray(truth["dem"], np.float32), b, 20, "terrain height")
        write_geotiff(dem, out.path("dem.tif"), nodata=float("nan"), dtype=np.float32,
                      descriptions=["terrain height above the WGS84 ellipsoid (simulated DEM)"],
                      units="m", tags=tags)
        bar.update(1)
        bar.set_postfix_str("polygons, admin units")
        for name, mask, label in (("flood_truth.gpkg", truth["flood"], "flooded"),
                                  ("permanent_water_truth.gpkg", truth["perm"], "permanent water")):
            _polygons(mask, b, 20, label).to_file(out.path(name), layer=name[:-5], driver="GPKG")
        simulated_admin_units(seed).to_file(out.path("admin_units.gpkg"), layer="admin_units",
                                            driver="GPKG")
        bar.update(1)
        bar.set_postfix_str("Sentinel-1 SLC pair")
        from eolab.samples.s1safe import write_slc_pair

        s1 = write_slc_pair({"bounds": rend.bounds, "landcover": truth["landcover"],
                             "flood": truth["flood"], "dem": truth["dem"]}, out.dir,
                            seed=int(seed))
        written = [Path(p).name for p in (*s1["products"], s1["truth"])]
        if written != [f"{n}.zip" for n in S1_PRODUCTS] + [S1_TRUTH]:
            raise SampleDataError(f"the Sentinel-1 simulator wrote {written}, expected "
                                  f"{list(S1_PRODUCTS)} and {S1_TRUTH}")
        for name in written:
            out.path(name)
        info = {
            "generator": "eolab.samples", "generator_version": GENERATOR_VERSION,
            "seed": int(seed), "window": list(b), "crs": f"EPSG:{EPSG}",
            "files": sample_files(), "flood_height_m": rend.world.flood_height,
            "stats": _stats(truth),
        }
        out.path(BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
        bar.update(1)
    bar.set_postfix_str("crop scene (exercise 2)")
    from eolab.samples.crop import DEFAULT_SEED as CROP_SEED
    from eolab.samples.crop import write_crop_samples

    # the crop scene has its own default seed; another build seed draws another crop scene
    write_crop_samples(dest, seed=CROP_SEED if int(seed) == DEFAULT_SEED else int(seed))
    bar.update(1)
    bar.close()
    return [dest / name for name in sample_files()]


def _stats(truth: dict[str, Any]) -> dict[str, Any]:
    lc = truth["landcover"]
    return {
        "flood_fraction": round(float(truth["flood"].mean()), 5),
        "permanent_water_fraction": round(float(truth["perm"].mean()), 5),
        "landcover_fractions": {LANDCOVER_CLASSES[c]: round(float((lc == c).mean()), 5)
                                for c in LANDCOVER_CLASSES},
        "cloud_fractions": {d: {CLOUD_CLASSES[c]: round(float((v == c).mean()), 5)
                                for c in CLOUD_CLASSES} for d, v in truth["clouds"].items()},
    }


def ensure_samples(dest: str | os.PathLike[str] | None = None, *, progress: bool = True) -> Path:
    """Return the sample folder, building the samples first when they are missing.

    A folder that holds the tutorial's two Sentinel-2 products but no
    ``.build-info.json`` (real products, e.g. from ``eolab fetch``) is used as
    it is. A build by an older generator, or one with missing files, is
    rebuilt with the seed it was made with.
    """
    dest = Path(dest) if dest is not None else data_dir()
    info = _read_info(dest)
    if info is None:
        if all((dest / f"{n}.zip").exists() for n in _TUTORIAL_PRODUCTS):
            return dest
        build_samples(dest, progress=progress)
        return dest
    missing = [n for n in sample_files() if not (dest / n).exists()]
    if missing or info.get("generator_version") != GENERATOR_VERSION:
        window = info.get("window")
        build_samples(dest, seed=int(info.get("seed", DEFAULT_SEED)), progress=progress,
                      window=tuple(window) if window else None)
    return dest


# --------------------------------------------------------------------------- checksums
def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _raster_digest(path: str) -> str:
    import rasterio

    with rasterio.open(path) as src:
        data = np.ascontiguousarray(src.read())
        grid = [round(v, 6) for v in tuple(src.transform)[:6]]
        epsg = src.crs.to_epsg() if src.crs else None
    return _digest(data.dtype.str, data.shape, grid, epsg, data.tobytes())


def _vector_digests(path: Path) -> dict[str, str]:
    import geopandas as gpd
    import pyogrio
    import shapely

    out = {}
    for layer, _ in pyogrio.list_layers(path):
        gdf = gpd.read_file(path, layer=layer)
        grid = 1e-7 if gdf.crs is not None and gdf.crs.is_geographic else 1e-3
        geoms = shapely.normalize(shapely.set_precision(gdf.geometry.values, grid))
        wkb = b"".join(shapely.to_wkb(geoms, byte_order=1, output_dimension=2))
        attrs = gdf.drop(columns=gdf.geometry.name)
        rows = [[round(v, 6) if isinstance(v, float) else
                 (v.item() if hasattr(v, "item") else v) for v in row]
                for row in attrs.itertuples(index=False)]
        out[f"layer {layer}"] = _digest(gdf.crs.to_epsg() if gdf.crs else None,
                                        list(attrs.columns), json.dumps(rows), wkb)
    return out


def checksums(path: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of a sample file's decoded content, per part.

    Zips: one entry per JPEG 2000 or Sentinel-1 measurement member (its
    decoded pixel array and grid) and per Sentinel-1 annotation XML (bytes);
    ``.npz``: one entry per array;
    GeoTIFFs: one entry for all bands; GeoPackages: one entry per layer
    (normalised geometries rounded to 1e-7 degree or 1 mm, attributes).
    """
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            members = sorted(n for n in zf.namelist() if n.lower().endswith(".jp2")
                             or (n.lower().endswith(".tiff") and "/measurement/" in f"/{n}"))
            xml = sorted(n for n in zf.namelist() if n.lower().endswith(".xml")
                         and "/annotation/" in f"/{n}")
            parts = {m: _digest(zf.read(m)) for m in xml}
        return {**{m: _raster_digest(f"/vsizip/{path}/{m}") for m in members}, **parts}
    if path.suffix == ".npz":
        with np.load(path) as npz:
            return {k: _digest(npz[k].dtype.str, npz[k].shape,
                               np.ascontiguousarray(npz[k]).tobytes()) for k in sorted(npz.files)}
    if path.suffix in (".tif", ".tiff"):
        return {"bands": _raster_digest(str(path))}
    if path.suffix == ".gpkg":
        return _vector_digests(path)
    if path.suffix == ".nc":
        import xarray as xr

        with xr.open_dataset(path, decode_cf=False) as ds:
            return {name: _digest(var.dtype.str, var.shape,
                                  np.ascontiguousarray(var.values).tobytes())
                    for name, var in sorted(ds.variables.items())}
    if path.name == "dates.csv":  # a TimeSen2Crop tile: every CSV of the folder
        files = sorted(p for p in path.parent.rglob("*.csv"))
        return {"tile": _digest(*(part for p in files for part in
                                  (p.relative_to(path.parent).as_posix(), p.read_bytes())))}
    raise SampleDataError(f"no checksum rule for {path.name}")


def _registry_path(dest: Path, registry: str | os.PathLike[str] | None) -> Path:
    if registry is not None:
        return Path(registry)
    candidates = [dest / REGISTRY, Path(__file__).resolve().parents[2] / "data_samples" / REGISTRY]
    for path in candidates:
        if path.exists():
            return path
    raise SampleDataError(f"no {REGISTRY} in {dest} or the eolab source tree; pass registry=...")


def verify_samples(
    dest: str | os.PathLike[str] | None = None,
    *,
    registry: str | os.PathLike[str] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> list[str]:
    """Compare the samples in ``dest`` with the checksum registry.

    Parameters
    ----------
    dest
        Sample folder (default :func:`eolab.samples.paths.data_dir`).
    registry
        Registry file (default ``dest/registry.json``, else the one in the
        eolab source tree).
    on_file
        Called with each file name before it is checked (progress).

    Returns
    -------
    list of str
        One line per problem (missing file, differing part, other seed or
        generator version); empty when everything matches.
    """
    from rasterio.errors import RasterioError

    dest = Path(dest) if dest is not None else data_dir()
    reg_path = _registry_path(dest, registry)
    try:
        reg = json.loads(reg_path.read_text())
    except (OSError, ValueError) as exc:
        raise SampleDataError(f"cannot read the registry {reg_path}: {exc}") from exc
    problems = []
    if reg.get("generator_version") != GENERATOR_VERSION:
        problems.append(f"the registry describes generator version {reg.get('generator_version')}"
                        f", this eolab builds version {GENERATOR_VERSION}: run update_registry()")
    info = _read_info(dest)
    if info is not None and (info.get("seed"), info.get("window")) != (reg.get("seed"),
                                                                       reg.get("window")):
        problems.append(f"{dest} holds a build of seed {info.get('seed')}, window "
                        f"{info.get('window')}; the registry describes seed {reg.get('seed')}, "
                        f"window {reg.get('window')} (rebuild with `eolab samples build`)")
    files = reg.get("files") or {}
    if not files:
        problems.append(f"{reg_path} holds no checksums yet: run update_registry()")
    for name, expected in files.items():
        if on_file is not None:
            on_file(name)
        path = dest / name
        if not path.exists():
            problems.append(f"missing: {name}")
            continue
        try:
            got = checksums(path)
        except (OSError, ValueError, RuntimeError, KeyError, zipfile.BadZipFile,
                RasterioError) as exc:  # unreadable or corrupt (pyogrio: RuntimeError)
            problems.append(f"{name}: cannot be decoded ({exc})")
            continue
        for part, digest in expected.items():
            if part not in got:
                problems.append(f"{name}: {part} missing")
            elif got[part] != digest:
                problems.append(f"{name}: {part} differs")
        problems += [f"{name}: unexpected {part}" for part in got if part not in expected]
    return problems


def update_registry(
    dest: str | os.PathLike[str] | None = None,
    *,
    registry: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the checksums of a default-seed build into the registry (maintainers).

    Run after a change of the generator (bump :data:`GENERATOR_VERSION`),
    then commit ``data_samples/registry.json``.
    """
    dest = Path(dest) if dest is not None else data_dir()
    info = _read_info(dest)
    if info is None or info.get("generator_version") != GENERATOR_VERSION:
        raise SampleDataError(f"{dest} holds no build by generator version {GENERATOR_VERSION}; "
                              "run `eolab samples build` first")
    if registry is None and (info.get("seed") != DEFAULT_SEED
                             or info.get("window") != list(FULL_WINDOW)):
        raise SampleDataError(f"the registry describes the full scene of seed {DEFAULT_SEED}; "
                              f"{dest} holds another build (pass registry=... to record it)")
    files = {name: checksums(dest / name) for name in sample_files()}
    reg = {
        "description": "SHA-256 of the decoded content of the simulated samples (eolab samples "
                       "build); see data_samples/README.md",
        "generator": "eolab.samples", "generator_version": GENERATOR_VERSION,
        "seed": info.get("seed"), "window": info.get("window"), "stats": info.get("stats"),
        "files": files,
    }
    path = Path(registry) if registry is not None else dest / REGISTRY
    path.write_text(json.dumps(reg, indent=1, sort_keys=False) + "\n")
    return path
