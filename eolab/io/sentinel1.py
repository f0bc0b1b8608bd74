"""Sentinel-1 IW reader (SLC bursts and GRD) and radiometric calibration.

Products are SAFE folders or zips. Zips are **not extracted**: the XML
members are read with :mod:`zipfile` and the measurement TIFFs through GDAL's
``/vsizip/``; xarray-sentinel (``open_pol_dataset``, ``crop_burst_dataset``
and its orbit, calibration, FM-rate and Doppler readers) does the rest.
Before any pixel is used the measurement TIFFs that will be read are checked
(first and last block; CRC for zips), so a truncated download fails here with
:class:`~eolab.errors.CorruptProductError`, not half-way through a computation.

What xarray-sentinel does not give, this module parses itself: the burst
valid area (``firstValidSample``/``lastValidSample``), the per-point times of
the geolocation grid, every noise-azimuth block, and the FM-rate and Doppler
polynomials nearest each burst's mid time (attrs, for TOPS deramping).

Calibration (:func:`calibrate`): ``sigma0 = |DN|² / A²`` with ``A`` the LUT
bilinearly interpolated in (line, pixel); with noise ``(|DN|² − η) / A²``,
``η = noiseRangeLut × noiseAzimuthLut`` with the range vectors matched by
azimuth time (see :mod:`eolab.io._s1_calib`).
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray_sentinel import sentinel1 as xs

from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import AOIError, CorruptProductError, ProductError, ProductTypeError
from eolab.io import _s1_calib, _s1_geom
from eolab.io._s1_calib import calibrate
from eolab.io._s1_product import (
    S1Product,
    check_pair,
    check_pol,
    load_product,
    read_s1_metadata,
)
from eolab.io._s1_safe import (
    Container,
    SwathTiming,
    check_measurement,
    files_for,
    parse_noise,
    parse_swath_timing,
)

__all__ = [
    "S1Product",
    "read_s1_metadata",
    "open_slc",
    "open_grd",
    "iter_bursts",
    "burst_footprints",
    "valid_mask",
    "match_bursts",
    "calibrate",
    "check_pair",
]

SPEED_OF_LIGHT = 299_792_458.0


def _nearest(ds: xr.Dataset, t: np.datetime64) -> xr.Dataset:
    k = int(np.argmin(np.abs(ds["azimuth_time"].values - t)))
    return ds.isel(azimuth_time=k)


def _burst_attrs(ds_attrs: dict[str, Any], timing: SwathTiming, k: int, swath: str,
                 pol: str, fm: xr.Dataset | None, dc: xr.Dataset | None) -> dict[str, Any]:
    b = timing.bursts[k]
    dt = float(ds_attrs["azimuth_time_interval"])
    mid = b.azimuth_time + np.timedelta64(int(round((timing.lines_per_burst - 1) / 2 * dt * 1e9)),
                                          "ns")
    first, last = b.valid_lines
    f_hz = float(ds_attrs["radar_frequency"]) * 1e9  # xarray-sentinel gives GHz
    attrs = {
        "swath": swath, "polarisation": pol, "burst_index": k,
        "burst_id": -1 if b.burst_id is None else b.burst_id,
        "burst_start_time": str(b.azimuth_time), "burst_mid_time": str(mid),
        "azimuth_anx_time": b.azimuth_anx_time, "sensing_time": b.sensing_time,
        "lines_per_burst": timing.lines_per_burst, "samples_per_burst": timing.samples_per_burst,
        "first_valid_line": first, "last_valid_line": last,
        "radar_frequency_hz": f_hz, "wavelength": SPEED_OF_LIGHT / f_hz,
        "azimuth_steering_rate": float(ds_attrs["azimuth_steering_rate"]),
        "azimuth_steering_rate_rad": float(np.deg2rad(ds_attrs["azimuth_steering_rate"])),
        "azimuth_time_interval": dt,
        "range_sampling_rate": float(ds_attrs["range_sampling_rate"]),
        "slant_range_time": float(ds_attrs["image_slant_range_time"]),
        "range_pixel_spacing": float(ds_attrs["range_pixel_spacing"]),
        "azimuth_pixel_spacing": float(ds_attrs["azimuth_pixel_spacing"]),
    }
    if fm is not None and fm.sizes.get("azimuth_time", 0):
        near = _nearest(fm, mid)
        attrs.update(azimuth_fm_rate_time=str(near["azimuth_time"].values),
                     azimuth_fm_rate_t0=float(near["t0"]),
                     azimuth_fm_rate_polynomial=[float(v) for v in
                                                 near["azimuth_fm_rate_polynomial"].values])
    if dc is not None and dc.sizes.get("azimuth_time", 0):
        near = _nearest(dc, mid)
        attrs.update(dc_time=str(near["azimuth_time"].values), dc_t0=float(near["t0"]),
                     dc_polynomial=[float(v) for v in near["data_dc_polynomial"].values],
                     geometry_dc_polynomial=[float(v) for v in
                                             near["geometry_dc_polynomial"].values])
    return attrs


def burst_footprints(gcp: xr.Dataset, timing: SwathTiming, azimuth_time_interval: float
                     ) -> list[Any]:
    """Lon/lat polygon of every burst of a swath (from the geolocation grid, by time)."""
    span = np.timedelta64(int(round((timing.lines_per_burst - 1) * azimuth_time_interval * 1e9)),
                          "ns")
    return [_s1_geom.time_footprint(gcp, b.azimuth_time, b.azimuth_time + span)
            for b in timing.bursts]


def _default_chunks(container: Container, rel: str) -> dict[str, int]:
    """Dask chunks that are whole multiples of the TIFF's blocks."""
    import rasterio

    try:
        with rasterio.open(container.gdal_path(rel)) as src:
            bh, bw = src.block_shapes[0]
            width = src.width
    except Exception:  # reported by check_measurement / the reader itself
        return {"y": 128, "x": -1}
    if bw >= width:
        return {"y": bh * max(1, round(128 / bh)), "x": -1}
    return {"y": bh * max(1, round(512 / bh)), "x": bw * max(1, round(4096 / bw))}


def _optional(opener: Any, container: Container, rel: str | None, what: str) -> xr.Dataset | None:
    if rel is None:
        return None
    try:
        return opener(container.fileobj(rel))  # type: ignore[no-any-return]
    except (CorruptProductError, ProductError):
        raise
    except ET.ParseError as exc:
        raise CorruptProductError(f"{container.path.name}: {rel} is not valid XML ({exc}); the "
                                  "product is corrupt, download it again") from exc
    except Exception as exc:  # KeyError/ValueError: content xarray-sentinel cannot organise
        warnings.warn(f"{container.path.name}: cannot read the {what} of {rel}: {exc}",
                      UserWarning, stacklevel=3)
        return None


def open_slc(
    path: str | Path,
    *,
    pol: str = "VV",
    aoi: AOILike | None = None,
    swaths: Sequence[str] | None = None,
    verify: bool = True,
    chunks: dict[str, int] | None = None,
) -> xr.DataTree:
    """Open the bursts of an IW SLC product that cover an AOI, lazily.

    Parameters
    ----------
    path
        SAFE zip, ``.SAFE`` folder, or a folder holding one ``.SAFE``.
    pol
        Polarisation, ``"VV"`` (default), ``"VH"``, ``"HH"`` or ``"HV"``.
    aoi
        Area of interest (see :mod:`eolab.aoi`); a burst is kept when its
        footprint (geolocation grid interpolated in time between the burst's
        first and last line) intersects it. ``None`` keeps every burst.
    swaths
        Sub-swaths to consider (default: all present in the product).
    verify
        Check the measurement TIFFs (last block; CRC for zips) up front.
    chunks
        Dask chunks of the TIFF in rasterio names, e.g. ``{"y": 256, "x": -1}``
        (default: whole multiples of the TIFF's blocks, about 128 lines of
        whole-line strips or 512 × 4096 tiles).

    Returns
    -------
    xr.DataTree
        Root attrs: product metadata (:meth:`S1Product.as_attrs`) and
        ``polarisation``. One child per selected swath (``"IW1"`` ...), holding:

        * ``"<k>"`` (burst index from 0, e.g. ``tree["IW1/3"]``): Dataset with
          ``measurement``, complex64, dims ``(azimuth_time, slant_range_time)``,
          coords ``line``/``pixel`` (line counted in the swath's stacked TIFF,
          which is what the LUTs use) and ``first_valid_sample``/
          ``last_valid_sample`` per line (−1 = invalid line). Attrs: swath,
          burst index/id, first/last valid line (burst-relative), steering
          rate (deg/s and rad/s), radar frequency (Hz), wavelength, azimuth
          time interval, range sampling rate, slant range time, FM-rate and
          data-Doppler polynomials nearest the burst mid time.
        * ``"orbit"``, ``"calibration"``, ``"azimuth_fm_rate"``,
          ``"dc_estimate"`` (xarray-sentinel's layouts), ``"gcp"`` (dims
          ``gcp_line``/``gcp_pixel`` with per-point ``azimuth_time`` and
          ``slant_range_time``; coords ``line``/``pixel``) and ``"noise"``
          (range vectors and every azimuth block; see
          :func:`eolab.io._s1_calib.noise_dataset`), those present.

    Raises
    ------
    ProductTypeError
        For a GRD (no phase: use :func:`open_grd`; sigma0 and ACD work).
    BandError
        Polarisation not in the product.
    AOIError
        The AOI misses every burst of the selected swaths.
    ProductError, CorruptProductError
        Not a SAFE product, missing or truncated files.
    """
    container, man, product, annotations = load_product(path)
    if product.product_type != "SLC":
        raise ProductTypeError(
            f"{product.name} is a {product.product_type} product: it has no phase, so coherence "
            "and interferometry need IW SLC products; sigma0 and ACD still work on it with "
            "open_grd()")
    if product.mode != "IW":
        raise ProductTypeError(f"{product.name} is a {product.mode} product; only IW is supported")
    pol = check_pol(product, pol)
    wanted = [s.upper() for s in swaths] if swaths is not None else list(product.swaths)
    listed = {s for (_, s, _) in man.files}
    unknown = [s for s in wanted if s not in listed]
    if unknown:
        raise ProductError(f"{product.name} has no sub-swath {', '.join(unknown)} (it lists "
                           f"{', '.join(sorted(listed))})")
    geom = aoi_to_crs(aoi, "EPSG:4326") if aoi is not None else None
    common = product.as_attrs()
    tree: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs={**common, "polarisation": pol})}
    footprints_seen = []
    for swath in wanted:
        files = files_for(man, container, swath, pol)
        if "annotation" not in files or "measurement" not in files:
            msg = (f"{product.name}: the {swath} {pol} annotation/measurement listed in "
                   "manifest.safe is missing (incomplete product?)")
            if swaths is not None:
                raise CorruptProductError(msg)
            warnings.warn(msg + "; skipping this swath", UserWarning, stacklevel=2)
            continue
        ann = annotations[f"{swath}/{pol}"]
        timing = parse_swath_timing(ann)
        gcp = _s1_geom.gcp_dataset(ann, product.name, {"swath": swath})
        dt = float(ann.findtext(".//imageInformation/azimuthTimeInterval") or "nan")
        prints = burst_footprints(gcp, timing, dt)
        footprints_seen.extend(prints)
        keep = [k for k, fp in enumerate(prints) if geom is None or fp.intersects(geom)]
        if not keep:
            continue
        if verify:
            check_measurement(container, files["measurement"])
        ann_file = container.fileobj(files["annotation"])
        tiff = files["measurement"]
        pol_ds = xs.open_pol_dataset(
            container.gdal_path(tiff), ann_file, attrs={},
            rasterio_chunks=dict(chunks or _default_chunks(container, tiff)))
        fm = _optional(xs.open_azimuth_fm_rate_dataset, container, files["annotation"], "FM rate")
        dc = _optional(xs.open_dc_estimate_dataset, container, files["annotation"], "Doppler")
        tree[swath] = xr.Dataset(attrs={"swath": swath, "number_of_bursts": len(timing.bursts),
                                        "lines_per_burst": timing.lines_per_burst,
                                        "selected_bursts": keep})
        for k in keep:
            burst = xs.crop_burst_dataset(pol_ds, burst_index=k)
            b = timing.bursts[k]
            attrs = {**common, **_burst_attrs(pol_ds.attrs, timing, k, swath, pol, fm, dc),
                     "footprint_wkt": prints[k].wkt}
            burst = burst.assign_coords(
                first_valid_sample=("azimuth_time", b.first_valid_sample.astype(np.int32)),
                last_valid_sample=("azimuth_time", b.last_valid_sample.astype(np.int32)))
            burst["measurement"].attrs = {**attrs, "long_name": "SLC digital number",
                                          "units": "1"}
            burst.attrs = attrs
            tree[f"{swath}/{k}"] = burst
        tree[f"{swath}/gcp"] = gcp
        orbit = _optional(xs.open_orbit_dataset, container, files["annotation"], "orbit")
        if orbit is not None:
            tree[f"{swath}/orbit"] = orbit
        if fm is not None:
            tree[f"{swath}/azimuth_fm_rate"] = fm
        if dc is not None:
            tree[f"{swath}/dc_estimate"] = dc
        cal = _optional(xs.open_calibration_dataset, container, files.get("calibration"),
                        "calibration")
        if cal is not None:
            tree[f"{swath}/calibration"] = cal
        if "noise" in files:
            tree[f"{swath}/noise"] = _s1_calib.noise_dataset(
                parse_noise(container.xml(files["noise"])), {"swath": swath})
    if len(tree) == 1:
        if geom is not None and footprints_seen:
            import shapely

            bounds = tuple(round(v, 3) for v in shapely.union_all(footprints_seen).bounds)
            raise AOIError(
                f"the AOI {tuple(round(v, 3) for v in geom.bounds)} misses every {pol} burst of "
                f"{product.name} (swaths {', '.join(wanted)}; footprint lon/lat {bounds}); "
                "check the AOI (longitude first) or pick a product of the right track")
        raise CorruptProductError(f"{product.name}: no {pol} swath with annotation and "
                                  "measurement files")
    return xr.DataTree.from_dict(tree)


def iter_bursts(tree: xr.DataTree) -> Iterator[xr.DataArray]:
    """Each burst measurement of an :func:`open_slc` tree, in swath then burst order."""
    for swath in tree.children.values():
        for name in sorted((n for n in swath.children if n.isdigit()), key=int):
            yield swath[name].dataset["measurement"]  # type: ignore[union-attr]


def match_bursts(reference: xr.DataTree, secondary: xr.DataTree, *,
                 tolerance: float = 1.0) -> list[tuple[str, int, int]]:
    """The bursts two :func:`open_slc` trees have in common (same ground area).

    Bursts are matched per swath by ``burst_id`` when both products have one
    (IPF ≥ 3.40), else by their time since the ascending node
    (``azimuth_anx_time``), which repeat passes of one track share to within
    milliseconds; ``tolerance`` (s) must stay below half the burst interval
    (≈ 2.76 s).

    Returns
    -------
    list of (swath, reference burst index, secondary burst index)

    Raises
    ------
    AOIError
        No burst in common (the AOI falls on different bursts of the two
        products, or the products do not overlap).
    """
    pairs = []
    for swath, node in reference.children.items():
        if swath not in secondary.children:
            continue
        ref = [node[n].attrs for n in node.children if n.isdigit()]
        sec = [secondary[swath][n].attrs for n in secondary[swath].children if n.isdigit()]
        for a in sorted(ref, key=lambda x: x["burst_index"]):
            for b in sec:
                if a["burst_id"] >= 0 and b["burst_id"] >= 0:
                    same = a["burst_id"] == b["burst_id"]
                else:
                    same = abs(a["azimuth_anx_time"] - b["azimuth_anx_time"]) <= tolerance
                if same:
                    pairs.append((swath, int(a["burst_index"]), int(b["burst_index"])))
    if not pairs:
        raise AOIError(
            f"{reference.attrs.get('product_name')} and {secondary.attrs.get('product_name')} "
            "have no burst in common over the AOI; check that they cover the AOI on the same "
            "track, or enlarge the AOI")
    return pairs


def valid_mask(burst: xr.DataArray) -> xr.DataArray:
    """Boolean mask of a burst's valid samples (from first/last_valid_sample per line)."""
    first = burst["first_valid_sample"]
    last = burst["last_valid_sample"]
    pixel = burst["pixel"]
    mask = (first >= 0) & (pixel >= first) & (pixel <= last)
    return mask.transpose(*burst.dims).rename("valid")


def open_grd(
    path: str | Path,
    *,
    pol: str = "VV",
    aoi: AOILike | None = None,
    verify: bool = True,
    chunks: dict[str, int] | None = None,
) -> xr.DataTree:
    """Open a GRD (or, for sigma0 only, any product's GRD-like amplitude) lazily.

    Returns
    -------
    xr.DataTree
        Root attrs: product metadata. Child ``image``: ``measurement``
        (uint16 amplitude DN, dims ``(line, pixel)``, coords ``azimuth_time``
        and ``ground_range``; ``tree["image/measurement"]``), cropped to the
        AOI's bounding window in the image (AOI vertices mapped to line/pixel
        through the geolocation grid). Children ``gcp``, ``orbit``,
        ``calibration`` and ``noise`` (those present in the product).

    Raises
    ------
    ProductTypeError
        For an SLC product (use :func:`open_slc`).
    BandError, AOIError, ProductError, CorruptProductError
        As :func:`open_slc`.
    """
    container, man, product, annotations = load_product(path)
    if product.product_type != "GRD":
        raise ProductTypeError(f"{product.name} is a {product.product_type} product; open_grd "
                               "reads GRD products (use open_slc for SLC)")
    pol = check_pol(product, pol)
    swath = product.swaths[0] if product.swaths else "IW"
    files = files_for(man, container, swath, pol)
    if "annotation" not in files or "measurement" not in files:
        raise CorruptProductError(f"{product.name}: the {pol} annotation or measurement listed "
                                  "in manifest.safe is missing (incomplete product?)")
    if verify:
        check_measurement(container, files["measurement"])
    ann = annotations[f"{swath}/{pol}"]
    gcp = _s1_geom.gcp_dataset(ann, product.name, {"swath": swath})
    tiff = files["measurement"]
    pol_ds = xs.open_pol_dataset(
        container.gdal_path(tiff), container.fileobj(files["annotation"]), attrs={},
        rasterio_chunks=dict(chunks or _default_chunks(container, tiff)))
    meas = pol_ds["measurement"]
    meas = meas.swap_dims({d: o for d, o in (("azimuth_time", "line"), ("ground_range", "pixel"))
                           if d in meas.dims})
    if aoi is not None:
        geom = aoi_to_crs(aoi, "EPSG:4326")
        window = _s1_geom.aoi_window(gcp, geom, meas.shape)
        if window is None:
            bounds = tuple(round(v, 3) for v in _s1_geom.grid_footprint(gcp).bounds)
            raise AOIError(f"the AOI {tuple(round(v, 3) for v in geom.bounds)} does not overlap "
                           f"{product.name} (footprint lon/lat {bounds}); check the AOI "
                           "(longitude first) or pick another product")
        meas = meas.isel(line=window[0], pixel=window[1])
    attrs = {**product.as_attrs(), "polarisation": pol, "swath": swath,
             "azimuth_time_interval": float(pol_ds.attrs["azimuth_time_interval"]),
             "range_pixel_spacing": float(pol_ds.attrs["range_pixel_spacing"]),
             "azimuth_pixel_spacing": float(pol_ds.attrs["azimuth_pixel_spacing"]),
             "radar_frequency_hz": float(pol_ds.attrs["radar_frequency"]) * 1e9}
    meas.attrs = {**attrs, "long_name": "GRD amplitude digital number", "units": "1"}
    tree: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs=attrs),
                                   "image": xr.Dataset({"measurement": meas}, attrs=attrs),
                                   "gcp": gcp}
    orbit = _optional(xs.open_orbit_dataset, container, files["annotation"], "orbit")
    if orbit is not None:
        tree["orbit"] = orbit
    cal = _optional(xs.open_calibration_dataset, container, files.get("calibration"),
                    "calibration")
    if cal is not None:
        tree["calibration"] = cal
    if "noise" in files:
        tree["noise"] = _s1_calib.noise_dataset(parse_noise(container.xml(files["noise"])),
                                                {"swath": swath})
    return xr.DataTree.from_dict(tree)
