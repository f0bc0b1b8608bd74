"""Sentinel-2 Level-2A reader: SAFE products (zip or folder) as lazy xarray Datasets.

Reflectance is computed from the product's own metadata,
``(DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE`` (``MTD_MSIL2A.xml``): since
processing baseline 04.00 the offset is -1000, before it there is none.
DN 0 (``NODATA``) and 65535 (``SATURATED``) become NaN.

Resampling to the requested resolution (documented behaviour):

* a band that exists at that resolution in the product (``R10m``, ``R20m``,
  ``R60m``) is read as it is;
* otherwise, when a finer version exists it is **averaged** over whole
  blocks (e.g. B08 10 m → 20 m: 2 × 2 mean of the valid pixels) — the grids of
  a tile share their origin, so blocks align exactly;
* otherwise the next coarser version is **repeated** (nearest neighbour; e.g.
  B05 20 m → 10 m), which invents no detail;
* the categorical SCL band is never averaged: it is taken from the folder of
  that resolution, or the block-centre pixel when coarsening, or repeated.
"""

from __future__ import annotations

import functools
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dask.array as darr
import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from rasterio.errors import RasterioIOError
from rasterio.features import geometry_mask

from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import (
    AOIError,
    BandError,
    CorruptProductError,
    ProductError,
    ProductTypeError,
    ResolutionError,
)

__all__ = [
    "L2A_BANDS",
    "SCL_CLASSES",
    "CLOUD_SHADOW_CLASSES",
    "RESOLUTIONS",
    "L2AProduct",
    "open_l2a",
    "read_metadata",
    "canonical_band",
    "cloud_mask",
    "mask_clouds",
]

#: L2A bands: name -> (band_id in MTD_MSIL2A.xml, native resolution m, central wavelength nm
#: of Sentinel-2A, spectral response version 3.0).
L2A_BANDS: dict[str, tuple[int, int, float]] = {
    "B01": (0, 60, 442.7),
    "B02": (1, 10, 492.7),
    "B03": (2, 10, 559.8),
    "B04": (3, 10, 664.6),
    "B05": (4, 20, 704.1),
    "B06": (5, 20, 740.5),
    "B07": (6, 20, 782.8),
    "B08": (7, 10, 832.8),
    "B8A": (8, 20, 864.7),
    "B09": (9, 60, 945.1),
    "B11": (11, 20, 1613.7),
    "B12": (12, 20, 2202.4),
}

#: Scene classification (SCL) codes of Sen2Cor.
SCL_CLASSES: dict[int, str] = {
    0: "no data",
    1: "saturated or defective",
    2: "dark area pixels",
    3: "cloud shadows",
    4: "vegetation",
    5: "not vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud medium probability",
    9: "cloud high probability",
    10: "thin cirrus",
    11: "snow",
}

#: SCL codes treated as cloud or shadow by default.
CLOUD_SHADOW_CLASSES: tuple[int, ...] = (3, 8, 9, 10)

RESOLUTIONS = (10, 20, 60)
_EXTRA_BANDS = ("SCL",)
_NODATA = 0
_SATURATED = 65535
_CHUNK = 1024


def canonical_band(name: str) -> str:
    """Canonical L2A band name: ``"B3"`` → ``"B03"``, ``"b8a"`` → ``"B8A"``, ``"scl"`` → ``"SCL"``.

    Raises
    ------
    BandError
        For a name that is not an L2A band.
    """
    text = str(name).strip().upper()
    match = re.fullmatch(r"B0?(\d{1,2})(A?)", text)
    if match:
        number, suffix = int(match.group(1)), match.group(2)
        text = f"B{number}A" if suffix else f"B{number:02d}"
    if text in L2A_BANDS or text in _EXTRA_BANDS:
        return text
    valid = ", ".join([*L2A_BANDS, *_EXTRA_BANDS])
    hint = " (B10 is a Level-1C band; L2A has no B10)" if text == "B10" else ""
    raise BandError(f"unknown Sentinel-2 L2A band {name!r}{hint}; valid bands: {valid}")


@dataclass(frozen=True)
class L2AProduct:
    """What :func:`read_metadata` learns from a product's ``MTD_MSIL2A.xml``."""

    path: Path
    name: str
    safe_root: str
    processing_baseline: str
    product_type: str
    spacecraft: str
    datetime: str
    generation_time: str
    relative_orbit: int | None
    tile_id: str
    quantification_value: float
    boa_add_offsets: dict[str, float]
    nodata: int = _NODATA
    saturated: int = _SATURATED
    cloud_cover: float | None = None
    files: dict[tuple[str, int], str] = field(default_factory=dict)
    is_zip: bool = True

    def gdal_path(self, member: str) -> str:
        """GDAL path of a file of the product (``/vsizip/`` for zips)."""
        if self.is_zip:
            return f"/vsizip/{self.path.resolve()}/{member}"
        return str(self.path.parent / member)  # members start with the .SAFE folder


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_text(root: ET.Element, name: str) -> str | None:
    for el in root.iter():
        if _local(el.tag) == name and el.text is not None:
            return el.text.strip()
    return None


def _open_container(path: Path) -> tuple[bool, list[str], Any]:
    """Return (is_zip, member names relative to the container, opener)."""
    if not path.exists():
        raise ProductError(f"product not found: {path}")
    if path.is_dir():
        names = [str(p.relative_to(path)).replace("\\", "/") for p in path.rglob("*") if p.is_file()]
        return False, names, lambda member: (path / member).read_bytes()
    if not zipfile.is_zipfile(path):
        raise CorruptProductError(
            f"{path.name} is not a valid zip archive (corrupt or truncated download?); "
            "download it again, e.g. with `eolab fetch`"
        )
    try:
        zf = zipfile.ZipFile(path)
        names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptProductError(f"cannot read the zip archive {path.name}: {exc}; "
                                  "download it again") from exc

    def read(member: str) -> bytes:
        with zipfile.ZipFile(path) as z:
            return z.read(member)

    zf.close()
    return True, names, read


def read_metadata(path: str | Path) -> L2AProduct:
    """Read the metadata of a Sentinel-2 L2A product (SAFE zip or folder).

    Raises
    ------
    ProductError, CorruptProductError, ProductTypeError
        When the path is missing, the archive is corrupt, or the product is
        not a Sentinel-2 Level-2A product.
    """
    path = Path(path)
    if path.is_dir() and not path.name.endswith(".SAFE"):
        safes = sorted(path.glob("*.SAFE"))
        if len(safes) == 1:
            path = safes[0]
    is_zip, names, read = _open_container(path)
    if path.is_dir():
        names = [f"{path.name}/{n}" for n in names]
        base = path.parent

        def read(member: str, _base: Path = base) -> bytes:  # noqa: F811
            return (_base / member).read_bytes()

    mtd = [n for n in names if re.search(r"(^|/)MTD_MSIL2A\.xml$", n)]
    if not mtd:
        other = [n for n in names if re.search(r"(^|/)MTD_MSIL1C\.xml$", n)]
        if other:
            raise ProductTypeError(
                f"{path.name} is a Sentinel-2 Level-1C product (top-of-atmosphere); "
                "open_l2a needs Level-2A (MSIL2A) products with BOA reflectance and SCL — "
                "download the L2A product or process this one with Sen2Cor"
            )
        if any(re.search(r"(^|/)manifest\.safe$", n) for n in names) and any(
            "S1" in n[:3] or "/measurement/" in n for n in names
        ):
            raise ProductTypeError(f"{path.name} is not a Sentinel-2 product (Sentinel-1?); "
                                   "open_l2a reads Sentinel-2 L2A products")
        raise ProductError(f"{path.name} has no MTD_MSIL2A.xml: not a Sentinel-2 L2A SAFE product")
    mtd_member = sorted(mtd, key=len)[0]
    safe_root = mtd_member.rsplit("/", 1)[0] if "/" in mtd_member else ""
    try:
        root = ET.fromstring(read(mtd_member))
    except (ET.ParseError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptProductError(f"the metadata file {mtd_member} of {path.name} is corrupt: "
                                  f"{exc}") from exc
    level = _find_text(root, "PROCESSING_LEVEL") or ""
    ptype = _find_text(root, "PRODUCT_TYPE") or ""
    if "2A" not in level and "2A" not in ptype:
        raise ProductTypeError(f"{path.name} is not Level-2A (PROCESSING_LEVEL={level!r}, "
                               f"PRODUCT_TYPE={ptype!r})")
    quant = _find_text(root, "BOA_QUANTIFICATION_VALUE")
    if quant is None:
        raise ProductError(f"{path.name}: MTD_MSIL2A.xml has no BOA_QUANTIFICATION_VALUE")
    id_to_band = {bid: b for b, (bid, _, _) in L2A_BANDS.items()}
    offsets = {b: 0.0 for b in L2A_BANDS}
    for el in root.iter():
        if _local(el.tag) == "BOA_ADD_OFFSET" and el.text:
            band = id_to_band.get(int(el.get("band_id", "-1")))
            if band is not None:
                offsets[band] = float(el.text)
    nodata, saturated = _NODATA, _SATURATED
    for el in root.iter():
        if _local(el.tag) == "Special_Values":
            kind = _find_text(el, "SPECIAL_VALUE_TEXT")
            value = _find_text(el, "SPECIAL_VALUE_INDEX")
            if kind == "NODATA" and value is not None:
                nodata = int(value)
            elif kind == "SATURATED" and value is not None:
                saturated = int(value)
    files: dict[tuple[str, int], str] = {}
    listed = [el.text.strip() for el in root.iter() if _local(el.tag) == "IMAGE_FILE" and el.text]
    candidates = [f"{safe_root}/{f}.jp2" if safe_root else f"{f}.jp2" for f in listed]
    if not candidates:  # fall back to the files present
        candidates = [n for n in names if n.endswith(".jp2") and "/IMG_DATA/" in n]
    present = set(names)
    for member in candidates:
        match = re.search(r"_([A-Z0-9]{3})_(\d{2})m\.jp2$", member)
        if not match:
            continue
        band, res = match.group(1), int(match.group(2))
        if member not in present:
            raise CorruptProductError(f"{path.name} lists {member} in its metadata but the file is "
                                      "missing (incomplete download?)")
        files[(band, res)] = member
    if not files:
        raise ProductError(f"{path.name} holds no L2A image files (IMG_DATA/R10m, R20m, R60m)")
    tile = _find_text(root, "TILE_ID") or ""
    tile_match = re.search(r"_T(\d{2}[A-Z]{3})_", next(iter(files.values())))
    tile_id = tile_match.group(1) if tile_match else tile
    product_uri = _find_text(root, "PRODUCT_URI") or (safe_root or path.stem)
    orbit = _find_text(root, "SENSING_ORBIT_NUMBER")
    cloud = _find_text(root, "Cloud_Coverage_Assessment")
    start = _find_text(root, "PRODUCT_START_TIME") or ""
    return L2AProduct(
        path=path,
        name=product_uri.removesuffix(".SAFE"),
        safe_root=safe_root,
        processing_baseline=_find_text(root, "PROCESSING_BASELINE") or "",
        product_type=ptype,
        spacecraft=_find_text(root, "SPACECRAFT_NAME") or "",
        datetime=start,
        generation_time=_find_text(root, "GENERATION_TIME") or "",
        relative_orbit=int(orbit) if orbit and orbit.isdigit() else None,
        tile_id=tile_id,
        quantification_value=float(quant),
        boa_add_offsets=offsets,
        nodata=nodata,
        saturated=saturated,
        cloud_cover=float(cloud) if cloud else None,
        files=files,
        is_zip=is_zip,
    )


@dataclass(frozen=True)
class _Grid:
    transform: rasterio.Affine
    width: int
    height: int
    crs: Any


def _grid_of(product: L2AProduct, member: str) -> _Grid:
    try:
        with rasterio.open(product.gdal_path(member)) as src:
            return _Grid(src.transform, src.width, src.height, src.crs)
    except RasterioIOError as exc:
        raise CorruptProductError(f"cannot read {member} of {product.path.name}: {exc}; the "
                                  "product is corrupt or truncated, download it again") from exc


def _verify_members(product: L2AProduct, members: Iterable[str]) -> None:
    """Check the CRC of the zip members that will be read (once per unchanged file)."""
    if not product.is_zip:
        return
    stat = product.path.stat()
    _verify_zip_members(str(product.path.resolve()), stat.st_size, stat.st_mtime_ns,
                        tuple(sorted(members)))


@functools.lru_cache(maxsize=256)
def _verify_zip_members(path: str, size: int, mtime_ns: int, members: tuple[str, ...]) -> None:
    """CRC check of zip members; cached on the file's identity (path, size, mtime)."""
    name = Path(path).name
    try:
        with zipfile.ZipFile(path) as zf:
            for member in members:
                with zf.open(member) as fh:
                    while fh.read(1 << 22):
                        pass
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise CorruptProductError(f"{name}: {exc}; the archive is corrupt, "
                                  "download it again") from exc


def _source_for(product: L2AProduct, band: str, resolution: int) -> tuple[str, int]:
    """Pick the file to read for ``band`` at ``resolution`` (see module docstring)."""
    available = sorted(res for (b, res) in product.files if b == band)
    if not available:
        raise BandError(f"band {band} is missing from {product.path.name} (it has "
                        f"{sorted({b for b, _ in product.files})})")
    if resolution in available:
        return product.files[(band, resolution)], resolution
    finer = [r for r in available if r < resolution and resolution % r == 0]
    if finer:
        res = max(finer)
        return product.files[(band, res)], res
    coarser = [r for r in available if r > resolution and r % resolution == 0]
    if coarser:
        res = min(coarser)
        return product.files[(band, res)], res
    raise BandError(f"band {band} of {product.path.name} cannot be brought to {resolution} m")


def _window(grid: _Grid, geom: shapely.Geometry | None, product_name: str) -> tuple[slice, slice]:
    if geom is None:
        return slice(0, grid.height), slice(0, grid.width)
    t = grid.transform
    res_x, res_y = t.a, -t.e
    x0, y0 = t.c, t.f
    minx, miny, maxx, maxy = geom.bounds
    col0 = int(np.floor((minx - x0) / res_x + 1e-9))
    col1 = int(np.ceil((maxx - x0) / res_x - 1e-9))
    row0 = int(np.floor((y0 - maxy) / res_y + 1e-9))
    row1 = int(np.ceil((y0 - miny) / res_y - 1e-9))
    ccol0, ccol1 = max(col0, 0), min(col1, grid.width)
    crow0, crow1 = max(row0, 0), min(row1, grid.height)
    if ccol0 >= ccol1 or crow0 >= crow1:
        raster_bounds = (x0, y0 - grid.height * res_y, x0 + grid.width * res_x, y0)
        raise AOIError(
            f"the AOI does not overlap the product {product_name} (AOI bounds {tuple(round(v) for v in geom.bounds)}"
            f" vs. product bounds {tuple(round(v) for v in raster_bounds)} in {grid.crs}); "
            "check the AOI coordinates (longitude first) or choose a product that covers it"
        )
    if (ccol0, ccol1, crow0, crow1) != (col0, col1, row0, row1):
        box = shapely.box(x0, y0 - grid.height * res_y, x0 + grid.width * res_x, y0)
        outside = geom.difference(box).area / 1e6
        sides = [s for s, cut in (("west", col0 < 0), ("east", col1 > grid.width),
                                  ("north", row0 < 0), ("south", row1 > grid.height)) if cut]
        warnings.warn(
            f"the AOI extends beyond {product_name} on the {'/'.join(sides)} side "
            f"({outside:.2f} km² outside); the result is clipped to the product",
            UserWarning,
            stacklevel=3,
        )
    return slice(crow0, crow1), slice(ccol0, ccol1)


def _nanmean(values: np.ndarray, axis: Any = None) -> np.ndarray:
    """Mean of the valid pixels; NaN (silently) where a block has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _read_band(
    product: L2AProduct,
    band: str,
    member: str,
    src_res: int,
    resolution: int,
    rows: slice,
    cols: slice,
) -> darr.Array:
    """Lazily read one band on the output window, scaled and resampled."""
    path = product.gdal_path(member)
    if src_res <= resolution:
        f = resolution // src_res
        src_rows = slice(rows.start * f, rows.stop * f)
        src_cols = slice(cols.start * f, cols.stop * f)
    else:
        f = src_res // resolution
        src_rows = slice(rows.start // f, -(-rows.stop // f))
        src_cols = slice(cols.start // f, -(-cols.stop // f))
    try:
        raw = rioxarray.open_rasterio(path, chunks={"x": _CHUNK, "y": _CHUNK},
                                      mask_and_scale=False, lock=False)
    except RasterioIOError as exc:
        raise CorruptProductError(f"cannot read {member} of {product.path.name}: {exc}") from exc
    data = raw.isel(band=0, y=src_rows, x=src_cols).data
    if band == "SCL":
        values = data.astype(np.float32)
        values = darr.where(data == product.nodata, np.float32(np.nan), values)
    else:
        offset = product.boa_add_offsets.get(band, 0.0)
        scaled = (data.astype(np.float32) + np.float32(offset)) / np.float32(
            product.quantification_value
        )
        invalid = (data == product.nodata) | (data == product.saturated)
        values = darr.where(invalid, np.float32(np.nan), scaled)
    if src_res < resolution:
        f = resolution // src_res
        ny, nx = values.shape[0] // f, values.shape[1] // f
        values = values[: ny * f, : nx * f]
        if band == "SCL":  # categorical: block-centre pixel
            values = values[f // 2 :: f, f // 2 :: f]
        else:
            blocks = values.rechunk((_CHUNK - _CHUNK % f, _CHUNK - _CHUNK % f))
            values = darr.coarsen(_nanmean, blocks, {0: f, 1: f}, trim_excess=True)
            values = values.astype(np.float32)
    elif src_res > resolution:
        f = src_res // resolution
        values = darr.repeat(darr.repeat(values, f, axis=0), f, axis=1)
        off_r, off_c = rows.start - src_rows.start * f, cols.start - src_cols.start * f
        values = values[off_r : off_r + (rows.stop - rows.start),
                        off_c : off_c + (cols.stop - cols.start)]
    return values.rechunk((_CHUNK, _CHUNK))


def _iso(text: str) -> str:
    if not text:
        return text
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def open_l2a(
    path: str | Path,
    *,
    bands: Sequence[str],
    resolution: int = 20,
    aoi: AOILike | None = None,
    mask_outside_aoi: bool = True,
    verify: bool = True,
) -> xr.Dataset:
    """Open a Sentinel-2 L2A product lazily as an xarray Dataset.

    Parameters
    ----------
    path
        SAFE product: a ``.zip`` archive, a ``.SAFE`` folder, or a folder
        holding one ``.SAFE``.
    bands
        Band names, e.g. ``["B3", "B4", "B8"]`` or ``["B03", "B8A", "SCL"]``.
    resolution
        Output pixel size in metres: 10, 20 or 60 (see the module docstring
        for how bands are resampled).
    aoi
        Area of interest (WKT/GeoJSON string or shapely geometry in
        EPSG:4326, or a GeoSeries with its own CRS). The result is cut to its
        bounding box on the product grid; an AOI that extends beyond the
        product is clipped with a warning.
    mask_outside_aoi
        Set pixels whose centre lies outside the AOI polygon to NaN.
    verify
        Check the zip CRC of the files that will be read (detects corrupt or
        truncated archives up front rather than in the middle of a computation).

    Returns
    -------
    xr.Dataset
        One float32 variable per requested band (canonical names), dims
        ``(y, x)``, dask-backed, NaN for no data; reflectance (unitless) for
        spectral bands and SCL codes for ``SCL``. The CRS is written
        (rioxarray) and ``attrs`` hold ``datetime`` (acquisition start, ISO
        8601 UTC), ``product_name``, ``processing_baseline``, ``tile_id``,
        ``spacecraft``, ``relative_orbit``, ``quantification_value``,
        ``cloud_cover`` and ``resolution``.

    Raises
    ------
    BandError
        Unknown band name or band missing from the product.
    ResolutionError
        Resolution not 10, 20 or 60.
    AOIError
        Invalid AOI or AOI that does not overlap the product.
    ProductError, CorruptProductError, ProductTypeError
        Missing, corrupt or non-L2A product.
    """
    if isinstance(bands, str):
        bands = [b for b in re.split(r"[,\s]+", bands) if b]
    if not bands:
        raise BandError("no bands requested; give e.g. bands=['B03', 'B04', 'B08']")
    names = list(dict.fromkeys(canonical_band(b) for b in bands))
    try:
        res = int(resolution)
    except (TypeError, ValueError):
        res = -1
    if res not in RESOLUTIONS or float(resolution) != res:
        raise ResolutionError(f"resolution must be 10, 20 or 60 m (Sentinel-2 L2A grids), "
                              f"got {resolution!r}")
    product = read_metadata(path)
    sources = {b: _source_for(product, b, res) for b in names}
    # Output grid: the product's own grid at that resolution.
    ref_member = next((m for (b, r), m in product.files.items() if r == res), None)
    if ref_member is not None:
        grid = _grid_of(product, ref_member)
    else:  # derive it from any file of the product
        (b0, r0), m0 = next(iter(product.files.items()))
        g0 = _grid_of(product, m0)
        t0 = g0.transform
        grid = _Grid(rasterio.Affine(res, 0, t0.c, 0, -res, t0.f),
                     g0.width * r0 // res, g0.height * r0 // res, g0.crs)
    if grid.crs is None:
        raise ProductError(f"{product.path.name}: the image files carry no CRS")
    geom = aoi_to_crs(aoi, grid.crs) if aoi is not None else None
    rows, cols = _window(grid, geom, product.name)
    if verify:
        _verify_members(product, sorted({m for m, _ in sources.values()}))
    t = grid.transform
    x = t.c + (np.arange(cols.start, cols.stop) + 0.5) * t.a
    y = t.f + (np.arange(rows.start, rows.stop) + 0.5) * t.e
    inside = None
    if geom is not None and mask_outside_aoi:
        win_transform = rasterio.Affine(t.a, 0, t.c + cols.start * t.a, 0, t.e, t.f + rows.start * t.e)
        inside = ~geometry_mask([geom], out_shape=(len(y), len(x)), transform=win_transform)
    variables: dict[str, xr.DataArray] = {}
    for band in names:
        member, src_res = sources[band]
        values = _read_band(product, band, member, src_res, res, rows, cols)
        if inside is not None:
            values = darr.where(inside, values, np.float32(np.nan))
        attrs: dict[str, Any] = {"resolution": res, "source_resolution": src_res}
        if band == "SCL":
            attrs.update(long_name="scene classification (SCL)", units="1",
                         flag_values=list(SCL_CLASSES),
                         flag_meanings=" ".join(v.replace(" ", "_") for v in SCL_CLASSES.values()))
        else:
            band_id, native, wavelength = L2A_BANDS[band]
            attrs.update(
                long_name=f"{band} surface reflectance",
                units="1",
                wavelength_nm=wavelength,
                boa_add_offset=product.boa_add_offsets.get(band, 0.0),
                resampling=("none" if src_res == res else
                            "average" if src_res < res else "nearest"),
            )
        variables[band] = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x},
                                       attrs=attrs, name=band)
    ds = xr.Dataset(variables)
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(
        rasterio.Affine(t.a, 0, t.c + cols.start * t.a, 0, t.e, t.f + rows.start * t.e)
    )
    ds.x.attrs.update(units="metre", standard_name="projection_x_coordinate")
    ds.y.attrs.update(units="metre", standard_name="projection_y_coordinate")
    ds.attrs.update(
        datetime=_iso(product.datetime),
        product_name=product.name,
        processing_baseline=product.processing_baseline,
        tile_id=product.tile_id,
        spacecraft=product.spacecraft,
        relative_orbit=product.relative_orbit if product.relative_orbit is not None else -1,
        quantification_value=product.quantification_value,
        cloud_cover=product.cloud_cover if product.cloud_cover is not None else float("nan"),
        resolution=res,
        source=str(product.path),
    )
    return ds


def cloud_mask(
    scl: xr.DataArray | xr.Dataset,
    *,
    classes: Sequence[int] = CLOUD_SHADOW_CLASSES,
    include_nodata: bool = False,
    dilation: int = 0,
) -> xr.DataArray:
    """Boolean mask of clouds and cloud shadows from the SCL band.

    Parameters
    ----------
    scl
        The SCL DataArray, or a Dataset holding an ``SCL`` variable.
    classes
        SCL codes to mask (default: 3 shadow, 8/9 cloud, 10 cirrus; add 11
        for snow).
    include_nodata
        Also mark no-data pixels (SCL NaN or 0) as masked.
    dilation
        Grow the mask by this many pixels (square structuring element).

    Returns
    -------
    xr.DataArray
        ``True`` where the pixel is cloud/shadow, named ``cloud_mask``.
    """
    if isinstance(scl, xr.Dataset):
        if "SCL" not in scl:
            raise BandError("the Dataset has no SCL variable; open it with bands=[..., 'SCL']")
        scl = scl["SCL"]
    mask = scl.isin(list(classes))
    if include_nodata:
        mask = mask | scl.isnull() | (scl == 0)
    if dilation > 0:
        from scipy import ndimage

        structure = np.ones((2 * dilation + 1, 2 * dilation + 1), bool)
        mask = xr.apply_ufunc(
            lambda m: ndimage.binary_dilation(m, structure=structure),
            mask,
            dask="parallelized",
            output_dtypes=[bool],
        ) if mask.chunks is None else mask.copy(
            data=mask.data.map_overlap(
                lambda m: ndimage.binary_dilation(m, structure=structure),
                depth=dilation, boundary=False, dtype=bool,
            )
        )
    mask.attrs = {"long_name": "cloud or cloud shadow (from SCL)", "units": "1",
                  "scl_classes": list(classes)}
    return mask.rename("cloud_mask")


def mask_clouds(ds: xr.Dataset, *, classes: Sequence[int] = CLOUD_SHADOW_CLASSES,
                dilation: int = 0) -> xr.Dataset:
    """Return a copy of ``ds`` with spectral bands set to NaN under clouds and shadows.

    ``ds`` must hold the ``SCL`` variable, which is kept unchanged.
    """
    mask = cloud_mask(ds, classes=classes, dilation=dilation, include_nodata=True)
    out = ds.copy()
    for name in ds.data_vars:
        if name != "SCL":
            out[name] = ds[name].where(~mask)
            out[name].attrs = dict(ds[name].attrs)
    return out
