"""Field layout of the simulated crop scene: roads, parcels, margins, crop classes.

Fields are rectangles in a frame rotated by a few degrees (a cadastral grid
does not follow the UTM axes): the area is cut by two roads into blocks, and
each block is split recursively across its longer side until a piece is
smaller than a random 1-5 ha (or narrower than 60 m), giving fields of
about 1-2 ha (median 1.4 ha) as on the Traun-Enns plateau; pieces cut by the scene's edge are kept
when at least 4 pixels remain. A 10 m gap between fields
leaves about one pixel of grass margin, roads are 12 m wide. Classes are
dealt out by quotas from the regional proportions, at least two parcels per
class, so that every class is present.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin
from shapely import affinity

from eolab.samples._crop_spec import CROP_CLASSES, PROPORTIONS, RES

MARGIN_GAP = 10.0  # m between two fields
ROAD_WIDTH = 12.0


def _split(box: tuple[float, float, float, float], rng: np.random.Generator,
           out: list[tuple[float, float, float, float]]) -> None:
    u0, v0, u1, v1 = box
    w, h = u1 - u0, v1 - v0
    target = rng.uniform(1.0e4, 5.0e4)  # m², one draw per node
    if w * h <= target or min(w, h) < 60.0:
        out.append(box)
        return
    frac = rng.uniform(0.3, 0.7)
    g = MARGIN_GAP / 2
    if w >= h:
        cut = u0 + frac * w
        _split((u0, v0, cut - g, v1), rng, out)
        _split((cut + g, v0, u1, v1), rng, out)
    else:
        cut = v0 + frac * h
        _split((u0, v0, u1, cut - g), rng, out)
        _split((u0, cut + g, u1, v1), rng, out)


def layout(rng: np.random.Generator, origin: tuple[float, float],
           size: int) -> tuple[list[shapely.Polygon], list[shapely.Polygon]]:
    """Parcel polygons (clipped to the scene, sorted) and road polygons, map coordinates."""
    x0, y1 = origin
    side = size * RES
    scene = shapely.box(x0, y1 - side, x0 + side, y1)
    cx, cy = x0 + side / 2, y1 - side / 2
    half = side * math.sqrt(2) / 2 + 50.0
    angle = float(rng.uniform(-15.0, 15.0))
    ru = float(rng.uniform(-0.25, 0.25)) * side  # road positions in the rotated frame
    rv = float(rng.uniform(-0.25, 0.25)) * side
    r = ROAD_WIDTH / 2
    blocks = [(-half, -half, ru - r, rv - r), (ru + r, -half, half, rv - r),
              (-half, rv + r, ru - r, half), (ru + r, rv + r, half, half)]
    boxes: list[tuple[float, float, float, float]] = []
    for block in blocks:
        _split(block, rng, boxes)
    roads = [shapely.box(ru - r, -half, ru + r, half), shapely.box(-half, rv - r, half, rv + r)]

    def to_map(geom: shapely.Geometry) -> shapely.Geometry:
        g = affinity.rotate(geom, angle, origin=(0.0, 0.0))
        return affinity.translate(g, cx, cy)

    parcels = []
    for b in boxes:
        geom = to_map(shapely.box(*b)).intersection(scene)
        if isinstance(geom, shapely.Polygon) and geom.area >= 4 * RES * RES:
            parcels.append(shapely.normalize(geom))
    parcels.sort(key=lambda g: (-round(g.centroid.y, 3), round(g.centroid.x, 3)))
    road_polys = [to_map(rd).intersection(scene) for rd in roads]
    return parcels, [g for g in road_polys if not g.is_empty]


def deal_classes(n: int, rng: np.random.Generator, minimum: int = 2) -> np.ndarray:
    """Crop classes for ``n`` parcels: quotas from :data:`PROPORTIONS`, shuffled."""
    classes = np.array(sorted(CROP_CLASSES))
    share = np.array([PROPORTIONS[c] for c in classes])
    quota = np.maximum(minimum, np.floor(share * n)).astype(int)
    rest = share * n - np.floor(share * n)
    while quota.sum() < n:
        i = int(np.argmax(rest))
        quota[i] += 1
        rest[i] = -1.0
    while quota.sum() > n:
        quota[int(np.argmax(quota))] -= 1
    labels = np.repeat(classes, quota)
    return rng.permutation(labels)


def raster(polygons: list[shapely.Polygon], values: np.ndarray, origin: tuple[float, float],
           size: int, fill: int) -> np.ndarray:
    """Burn polygons (pixel centres inside) into a (size, size) int32 grid."""
    transform = from_origin(origin[0], origin[1], RES, RES)
    if not polygons:
        return np.full((size, size), fill, np.int32)
    burnt = rasterize(zip(polygons, (int(v) for v in values), strict=True),
                      out_shape=(size, size), transform=transform, fill=fill, dtype="int32")
    return np.asarray(burnt, dtype=np.int32)
