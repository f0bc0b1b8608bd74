"""Deterministic simulation of the tutorial's flood scene (exercise 1).

A seeded model of the March 2021 flood north-west of Sydney on the real
Sentinel-2 tile grid T56HKH (EPSG:32756): terrain with a river valley, land
cover, permanent water, a flood on the second date, clouds, shadows, haze and
sensor noise, rendered as L2A bottom-of-atmosphere reflectance for the twelve
L2A bands at their native resolutions. Everything is simulated; the truth
(land cover, flood, permanent water, clouds) is known exactly.

Every quantity is a function of the map position and the seed only: random
fields are cubic B-spline lattices and per-pixel hashes anchored to the full
scene, so a smaller ``window`` reproduces exactly the matching part of the
full scene. Values that cross a threshold or a rounding step are computed in
float64 and stored on exact binary grids, so that the same seed gives the same
bytes on every platform (the checksum registry relies on it).

The model, its class table and its spectra are described in
``data_samples/README.md``. Layout: ``_flood_spec`` (constants, spectra),
``_flood_fields`` (random fields, hashes), ``_flood_world`` (what a seed
decides scene-wide: rivers, terrain, flood, weather), ``_flood_landcover``
(10 m land cover of a window); this module renders windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from eolab.errors import AOIError, BandError
from eolab.samples._flood_fields import _Grid, _hash, _release_memory, _snap, _workers
from eolab.samples._flood_landcover import _classify
from eolab.samples._flood_spec import (
    _PSF_W,
    _SHADOW_DEPTH,
    BAND_RESOLUTION,
    BANDS,
    CLASS_ENDMEMBERS,
    CLOUD_CLASSES,
    DATES,
    DEFAULT_SEED,
    ENDMEMBERS,
    EPSG,
    FULL_WINDOW,
    GENERATION_TIMES,
    GENERATOR_VERSION,
    LANDCOVER_CLASSES,
    NOISE_SIGMA,
    SENSING_TIMES,
    TILE_ID,
    TILE_ORIGIN,
)
from eolab.samples._flood_world import _world

__all__ = [
    "BANDS",
    "BAND_RESOLUTION",
    "CLASS_ENDMEMBERS",
    "CLOUD_CLASSES",
    "DATES",
    "DEFAULT_SEED",
    "ENDMEMBERS",
    "EPSG",
    "FULL_WINDOW",
    "GENERATION_TIMES",
    "GENERATOR_VERSION",
    "LANDCOVER_CLASSES",
    "NOISE_SIGMA",
    "SENSING_TIMES",
    "TILE_ID",
    "TILE_ORIGIN",
    "FloodScene",
    "simulate_flood_scene",
]


@dataclass(frozen=True, eq=False)
class FloodScene:
    """The simulated scene: truth and reflectance on the T56HKH grid (EPSG:32756).

    Truth rasters are on the 20 m grid; ``*_10m`` on the 10 m grid. Reflectance
    dictionaries map a date (``"20210315"``, ``"20210325"``) to a dict of band ->
    float32 array at the band's native resolution (:data:`BAND_RESOLUTION`).
    ``reflectance`` is noise-free (surface, clouds, shadows, haze); ``noisy``
    adds the sensor noise and is quantised to the product's 1e-4 step (DN >= 1),
    i.e. what a reader of the written products returns.
    """

    seed: int
    bounds: tuple[float, float, float, float]
    landcover: np.ndarray          # uint8 class codes (LANDCOVER_CLASSES), 20 m
    flood: np.ndarray              # bool, flooded on date 2 (never permanent water), 20 m
    permanent_water: np.ndarray    # bool, 20 m
    clouds: dict[str, np.ndarray]  # uint8 CLOUD_CLASSES per date, 20 m
    scl: dict[str, np.ndarray]     # uint8 Sen2Cor-style scene classification per date, 20 m
    dem: np.ndarray                # float32 terrain height (m), 20 m
    flood_level: np.ndarray        # float32 flood water surface (m) of the nearest channel, 20 m
    landcover_10m: np.ndarray
    flood_10m: np.ndarray
    permanent_water_10m: np.ndarray
    reflectance: dict[str, dict[str, np.ndarray]]
    noisy: dict[str, dict[str, np.ndarray]]
    crs: str = f"EPSG:{EPSG}"
    dates: tuple[str, str] = DATES

    def transform(self, resolution: int = 20) -> Affine:
        """Affine transform of the grid at ``resolution`` (10, 20 or 60 m)."""
        return Affine(resolution, 0.0, self.bounds[0], 0.0, -resolution, self.bounds[3])

    def shape(self, resolution: int = 20) -> tuple[int, int]:
        x0, y0, x1, y1 = self.bounds
        return round((y1 - y0) / resolution), round((x1 - x0) / resolution)


def _check_window(window: Sequence[float] | None) -> tuple[float, float, float, float]:
    if window is None:
        return FULL_WINDOW
    if len(window) != 4:
        raise AOIError(f"window must be (minx, miny, maxx, maxy) in EPSG:{EPSG}, got {window!r}")
    ox, oy = TILE_ORIGIN
    x0 = ox + math.floor((float(window[0]) - ox) / 60) * 60
    x1 = ox + math.ceil((float(window[2]) - ox) / 60) * 60
    y1 = oy - math.floor((oy - float(window[3])) / 60) * 60
    y0 = oy - math.ceil((oy - float(window[1])) / 60) * 60
    fx0, fy0, fx1, fy1 = FULL_WINDOW
    x0, y0, x1, y1 = max(x0, fx0), max(y0, fy0), min(x1, fx1), min(y1, fy1)
    if x0 >= x1 or y0 >= y1:
        raise AOIError(f"window {tuple(window)} does not overlap the simulated scene "
                       f"{FULL_WINDOW} (EPSG:{EPSG}); give bounds inside it")
    return (x0, y0, x1, y1)


def _blocks(a: np.ndarray, f: int) -> np.ndarray:
    ny, nx = a.shape
    return a.reshape(ny // f, f, nx // f, f)


class _Renderer:
    """The scene in a window: classified 10 m state, renders bands per date."""

    def __init__(self, seed: int, window: Sequence[float] | None, *, progress: Any = None) -> None:
        self.bounds = _check_window(window)
        self.world = _world(int(seed))
        x0, y0, x1, y1 = self.bounds
        # 10 m grid with a one-pixel margin for the PSF
        xs = np.arange(x0 - 5, x1 + 10, 10.0)
        ys = np.arange(y1 + 5, y0 - 10, -10.0)
        grid = _Grid(xs, ys)
        w = self.world
        fx0, _, _, fy1 = FULL_WINDOW
        col = np.clip(np.floor((xs - fx0) / 20).astype(int), 0, w.region20.shape[1] - 1)
        row = np.clip(np.floor((fy1 - ys) / 20).astype(int), 0, w.region20.shape[0] - 1)
        state: dict[str, np.ndarray] = {}
        step = 96

        def strip(r0: int) -> tuple[int, int, dict[str, np.ndarray]]:
            r1 = min(r0 + step, ys.size)
            return r0, r1, _classify(w, grid.rows(r0, r1), w.region20[row[r0:r1, None], col[None, :]])

        _classify(w, grid.rows(0, 1), w.region20[row[:1, None], col[None, :]])  # warm caches
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            for r0, r1, part in pool.map(strip, range(0, ys.size, step)):
                for k, v in part.items():
                    if k not in state:
                        state[k] = np.empty((ys.size, xs.size), v.dtype)
                    state[k][r0:r1] = v
                if progress is not None:
                    progress.update((r1 - r0) / ys.size)
        self.state = state
        self._atm: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self.truth = self._truth()
        _release_memory()

    # -- truth at 20 m
    def _truth(self) -> dict[str, Any]:
        s = {k: v[1:-1, 1:-1] for k, v in self.state.items()}
        counts = np.stack([_blocks(s["cls"] == c, 2).sum(axis=(1, 3), dtype=np.uint8)
                           for c in range(1, 7)])
        perm = counts[0] >= 2
        landcover = (np.argmax(counts[1:], axis=0) + 2).astype(np.uint8)
        landcover[perm] = 1
        flood = (_blocks(s["flood"], 2).sum(axis=(1, 3)) >= 2) & ~perm
        ow = _blocks(s["ow"], 2).mean(axis=(1, 3), dtype=np.float64)
        w = self.world
        fx0, _, _, fy1 = FULL_WINDOW
        x0, y0, x1, y1 = self.bounds
        c0, r0 = round((x0 - fx0) / 20), round((fy1 - y1) / 20)
        ny, nx = round((y1 - y0) / 20), round((x1 - x0) / 20)
        clouds, scl = {}, {}
        for i, date in enumerate(DATES):
            atm = self._atmosphere(date, 20)
            code = np.zeros((ny, nx), np.uint8)
            code[atm["cirrus"] > 0] = 3
            code[atm["shadow"] > 0] = 2
            code[atm["cloud"] > 0] = 1
            clouds[date] = code
            veg = _blocks(s[f"veg{i + 1}"], 2).mean(axis=(1, 3)) >= 0.5
            wet = perm | ((ow >= 0.5) if i == 1 else False)
            base = np.where(wet, 6, np.where(veg, 4, 5)).astype(np.uint8)
            base[code == 3] = 10
            base[code == 2] = 3
            base[code == 1] = np.where(atm["cloud"][code == 1] >= 0.5, 9, 8)
            scl[date] = base
        return {"landcover": landcover, "flood": flood, "perm": perm, "clouds": clouds, "scl": scl,
                "dem": w.dem20[r0:r0 + ny, c0:c0 + nx].copy(),
                "level": w.level20[r0:r0 + ny, c0:c0 + nx].copy()}

    def grid(self, res: int) -> _Grid:
        x0, y0, x1, y1 = self.bounds
        return _Grid(np.arange(x0 + res / 2, x1, float(res)), np.arange(y1 - res / 2, y0, -float(res)))

    def _atmosphere(self, date: str, res: int, rows: tuple[int, int] | None = None
                    ) -> dict[str, np.ndarray]:
        """Snapped (float32) atmosphere fields; 20 and 60 m grids are cached."""
        key = (date, res)
        if rows is None and key in self._atm:
            return self._atm[key]
        grid = self.grid(res) if rows is None else self.grid(res).rows(*rows)
        atm = {k: _snap(v) for k, v in self.world.atmosphere(date, grid).items()}
        if rows is None and res > 10:
            self._atm[key] = atm
        return atm

    def render(self, date: str, bands: Iterable[str], *, clean: bool = True
               ) -> dict[str, tuple[np.ndarray | None, np.ndarray]]:
        """Render bands of a date: ``{band: (noise-free or None, noisy)}``, float32, native res.

        Pure pixels mix two endmembers per class; 10 m bands pass a 3x3 PSF,
        20 m and 60 m bands are area means of the 10 m pure pixels (linear
        mixing through per-class abundances). Then shadow, haze, cirrus, cloud,
        and the noise.
        """
        if date not in DATES:
            raise ValueError(f"unknown date {date!r}; one of {DATES}")
        names = list(bands)
        for band in names:
            if band not in BAND_RESOLUTION:
                raise BandError(f"unknown band {band!r}; the L2A bands are {', '.join(BANDS)}")
        di = DATES.index(date)
        out: dict[str, tuple[np.ndarray | None, np.ndarray]] = {}
        ten = [b for b in names if BAND_RESOLUTION[b] == 10]
        if ten:
            self._render10(di, ten, out, clean)
        coarse = [b for b in names if BAND_RESOLUTION[b] > 10]
        if coarse:
            pa, pb, pf = self._abundances(di)
            for res in (20, 60):
                group = [b for b in coarse if BAND_RESOLUTION[b] == res]
                if not group:
                    continue
                if res == 60:
                    pa, pb = (_blocks_nd(p, 3) for p in (pa, pb))
                    pf = _blocks(pf, 3).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
                atm = self._atmosphere(date, res)
                for band in group:
                    b = BANDS.index(band)
                    a_tab, b_tab = _tables(b)
                    surf = np.float32(ENDMEMBERS["turbid water"][b]) * pf
                    for i in range(6):
                        surf += a_tab[i + 1] * pa[i]
                        surf += b_tab[i + 1] * pb[i]
                    obs = _observe(surf, atm, b)
                    out[band] = (obs if clean else None, self._noisy(obs, di, b, res, None))
        return {band: out[band] for band in names}

    def _render10(self, di: int, bands: list[str], out: dict[str, Any], clean: bool) -> None:
        s = self.state
        date = DATES[di]
        ny, nx = s["cls"].shape[0] - 2, s["cls"].shape[1] - 2
        res = {band: (np.empty((ny, nx), np.float32) if clean else None,
                      np.empty((ny, nx), np.float32)) for band in bands}
        w, c = np.float32(_PSF_W), np.float32(1 - 2 * _PSF_W)

        def strip(r0: int) -> None:
            r1 = min(r0 + 128, ny)
            cls, m, k = (s[n][r0:r1 + 2] for n in ("cls", f"m{di + 1}", "k"))
            if di == 1:
                k = np.where(cls == 6, k * np.float32(0.94), k)   # soil wet after the rain
            ow = s["ow"][r0:r1 + 2] if di == 1 else None
            atm = self._atmosphere(date, 10, (r0, r1))
            for band in bands:
                b = BANDS.index(band)
                a_tab, b_tab = _tables(b)
                surf = b_tab[cls]
                surf += m * (a_tab[cls] - surf)
                surf *= k
                if ow is not None:
                    surf += ow * (np.float32(ENDMEMBERS["turbid water"][b]) - surf)
                rows = w * (surf[:-2] + surf[2:]) + c * surf[1:-1]
                surf = w * (rows[:, :-2] + rows[:, 2:]) + c * rows[:, 1:-1]
                obs = _observe(surf, atm, b)
                clean_arr, noisy_arr = res[band]
                if clean_arr is not None:
                    clean_arr[r0:r1] = obs
                noisy_arr[r0:r1] = self._noisy(obs, di, b, 10, (r0, r1))

        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            list(pool.map(strip, range(0, ny, 128)))
        out.update(res)

    def _abundances(self, di: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-class 20 m area means of ``k*m`` and ``k*(1-m)`` (land), and of flood water."""
        s = self.state
        inner = (slice(1, -1), slice(1, -1))
        cls, m, k = s["cls"][inner], s[f"m{di + 1}"][inner], s["k"][inner]
        if di == 1:
            k = np.where(cls == 6, k * np.float32(0.94), k)
        land = k if di == 0 else k * (1 - s["ow"][inner])
        wa = land * m
        wb = land - wa
        del land
        ny, nx = cls.shape[0] // 2, cls.shape[1] // 2
        pa = np.zeros((6, ny, nx), np.float32)
        pb = np.zeros((6, ny, nx), np.float32)
        quarter = np.float32(0.25)
        for dy in (0, 1):          # the four 10 m pixels of each 20 m pixel, in a fixed order
            for dx in (0, 1):
                c = cls[dy::2, dx::2]
                a_, b_ = wa[dy::2, dx::2] * quarter, wb[dy::2, dx::2] * quarter
                for i in range(6):
                    sel = c == i + 1
                    np.add(pa[i], a_, out=pa[i], where=sel)
                    np.add(pb[i], b_, out=pb[i], where=sel)
        pf = np.zeros((ny, nx), np.float32)
        if di == 1:
            ow = s["ow"][inner]
            for dy in (0, 1):
                for dx in (0, 1):
                    pf += ow[dy::2, dx::2] * quarter
        return pa, pb, pf

    def _noisy(self, obs: np.ndarray, di: int, b: int, res: int,
               rows: tuple[int, int] | None) -> np.ndarray:
        noisy = obs + np.float32(NOISE_SIGMA) * self._noise(di, b, res, rows)
        noisy = np.maximum(np.round(noisy * np.float32(1e4)), np.float32(1))
        noisy /= np.float32(1e4)
        return noisy

    def _noise(self, date_index: int, band_index: int, res: int,
               rows: tuple[int, int] | None = None) -> np.ndarray:
        """Approximately Gaussian unit noise (sum of four uniforms), per absolute pixel."""
        x0, y0, x1, y1 = self.bounds
        ny, nx = round((y1 - y0) / res), round((x1 - x0) / res)
        r0, r1 = rows if rows is not None else (0, ny)
        col = round((x0 - TILE_ORIGIN[0]) / res) + np.arange(nx)
        row = round((TILE_ORIGIN[1] - y1) / res) + np.arange(r0, r1)
        key = self.world.key * 131 + 1000 * date_index + band_index
        h = _hash(key, row[:, None], col[None, :])
        h = (h & np.uint64(0x0000FFFF0000FFFF)) + ((h >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF))
        h = (h & np.uint64(0xFFFFFFFF)) + (h >> np.uint64(32))    # sum of the four 16-bit lanes
        total = h.astype(np.float32)
        del h
        total += np.float32(2.0)
        total /= np.float32(65536.0)
        total -= np.float32(2.0)
        total *= np.float32(math.sqrt(3.0))
        return total


def _tables(b: int) -> tuple[np.ndarray, np.ndarray]:
    """Endmember A and B reflectance of band index ``b``, indexed by class code."""
    return tuple(np.array([0.0] + [ENDMEMBERS[CLASS_ENDMEMBERS[c][j]][b] for c in range(1, 7)],
                          np.float32) for j in (0, 1))  # type: ignore[return-value]


def _blocks_nd(p: np.ndarray, f: int) -> np.ndarray:
    n, ny, nx = p.shape
    mean: np.ndarray = p.reshape(n, ny // f, f, nx // f, f).mean(axis=(2, 4), dtype=np.float64)
    return mean.astype(np.float32)


def _observe(surf: np.ndarray, atm: dict[str, np.ndarray], b: int) -> np.ndarray:
    """Top of the surface to L2A: cloud shadow, haze, cirrus, then cloud (float32)."""
    obs = surf * (1 - np.float32(_SHADOW_DEPTH[b]) * atm["shadow"])
    obs *= 1 - np.float32(0.08) * atm["haze"]
    obs += np.float32(ENDMEMBERS["haze"][b]) * atm["haze"]
    obs += np.float32(ENDMEMBERS["cirrus"][b]) * atm["cirrus"]
    alpha = atm["cloud"]
    obs += alpha * (np.float32(ENDMEMBERS["cloud"][b]) * (np.float32(0.92) + np.float32(0.08) * alpha)
                    - obs)
    return obs.astype(np.float32, copy=False)


def simulate_flood_scene(
    *,
    seed: int = DEFAULT_SEED,
    window: Sequence[float] | None = None,
    bands: Iterable[str] | None = None,
) -> FloodScene:
    """Simulate the tutorial's flood scene: truth and reflectance of both dates.

    Parameters
    ----------
    seed
        Draws the landscape, the flood and the weather (default
        :data:`DEFAULT_SEED`, the bundled samples). Other seeds give other
        scenes with the same statistics.
    window
        ``(minx, miny, maxx, maxy)`` in EPSG:32756, snapped outward to the
        60 m grid of tile T56HKH and cut to :data:`FULL_WINDOW` (the default).
        A window reproduces exactly the matching part of the full scene.
    bands
        Bands to render (default all twelve); ``()`` for the truth only.
        The full scene with all bands needs about 1.5 GB of memory.

    Returns
    -------
    FloodScene

    Raises
    ------
    AOIError
        If the window does not overlap the scene.
    BandError
        If a band name is unknown.
    """
    names = list(BANDS if bands is None else bands)
    for name in names:
        if name not in BAND_RESOLUTION:
            raise BandError(f"unknown band {name!r}; the L2A bands are {', '.join(BANDS)}")
    rend = _Renderer(seed, window)
    clean: dict[str, dict[str, np.ndarray]] = {}
    noisy: dict[str, dict[str, np.ndarray]] = {}
    for date in DATES:
        rendered = rend.render(date, names)
        clean[date] = {band: c for band, (c, _) in rendered.items()}  # type: ignore[misc]
        noisy[date] = {band: n for band, (_, n) in rendered.items()}
    t, s = rend.truth, rend.state
    inner = (slice(1, -1), slice(1, -1))
    return FloodScene(
        seed=int(seed), bounds=rend.bounds, landcover=t["landcover"], flood=t["flood"],
        permanent_water=t["perm"], clouds=t["clouds"], scl=t["scl"], dem=t["dem"],
        flood_level=t["level"], landcover_10m=s["cls"][inner].copy(),
        flood_10m=s["flood"][inner].copy(), permanent_water_10m=s["perm"][inner].copy(),
        reflectance=clean, noisy=noisy)
