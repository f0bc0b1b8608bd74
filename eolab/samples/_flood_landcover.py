"""Land cover, permanent water and flood of a window, at 10 m, from the world of a seed."""

from __future__ import annotations

import math

import numpy as np

from eolab.samples._flood_fields import _Field, _Grid, _hash, _snap, _uniform16
from eolab.samples._flood_spec import _CANOPY, _TEXTURE, TILE_ORIGIN
from eolab.samples._flood_world import _World


def _bbox(grid: _Grid, x: float, y: float, reach: float) -> tuple[int, int, int, int] | None:
    """Row and column ranges of a (north-up) grid within ``reach`` of a point."""
    c0, c1 = np.searchsorted(grid.xs, [x - reach, x + reach])
    r0, r1 = np.searchsorted(-grid.ys, [-(y + reach), -(y - reach)])
    return (int(r0), int(r1), int(c0), int(c1)) if c0 < c1 and r0 < r1 else None


def _ellipses(X: np.ndarray, Y: np.ndarray, grid: _Grid, shapes: np.ndarray,
              noise: _Field | None, out: np.ndarray) -> None:
    """Mark ellipses ``(x, y, a, b, angle, roughness)`` (or discs ``(x, y, r)``) in ``out``."""
    for s in shapes:
        box = _bbox(grid, s[0], s[1], s[2] * 1.6)
        if box is None:
            continue
        r0, r1, c0, c1 = box
        dx, dy = X[:, c0:c1] - s[0], Y[r0:r1, :] - s[1]
        if len(s) == 3:
            inside = dx * dx + dy * dy < s[2] * s[2]
        else:
            ca, sa = math.cos(s[4]), math.sin(s[4])
            u, v = (dx * ca + dy * sa) / s[2], (-dx * sa + dy * ca) / s[3]
            rough = 0.0 if noise is None else \
                s[5] * noise.on(_Grid(grid.xs[c0:c1], grid.ys[r0:r1]))
            inside = u * u + v * v + rough < 1.0
        out[r0:r1, c0:c1] |= inside


def _classify(world: _World, grid: _Grid, region: np.ndarray) -> dict[str, np.ndarray]:
    """Land cover, flood and the per-pixel mixing state on (a strip of) the 10 m grid."""
    X, Y = grid.mesh()
    ter = world.terrain(grid, channels=True)
    dem, level = ter["dem"], world.level(ter)
    hr = dem - ter["zw"]
    slope = world.coarse_on(grid, "slope")
    shape = grid.shape
    lakes = np.zeros(shape, bool)
    _ellipses(X, Y, grid, world.lakes, world.lake_noise, lakes)
    chan = ter["chan"]
    water = chan | lakes
    # towns
    town = np.zeros(shape)
    for tx, ty, rad in world.towns:
        box = _bbox(grid, tx, ty, rad * 2.5)
        if box is not None:
            r0, r1, c0, c1 = box
            g = np.exp(-((X[:, c0:c1] - tx) ** 2 + (Y[r0:r1] - ty) ** 2) / rad ** 2)
            town[r0:r1, c0:c1] = np.maximum(town[r0:r1, c0:c1], g)
    urban = (town + 0.25 * world.town_noise.on(grid) > 0.4) & (slope < 0.2) & ~water \
        & ((town > 0.2) | (hr > 6.0))     # scattered houses avoid the floodplain
    riparian = ter["dist"] - world.main.width / 2 < 25.0 + 20.0 * world.micro.on(grid)
    forest = ((world._forest_score(grid, hr, slope) > world.forest_threshold) | riparian) \
        & ~urban & ~water
    # parcels: crop, grass or bare, more crops on the low ground
    ang = world.parcel_angle
    px, py = X - TILE_ORIGIN[0], Y - TILE_ORIGIN[1]
    warp = world.warp.on(grid)
    u = px * math.cos(ang) + py * math.sin(ang) + 90.0 * warp
    v = -px * math.sin(ang) + py * math.cos(ang) - 60.0 * warp
    iv = np.floor(v / world.parcel_size[1])
    iu = np.floor(u / world.parcel_size[0] + (iv * 0.6180339887498949) % 1.0)
    h = _hash(world.key + 17, iu, iv)
    u_type, u_m, u_dm, u_b = (_uniform16(h, i) for i in range(4))
    del h
    p_crop = 0.15 + 0.35 * np.exp(-np.maximum(hr, 0) / 10.0)
    cls = np.full(shape, 5, np.uint8)
    cls[u_type < p_crop] = 4
    cls[u_type > 0.93] = 6
    dams = np.zeros(shape, bool)
    _ellipses(X, Y, grid, world.dams, None, dams)
    water |= dams & ~urban & ~forest
    cls[forest] = 3
    cls[urban] = 2
    cls[water] = 1
    # flood: below the flood surface, inside the connected region, not permanent water
    flood = (dem < level) & region & ~water
    # mixing fraction m per date and brightness K
    tex, tex2 = world.texture.on(grid), world.texture2.on(grid)
    m1 = np.select([cls == 1, cls == 2, cls == 3, cls == 4, cls == 5],
                   [np.where(chan, 0.55, np.where(dams, 0.45, 0.12)) + 0.04 * tex2,
                    0.28 + 0.10 * tex2, 0.82 + 0.07 * tex2, 0.15 + 0.80 * u_m,
                    0.45 + 0.40 * u_m + 0.05 * tex2], 0.15 * u_m)
    dm = np.select([cls == 1, cls == 2, cls == 3, cls == 4, cls == 5],
                   [np.where(chan, 0.92 - m1, 0.04), 0.02, 0.015, -0.05 + 0.15 * u_dm,
                    0.03 + 0.04 * u_dm], 0.0)
    m1 = np.clip(m1, 0, 1)
    m2 = np.clip(m1 + dm, 0, 1)
    tau = np.array([0.0] + [_TEXTURE[c] for c in range(1, 7)])[cls]
    parcel = (cls >= 4)
    k1 = (1 + tau * tex) * np.where(parcel, 0.88 + 0.24 * u_b, 1.0)
    height = np.array([1.0] + [_CANOPY[c][0] for c in range(1, 7)])[cls]
    visible = np.array([0.0] + [_CANOPY[c][1] for c in range(1, 7)])[cls]
    depth = level - dem
    emerged = visible * np.clip(1 - depth / height, 0, 1)
    ow = np.where(flood, 1 - emerged, 0.0)
    veg = [((cls == 3) | ((cls >= 4) & (cls <= 5) & (m >= 0.4))) for m in (m1, m2)]
    return {"cls": cls, "flood": flood, "perm": water, "m1": _snap(m1), "m2": _snap(m2),
            "k": _snap(k1), "ow": _snap(ow), "veg1": veg[0], "veg2": veg[1]}
