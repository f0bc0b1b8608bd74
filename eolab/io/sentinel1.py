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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from xarray_sentinel import sentinel1 as xs

from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import AOIError, BandError, CorruptProductError, ProductError, ProductTypeError
from eolab.io import _s1_calib, _s1_geom
from eolab.io._s1_safe import (
    Container,
    Manifest,
    SwathTiming,
    check_measurement,
    files_for,
    open_container,
    parse_manifest,
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
    "calibrate",
    "check_pair",
]

SPEED_OF_LIGHT = 299_792_458.0
_LUT_NAMES = {"sigma0": "sigmaNought", "beta0": "betaNought", "gamma0": "gamma"}


@dataclass(frozen=True)
class S1Product:
    """What :func:`read_s1_metadata` learns from the manifest and the annotations."""

    path: Path
    name: str
    mission: str
    mode: str
    product_type: str
    orbit_pass: str
    absolute_orbit: int
    relative_orbit: int
    start_time: str
    stop_time: str
    ascending_node_time: str
    datatake_id: int
    polarisations: tuple[str, ...]
    swaths: tuple[str, ...]
    lines_per_burst: dict[str, int] = field(default_factory=dict)
    burst_times: dict[str, tuple[np.datetime64, ...]] = field(default_factory=dict)
    burst_ids: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    is_zip: bool = False

    @property
    def burst_count(self) -> dict[str, int]:
        return {s: len(t) for s, t in self.burst_times.items()}

    def as_attrs(self) -> dict[str, Any]:
        return {"product_name": self.name, "mission": self.mission, "mode": self.mode,
                "product_type": self.product_type, "pass": self.orbit_pass,
                "absolute_orbit": self.absolute_orbit, "relative_orbit": self.relative_orbit,
                "start_time": self.start_time, "stop_time": self.stop_time,
                "ascending_node_time": self.ascending_node_time, "source": str(self.path)}


def _load(path: str | Path) -> tuple[Container, Manifest, S1Product, dict[str, ET.Element]]:
    container = open_container(path)
    man = parse_manifest(container)
    name = (container.root.rstrip("/") if container.is_zip and container.root
            else container.path.name)
    name = name.removesuffix(".zip").removesuffix(".SAFE")
    annotations: dict[str, ET.Element] = {}
    lpb, times, ids = {}, {}, {}
    for swath in man.swaths or sorted({s for (_, s, _) in man.files}):
        for pol in man.polarisations:
            rel = man.files.get(("annotation", swath, pol))
            if rel is None or not container.exists(rel):
                continue
            ann = container.xml(rel)
            annotations[f"{swath}/{pol}"] = ann
            if swath not in times:
                timing = parse_swath_timing(ann)
                lpb[swath] = timing.lines_per_burst
                times[swath] = tuple(b.azimuth_time for b in timing.bursts)
                ids[swath] = tuple(b.burst_id for b in timing.bursts)
    if man.product_type == "GRD":  # GRD files are named "iw"; the manifest lists IW1..3
        swaths = tuple(sorted({s for (_, s, _) in man.files}))
    else:
        swaths = tuple(s for s in man.swaths if s in times) or tuple(sorted(times))
    product = S1Product(
        path=container.path, name=name, mission=man.mission, mode=man.mode,
        product_type=man.product_type, orbit_pass=man.orbit_pass,
        absolute_orbit=man.absolute_orbit, relative_orbit=man.relative_orbit,
        start_time=man.start_time, stop_time=man.stop_time,
        ascending_node_time=man.ascending_node_time, datatake_id=man.datatake_id,
        polarisations=man.polarisations, swaths=swaths, lines_per_burst=lpb,
        burst_times=times, burst_ids=ids, is_zip=container.is_zip,
    )
    return container, man, product, annotations


def read_s1_metadata(path: str | Path) -> S1Product:
    """Read a Sentinel-1 product's metadata (manifest + annotations; no pixels).

    Raises
    ------
    ProductError, CorruptProductError
        Missing path, not a Sentinel-1 SAFE product, corrupt archive or XML.
    """
    return _load(path)[2]


def _check_pol(product: S1Product, pol: str) -> str:
    p = str(pol).upper()
    if p not in product.polarisations:
        raise BandError(f"polarisation {pol!r} is not in {product.name} (it has "
                        f"{', '.join(product.polarisations)})")
    return p


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
    except Exception as exc:  # xmlschema/KeyError/ValueError on a damaged file
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
        * ``"orbit"``, ``"gcp"``, ``"calibration"``, ``"noise"``,
          ``"azimuth_fm_rate"``, ``"dc_estimate"`` (those present).

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
    container, man, product, annotations = _load(path)
    if product.product_type != "SLC":
        raise ProductTypeError(
            f"{product.name} is a {product.product_type} product: it has no phase, so coherence "
            "and interferometry need IW SLC products; sigma0 and ACD still work on it with "
            "open_grd()")
    if product.mode != "IW":
        raise ProductTypeError(f"{product.name} is a {product.mode} product; only IW is supported")
    pol = _check_pol(product, pol)
    wanted = [s.upper() for s in swaths] if swaths is not None else list(product.swaths)
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
        pol_ds = xs.open_pol_dataset(container.gdal_path(files["measurement"]), ann_file,
                                     attrs={}, rasterio_chunks=dict(chunks or _default_chunks(container, files["measurement"])))
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
        for key, opener, what in (("orbit", xs.open_orbit_dataset, "orbit"),):
            ds = _optional(opener, container, files["annotation"], what)
            if ds is not None:
                tree[f"{swath}/{key}"] = ds
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
    container, man, product, annotations = _load(path)
    if product.product_type != "GRD":
        raise ProductTypeError(f"{product.name} is a {product.product_type} product; open_grd "
                               "reads GRD products (use open_slc for SLC)")
    pol = _check_pol(product, pol)
    swath = product.swaths[0] if product.swaths else "IW"
    files = files_for(man, container, swath, pol)
    if "annotation" not in files or "measurement" not in files:
        raise CorruptProductError(f"{product.name}: the {pol} annotation or measurement listed "
                                  "in manifest.safe is missing (incomplete product?)")
    if verify:
        check_measurement(container, files["measurement"])
    ann = annotations[f"{swath}/{pol}"]
    gcp = _s1_geom.gcp_dataset(ann, product.name, {"swath": swath})
    pol_ds = xs.open_pol_dataset(container.gdal_path(files["measurement"]),
                                 container.fileobj(files["annotation"]), attrs={},
                                 rasterio_chunks=dict(chunks or _default_chunks(container, files["measurement"])))
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


def calibrate(
    data: xr.DataArray,
    calibration: xr.Dataset | xr.DataArray,
    *,
    noise: xr.Dataset | None = None,
    kind: Literal["sigma0", "beta0", "gamma0"] = "sigma0",
    db: bool = False,
    db_floor: float = -50.0,
    negative: Literal["nan", "clip"] = "nan",
    mask_zero: bool = True,
) -> xr.DataArray:
    """Calibrated backscatter of SLC bursts or GRD amplitudes.

    ``kind = |DN|² / A²`` (or ``(|DN|² − η) / A²`` with ``noise``), ``A`` the
    product's LUT (sigmaNought, betaNought or gamma) bilinearly interpolated
    at the data's ``line``/``pixel`` coords, ``η = noiseRangeLut ×
    noiseAzimuthLut`` (range vectors matched by azimuth time).

    Parameters
    ----------
    data
        A burst ``measurement`` from :func:`open_slc` or the GRD
        ``measurement`` from :func:`open_grd` (any crop of them: the coords
        carry the positions).
    calibration
        The ``calibration`` dataset of the same swath, or one LUT DataArray.
    noise
        The ``noise`` dataset of the same swath; ``None``: no noise removal.
    db
        Return ``10 log10`` with values below ``db_floor`` set to ``db_floor``.
    negative
        After noise removal: ``"nan"`` masks negative powers (default),
        ``"clip"`` sets them to 0 (then to ``db_floor`` in dB).
    mask_zero
        DN = 0 marks invalid samples in S1 products: NaN in the output.

    Returns
    -------
    xr.DataArray
        float32, named ``kind``, units ``"1"`` (linear) or ``"dB"``; the
        data's coords and attrs plus ``noise_corrected`` (0/1).
    """
    if kind not in _LUT_NAMES:
        raise ValueError(f"kind must be one of {sorted(_LUT_NAMES)}, got {kind!r}")
    if negative not in ("nan", "clip"):
        raise ValueError(f"negative must be 'nan' or 'clip', got {negative!r}")
    if isinstance(calibration, xr.Dataset):
        if _LUT_NAMES[kind] not in calibration:
            raise ProductError(f"the calibration dataset has no {_LUT_NAMES[kind]} LUT")
        lut = calibration[_LUT_NAMES[kind]]
    else:
        lut = calibration
    for coord in ("line", "pixel"):
        if coord not in data.coords:
            raise ValueError(f"data needs a {coord!r} coordinate (as open_slc/open_grd give)")
    raw = data.data
    power = (raw.real.astype(np.float32) ** 2 + raw.imag.astype(np.float32) ** 2
             if np.iscomplexobj(raw) else raw.astype(np.float32) ** 2)
    a = _s1_calib.interp_calibration(data, lut)
    if noise is not None:
        start = data.attrs.get("burst_start_time") if "burst_index" in data.attrs else None
        eta = _s1_calib.noise_range(data, noise,
                                    burst_start=np.datetime64(start, "ns") if start else None)
        az = _s1_calib.noise_azimuth(data, noise)
        if az is not None:
            eta = eta * az
        power = power - eta
        power = np.maximum(power, 0) if negative == "clip" else np.where(power < 0, np.nan, power)
    value = power / (a * a)
    if mask_zero:
        value = np.where(raw == 0, np.float32(np.nan), value)
    if db:
        floor = np.float32(10 ** (db_floor / 10))
        value = np.float32(10) * np.log10(np.where(value < floor, floor, value))
    out = xr.DataArray(value.astype(np.float32), dims=data.dims, coords=data.coords,
                       name=kind)
    label = {"sigma0": "sigma nought", "beta0": "beta nought", "gamma0": "gamma nought"}[kind]
    out.attrs = {**data.attrs, "long_name": f"{label} backscatter coefficient"
                 + (" (thermal noise removed)" if noise is not None else ""),
                 "units": "dB" if db else "1", "noise_corrected": int(noise is not None)}
    if db:
        out.attrs["db_floor"] = db_floor
    return out


def check_pair(a: S1Product | str | Path, b: S1Product | str | Path, *, pol: str | None = "VV",
               coherence: bool = False) -> None:
    """Check that two products can be compared (change detection, coherence).

    Raises
    ------
    ProductTypeError
        Different product types, or a GRD when ``coherence=True`` (GRDs have
        no phase; sigma0 and ACD still work).
    ProductError
        Different mode, pass or relative orbit, the same acquisition twice,
        or ``pol`` missing from one of them (``pol=None``: the polarisation
        sets must be equal).
    """
    pa = a if isinstance(a, S1Product) else read_s1_metadata(a)
    pb = b if isinstance(b, S1Product) else read_s1_metadata(b)
    if coherence:
        grd = [p.name for p in (pa, pb) if p.product_type != "SLC"]
        if grd:
            raise ProductTypeError(f"coherence needs two IW SLC products; {', '.join(grd)} "
                                   "is not SLC (no phase) — sigma0 and ACD still work with GRD")
    if pa.product_type != pb.product_type:
        raise ProductTypeError(f"the products are of different types ({pa.name}: "
                               f"{pa.product_type}, {pb.name}: {pb.product_type})")
    for label, va, vb in (("acquisition mode", pa.mode, pb.mode),
                          ("orbit direction (pass)", pa.orbit_pass, pb.orbit_pass),
                          ("relative orbit (track)", pa.relative_orbit, pb.relative_orbit)):
        if va != vb:
            raise ProductError(f"the products have different {label}: {va} ({pa.name}) vs {vb} "
                               f"({pb.name}); change detection needs two acquisitions of the "
                               "same track")
    if pa.start_time == pb.start_time and pa.mission == pb.mission:
        raise ProductError(f"both products are the same acquisition ({pa.name}); give two dates")
    if pol is not None:
        p = str(pol).upper()
        missing = [x.name for x in (pa, pb) if p not in x.polarisations]
        if missing:
            raise ProductError(f"polarisation {p} is missing from {', '.join(missing)} "
                               f"({pa.name}: {'+'.join(pa.polarisations)}, {pb.name}: "
                               f"{'+'.join(pb.polarisations)})")
    elif set(pa.polarisations) != set(pb.polarisations):
        raise ProductError(f"the products have different polarisations: "
                           f"{'+'.join(pa.polarisations)} vs {'+'.join(pb.polarisations)}")
