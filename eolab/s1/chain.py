"""From two IW SLC products to sigma0, coherence and their map grid: the S1-CD chain.

:func:`pair_to_map` runs, for every burst the two products share over the
AOI (:func:`eolab.io.sentinel1.match_bursts`):

1. geometry of both bursts (orbits, timing, TOPS ramp) and coregistration of
   the secondary onto the reference (:func:`eolab.s1.pair.coregister_burst`:
   offsets from the orbits, refined by cross-correlation, deramp → sinc →
   reramp);
2. coherence over a ``window`` (3 × 10 by default) with the flat-earth phase
   of the pair removed (on by default here, unlike
   :func:`eolab.s1.coherence.coherence`: the chain knows the geometry, and a
   140 m baseline turns the phase by about 4 rad across 10 range samples);
3. sigma0 of each date in its own geometry (:func:`eolab.io.sentinel1.calibrate`,
   optionally thermal-noise corrected), multilooked to cells no larger than
   the output resolution (:func:`eolab.s1.multilook.looks_for`) and
   speckle-filtered (Lee, 5 × 5, by default);
4. backward geocoding onto the map grid (:func:`eolab.s1.geocode.map_grid`:
   UTM of the AOI, edges on multiples of the resolution, so the grid is the
   Sentinel-2 outputs' grid), at a constant ellipsoidal height (default: the
   mean height of the product's geolocation grid) or on a DEM.

Overlapping bursts and sub-swaths are merged on the map grid ("debursting"):
each output pixel takes the burst in which it lies deepest inside the valid
area (in metres from the nearest valid edge), which puts the seams in the
middle of the overlaps, as SNAP's TOPS-Deburst does. Pixels outside the AOI
polygon, or covered by no burst pair, are NaN.

Burst-to-burst phase continuity (enhanced spectral diversity) is not needed
for coherence and backscatter, so it is not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from eolab.aoi import AOILike, aoi_to_crs
from eolab.errors import AOIError, ProductError, RasterError

__all__ = ["pair_to_map", "open_pair", "sigma0_pair_to_map", "burst_pair_to_map",
           "BurstPairResult"]


def _noop(_: str) -> None:
    return None


def open_pair(reference: Any, secondary: Any, *, aoi: AOILike, pol: str = "VV"
              ) -> tuple[xr.DataTree, xr.DataTree]:
    """Open two IW SLC products for coherence over an AOI, after checking they pair up.

    ``reference`` and ``secondary`` are paths (SAFE zip or folder) or trees
    already opened with :func:`eolab.io.sentinel1.open_slc`.

    Raises
    ------
    ProductTypeError
        A GRD (no phase: coherence is impossible; sigma0 and ACD work with
        :func:`eolab.io.sentinel1.open_grd`).
    ProductError
        Different relative orbits, passes, modes or polarisations, or the
        same acquisition twice.
    AOIError
        The AOI misses the bursts of either product.
    """
    from eolab.io.sentinel1 import check_pair, open_slc

    def meta(x: Any) -> Any:
        return x.attrs.get("source") if isinstance(x, xr.DataTree) else x

    check_pair(meta(reference), meta(secondary), pol=pol, coherence=True)
    trees = []
    for x in (reference, secondary):
        if isinstance(x, xr.DataTree):
            if str(x.attrs.get("polarisation", pol)).upper() != str(pol).upper():
                raise ProductError(f"{x.attrs.get('product_name')} was opened for "
                                   f"{x.attrs.get('polarisation')}, not {pol}")
            trees.append(x)
        else:
            trees.append(open_slc(x, pol=pol, aoi=aoi))
    return trees[0], trees[1]


def _default_height(tree: xr.DataTree) -> float:
    heights = [float(np.nanmean(node["gcp"].to_dataset()["height"].values))
               for node in tree.children.values() if "gcp" in node.children]
    return float(np.mean(heights)) if heights else 0.0


def _aoi_mask(grid: xr.DataArray, aoi: AOILike) -> np.ndarray:
    from rasterio.features import geometry_mask

    geom = aoi_to_crs(aoi, grid.rio.crs)
    return geometry_mask([geom], out_shape=grid.shape, transform=grid.rio.transform(),
                         invert=True, all_touched=False)


def _burst_window(grid: xr.DataArray, footprint_wkt: str, *, pad: float = 1000.0
                  ) -> tuple[slice, slice] | None:
    """Rows and columns of ``grid`` around a burst's lon/lat footprint (``pad`` metres more)."""
    import shapely

    x0, y0, x1, y1 = aoi_to_crs(shapely.from_wkt(footprint_wkt), grid.rio.crs).bounds
    xs, ys = grid.x.values, grid.y.values
    cols = np.flatnonzero((xs >= x0 - pad) & (xs <= x1 + pad))
    rows = np.flatnonzero((ys >= y0 - pad) & (ys <= y1 + pad))
    if cols.size == 0 or rows.size == 0:
        return None
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _margin(coords: xr.Dataset, geom: Any, *, az_m: float, rg_m: float) -> np.ndarray:
    """Metres from each output pixel to the nearest edge of the burst's valid area."""
    line, pixel = coords["line"].values, coords["pixel"].values
    m = np.minimum(np.minimum(line - geom.first_valid_line, geom.last_valid_line - line) * az_m,
                   np.minimum(pixel - geom.first_valid_sample,
                              geom.last_valid_sample - pixel) * rg_m)
    return m.astype(np.float32)


class BurstPairResult(NamedTuple):
    """:func:`burst_pair_to_map`'s result: layers on the grid, merge margin, looks, offsets."""

    layers: dict[str, np.ndarray]
    margin: np.ndarray
    looks: tuple[int, int]
    offsets: dict[str, Any]


def burst_pair_to_map(
    reference: xr.DataArray,
    secondary: xr.DataArray,
    ref_geometry: Any,
    sec_geometry: Any,
    grid: xr.DataArray,
    *,
    calibration: tuple[xr.Dataset, xr.Dataset],
    incidence: float,
    resolution: float = 20.0,
    noise: tuple[xr.Dataset, xr.Dataset] | None = None,
    window: tuple[int, int] = (3, 10),
    height: float | xr.DataArray = 0.0,
    height_grid: float | xr.DataArray = 0.0,
    flat_earth: bool = True,
    refine: bool = True,
    speckle_window: int | None = 5,
    threads: int | None = None,
) -> BurstPairResult:
    """One burst pair through the S1-CD chain onto (part of) the map grid.

    Parameters
    ----------
    reference, secondary
        Burst ``measurement`` DataArrays (complex, with ``line``/``pixel``
        coords and the burst attrs of :func:`eolab.io.sentinel1.open_slc`).
    ref_geometry, sec_geometry
        Their :func:`eolab.s1.pair.burst_geometry`.
    grid
        The output grid (y, x) with CRS, e.g. the part of
        :func:`eolab.s1.geocode.map_grid` around the burst.
    calibration, noise
        The swaths' calibration (and noise) datasets, reference first.
    incidence
        Mean incidence angle (degrees) of the swath, for the ground range spacing.
    height, height_grid
        Ground height for the coregistration (constant or DEM) and on ``grid``.

    Returns
    -------
    BurstPairResult
        ``layers`` (``coherence``, ``sigma0_1``, ``sigma0_2``: float32 on
        ``grid``, NaN outside the burst), ``margin`` (metres from the burst's
        valid edge, for merging), ``looks`` and coregistration figures.

    Raises
    ------
    AOIError
        The burst does not reach ``grid``.
    """
    from eolab.io.sentinel1 import calibrate
    from eolab.s1.coherence import coherence
    from eolab.s1.geocode import geocode, radar_coordinates
    from eolab.s1.multilook import lee_filter, looks_for, multilook
    from eolab.s1.pair import coregister_burst

    m1 = np.asarray(reference.values, dtype=np.complex64)
    m2 = np.asarray(secondary.values, dtype=np.complex64)
    co = coregister_burst(m1, m2, ref_geometry, sec_geometry, height=height, refine=refine,
                          threads=threads)
    figures = {"az_offset_mean": float(co["az_offset"].mean()),
               "rg_offset_mean": float(co["rg_offset"].mean()), **co.attrs}
    flat = co["flat_phase"].values if flat_earth else None
    coh = coherence(m1, co["secondary"].values, window=window, flat_phase=flat,
                    threads=threads).values
    del co, flat
    az_m = float(reference.attrs["azimuth_pixel_spacing"])
    rg_m = float(reference.attrs["range_pixel_spacing"]) / np.sin(np.radians(incidence))
    looks = looks_for(resolution, azimuth_spacing=az_m, ground_range_spacing=rg_m)
    coh_ml = multilook(coh, looks)
    del coh
    sig = []
    nz = noise or (None, None)
    for burst, cal, nzi, data in ((reference, calibration[0], nz[0], m1),
                                  (secondary, calibration[1], nz[1], m2)):
        s0 = multilook(calibrate(burst.copy(data=data), cal, noise=nzi).values, looks)
        if speckle_window:
            s0 = lee_filter(s0, window=speckle_window, looks=looks[0] * looks[1])
        sig.append(s0)
    del m1, m2
    c1 = radar_coordinates(grid, ref_geometry.orbit, ref_geometry.grid, height=height_grid)
    c2 = radar_coordinates(grid, sec_geometry.orbit, sec_geometry.grid, height=height_grid)
    layers = {"coherence": geocode(coh_ml, c1, looks=looks).values,
              "sigma0_1": geocode(sig[0], c1, looks=looks).values,
              "sigma0_2": geocode(sig[1], c2, looks=looks).values}
    return BurstPairResult(layers, _margin(c1, ref_geometry, az_m=az_m, rg_m=rg_m), looks,
                           figures)


def pair_to_map(
    reference: Any,
    secondary: Any,
    *,
    aoi: AOILike,
    resolution: float = 20.0,
    pol: str = "VV",
    window: tuple[int, int] = (3, 10),
    height: float | xr.DataArray | None = None,
    flat_earth: bool = True,
    refine: bool = True,
    speckle_window: int | None = 5,
    noise: bool = False,
    step: Callable[[str], Any] = _noop,
    progress: bool = False,
    threads: int | None = None,
) -> xr.Dataset:
    """Sigma0 of both dates and their coherence on a map grid, from two IW SLC products.

    Parameters
    ----------
    reference, secondary
        Date 1 and date 2: paths to IW SLC products (SAFE zip or folder) or
        :func:`eolab.io.sentinel1.open_slc` trees.
    aoi
        Area of interest (WKT, shapely, GeoDataFrame...; EPSG:4326 unless
        it says otherwise): the output grid covers its bounds, pixels outside
        the polygon are NaN.
    resolution
        Output pixel size in metres (the tutorial's ``-r``).
    pol
        Polarisation (``"VV"`` default, ``"VH"``...).
    window
        Coherence window (azimuth, range) in SLC samples.
    height
        Ground height: a constant (m above the WGS84 ellipsoid), a DEM
        DataArray with a CRS (used on the map grid, and around each burst for
        the coregistration), or None: the mean height of the reference
        product's geolocation grid.
    flat_earth
        Remove the pair's flat-earth phase before the coherence (default).
    refine
        Refine the geometric offsets by cross-correlation (default).
    speckle_window
        Lee filter box on the multilooked sigma0 (odd; None: no filter).
    noise
        Subtract the annotated thermal noise from sigma0.
    step
        Called with a short label before each stage (for a CLI's messages).
    progress
        Show a progress bar over the burst pairs.
    threads
        Threads for resampling and coherence (default: up to 4).

    Returns
    -------
    xr.Dataset
        On the map grid (y, x) with CRS: ``sigma0_1`` and ``sigma0_2``
        (float32, linear power, units "1"), ``coherence`` (float32, 0–1);
        attrs ``date_1``/``date_2`` (YYYYMMDD), ``datetime_1``/``datetime_2``,
        ``product_1``/``product_2``, ``polarisation``, ``resolution``,
        ``coherence_window``, ``flat_earth_removed``, ``looks``,
        ``speckle_filter``, ``height``, ``bursts`` (the pairs used) and
        per-pair coregistration figures (``offsets``).

    Raises
    ------
    ProductTypeError, ProductError, AOIError, CorruptProductError
        As :func:`open_pair`; a burst whose measurement cannot be read.
    RasterError
        Bad resolution or window.
    """
    from tqdm.auto import tqdm

    from eolab.io.sentinel1 import match_bursts
    from eolab.s1.geocode import map_grid
    from eolab.s1.pair import burst_geometry

    if len(tuple(window)) != 2 or min(int(v) for v in window) < 1:
        raise RasterError(f"window must be two positive sizes (azimuth, range); got {window!r}")
    step("open")
    tree1, tree2 = open_pair(reference, secondary, aoi=aoi, pol=pol)
    grid = map_grid(aoi, resolution=resolution)
    inside_aoi = _aoi_mask(grid, aoi)
    pairs = match_bursts(tree1, tree2)
    if height is None:
        height = _default_height(tree1)
    dem_grid: float | xr.DataArray = height
    if isinstance(height, xr.DataArray):
        from rasterio.enums import Resampling

        if height.rio.crs is None:
            raise RasterError("the DEM has no CRS; write one with dem.rio.write_crs(...)")
        dem_grid = height.squeeze(drop=True).rio.reproject_match(
            grid, resampling=Resampling.bilinear).astype(np.float64)
    shape = grid.shape
    best = np.full(shape, -np.inf, np.float32)
    layers = {name: np.full(shape, np.nan, np.float32)
              for name in ("sigma0_1", "sigma0_2", "coherence")}
    offsets: list[dict[str, Any]] = []
    looks_used: tuple[int, int] | None = None
    step("bursts")
    for swath, k1, k2 in tqdm(pairs, desc="S1 burst pairs", unit="burst", disable=not progress):
        b1 = tree1[f"{swath}/{k1}"].to_dataset()["measurement"]
        window_rc = _burst_window(grid, b1.attrs["footprint_wkt"])
        if window_rc is None:
            continue  # the burst lies outside the output grid
        sub = grid[window_rc]
        sub_height = dem_grid[window_rc] if isinstance(dem_grid, xr.DataArray) else dem_grid
        g1 = burst_geometry(tree1, swath, k1)
        g2 = burst_geometry(tree2, swath, k2)
        b2 = tree2[f"{swath}/{k2}"].to_dataset()["measurement"]
        incidence = float(np.nanmean(tree1[f"{swath}/gcp"].to_dataset()["incidenceAngle"]))
        try:
            result = burst_pair_to_map(
                b1, b2, g1, g2, sub,
                calibration=(tree1[f"{swath}/calibration"].to_dataset(),
                             tree2[f"{swath}/calibration"].to_dataset()),
                noise=((tree1[f"{swath}/noise"].to_dataset(),
                        tree2[f"{swath}/noise"].to_dataset()) if noise else None),
                incidence=incidence, resolution=resolution, window=window, height=height,
                height_grid=sub_height, flat_earth=flat_earth, refine=refine,
                speckle_window=speckle_window, threads=threads)
        except AOIError:
            continue  # this burst pair lies outside the output grid
        on_map, margin = result.layers, result.margin
        looks_used = result.looks
        offsets.append({"swath": swath, "burst_1": k1, "burst_2": k2, **result.offsets})
        here = best[window_rc]
        take = (margin > here) & np.isfinite(on_map["coherence"]) & (margin >= 0)
        for name, values in on_map.items():
            layers[name][window_rc][take] = values[take]
        here[take] = margin[take]
    if not np.isfinite(best).any():
        raise AOIError("no burst pair of the two products covers the AOI's map grid")
    step("map")
    for values in layers.values():
        values[~inside_aoi] = np.nan
    dims = ("y", "x")
    crs = grid.rio.crs
    out = xr.Dataset(coords={"y": grid.y, "x": grid.x})
    meta = [(tree1, "1"), (tree2, "2")]
    for tree, i in meta:
        out[f"sigma0_{i}"] = xr.DataArray(layers[f"sigma0_{i}"], dims=dims)
        out[f"sigma0_{i}"].attrs = {"long_name": f"sigma0 {pol}, date {i}", "units": "1",
                                    "polarisation": pol,
                                    "datetime": str(tree.attrs["start_time"])}
    out["coherence"] = xr.DataArray(layers["coherence"], dims=dims)
    out["coherence"].attrs = {"long_name": f"interferometric coherence {pol}", "units": "1",
                              "coherence_window": list(window)}
    out.attrs = {
        "date_1": _ymd(tree1.attrs["start_time"]), "date_2": _ymd(tree2.attrs["start_time"]),
        "datetime_1": str(tree1.attrs["start_time"]), "datetime_2": str(tree2.attrs["start_time"]),
        "product_1": tree1.attrs["product_name"], "product_2": tree2.attrs["product_name"],
        "polarisation": str(pol).upper(), "resolution": float(resolution),
        "coherence_window": list(window), "flat_earth_removed": int(flat_earth),
        "looks": list(looks_used or (1, 1)),
        "speckle_filter": f"lee {speckle_window}x{speckle_window}" if speckle_window else "none",
        "noise_corrected": int(noise),
        "height": (f"{height:.1f} m" if not isinstance(height, xr.DataArray) else "DEM"),
        "bursts": [f"{o['swath']}:{o['burst_1']}-{o['burst_2']}" for o in offsets],
        "offsets": [{k: v for k, v in o.items()} for o in offsets],
    }
    return out.rio.write_crs(crs)


def _ymd(value: Any) -> str:
    return str(np.datetime64(str(value).replace("Z", ""), "D")).replace("-", "")



def _dem_on(grid: xr.DataArray, height: float | xr.DataArray) -> float | xr.DataArray:
    if not isinstance(height, xr.DataArray):
        return float(height)
    from rasterio.enums import Resampling

    if height.rio.crs is None:
        raise RasterError("the DEM has no CRS; write one with dem.rio.write_crs(...)")
    return height.squeeze(drop=True).rio.reproject_match(
        grid, resampling=Resampling.bilinear).astype(np.float64)


def _slc_sigma0_to_map(tree: xr.DataTree, grid: xr.DataArray, dem_grid: float | xr.DataArray,
                       *, resolution: float, speckle_window: int | None, noise: bool
                       ) -> np.ndarray:
    """Sigma0 of every burst of an SLC tree, each in its own geometry, merged on ``grid``."""
    from eolab.io.sentinel1 import calibrate
    from eolab.s1.geocode import geocode, radar_coordinates
    from eolab.s1.multilook import lee_filter, looks_for, multilook
    from eolab.s1.pair import burst_geometry

    best = np.full(grid.shape, -np.inf, np.float32)
    layer = np.full(grid.shape, np.nan, np.float32)
    for swath, node in tree.children.items():
        incidence = float(np.nanmean(node["gcp"].to_dataset()["incidenceAngle"]))
        cal = node["calibration"].to_dataset()
        nz = node["noise"].to_dataset() if noise and "noise" in node.children else None
        for name in sorted((n for n in node.children if n.isdigit()), key=int):
            burst = node[name].to_dataset()["measurement"]
            window_rc = _burst_window(grid, burst.attrs["footprint_wkt"])
            if window_rc is None:
                continue
            sub = grid[window_rc]
            sub_h = dem_grid[window_rc] if isinstance(dem_grid, xr.DataArray) else dem_grid
            geom = burst_geometry(tree, swath, int(name))
            az_m = float(burst.attrs["azimuth_pixel_spacing"])
            rg_m = float(burst.attrs["range_pixel_spacing"]) / np.sin(np.radians(incidence))
            looks = looks_for(resolution, azimuth_spacing=az_m, ground_range_spacing=rg_m)
            s0 = multilook(calibrate(burst, cal, noise=nz).values, looks)
            if speckle_window:
                s0 = lee_filter(s0, window=speckle_window, looks=looks[0] * looks[1])
            coords = radar_coordinates(sub, geom.orbit, geom.grid, height=sub_h)
            try:
                values = geocode(s0, coords, looks=looks).values
            except AOIError:
                continue
            margin = _margin(coords, geom, az_m=az_m, rg_m=rg_m)
            here = best[window_rc]
            take = (margin > here) & np.isfinite(values) & (margin >= 0)
            layer[window_rc][take] = values[take]
            here[take] = margin[take]
    return layer


def sigma0_pair_to_map(
    reference: Any,
    secondary: Any,
    *,
    aoi: AOILike,
    resolution: float = 20.0,
    pol: str = "VV",
    height: float | xr.DataArray | None = None,
    speckle_window: int | None = 5,
    noise: bool = False,
) -> xr.Dataset:
    """Sigma0 of two dates on the map grid, without coherence: SLC or GRD products.

    What the ACD composite and the SAR flood need. No coregistration is
    involved: each date is calibrated, multilooked, speckle-filtered and
    geocoded with its own geometry (SLC: orbit and zero-Doppler, with
    ``height`` as in :func:`pair_to_map`; GRD: the geolocation grid,
    :func:`eolab.s1.grd.grd_to_map`). The two products must still be from
    one track and polarisation (:func:`eolab.io.sentinel1.check_pair`).

    Returns
    -------
    xr.Dataset
        ``sigma0_1``, ``sigma0_2`` (float32, linear) on the grid, with the
        date attrs of :func:`pair_to_map`.
    """
    from eolab.io.sentinel1 import check_pair, open_slc, read_s1_metadata
    from eolab.s1.geocode import map_grid
    from eolab.s1.grd import grd_to_map

    check_pair(reference, secondary, pol=pol)
    grid = map_grid(aoi, resolution=resolution)
    inside = _aoi_mask(grid, aoi)
    out = xr.Dataset(coords={"y": grid.y, "x": grid.x})
    attrs: dict[str, Any] = {}
    for i, path in (("1", reference), ("2", secondary)):
        meta = read_s1_metadata(path)
        if meta.product_type == "GRD":
            values = grd_to_map(path, aoi=aoi, resolution=resolution, pol=pol,
                                speckle_window=speckle_window, noise=noise).values
        else:
            tree = open_slc(path, pol=pol, aoi=aoi)
            h = _default_height(tree) if height is None else height
            values = _slc_sigma0_to_map(tree, grid, _dem_on(grid, h), resolution=resolution,
                                        speckle_window=speckle_window, noise=noise)
        values[~inside] = np.nan
        if not np.isfinite(values).any():
            raise AOIError(f"{meta.name} has no valid backscatter over the AOI")
        out[f"sigma0_{i}"] = xr.DataArray(values, dims=("y", "x"))
        out[f"sigma0_{i}"].attrs = {"long_name": f"sigma0 {pol}, date {i}", "units": "1",
                                    "polarisation": pol, "datetime": str(meta.start_time)}
        attrs.update({f"date_{i}": _ymd(meta.start_time), f"datetime_{i}": str(meta.start_time),
                      f"product_{i}": meta.name, f"product_type_{i}": meta.product_type})
    out.attrs = {**attrs, "polarisation": str(pol).upper(), "resolution": float(resolution),
                 "speckle_filter": (f"lee {speckle_window}x{speckle_window}" if speckle_window
                                    else "none"), "noise_corrected": int(noise)}
    return out.rio.write_crs(grid.rio.crs)
