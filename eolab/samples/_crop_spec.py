"""Constants of the simulated crop scene: grid, classes, proportions, spectra, phenology.

Days count from 2017-09-01 (day 0), the start of the TimeSen2Crop season;
phenology tables give, at key dates, the ground cover fractions of green
vegetation ``g`` and of dry (senescent or straw) vegetation ``d`` (the rest
is bare soil), and optionally of yellow (``fy``: rapeseed, sunflower) and
white (``fw``: caraway) flowers on top of the canopy; values in between are
linear in time. The timings follow the usual Upper-Austrian crop calendar
(winter barley harvested about 1 July, rye mid-July, wheat late July; maize,
soy and beet green until after August; grassland cut three times).
"""

from __future__ import annotations

from datetime import date

import numpy as np

DEFAULT_SEED = 2018
GENERATOR_VERSION = "1"
EPSG = 32633
TILE_ID = "33UVP"
#: The training tiles written in TimeSen2Crop format, with their number of pixels.
TRAINING_TILES: dict[str, int] = {"33UVP": 2400, "33UWP": 1600}
RES = 10.0
#: Scene: 2 km x 2 km on the Traun-Enns plateau south-west of Linz (tile 33UVP).
SCENE_ORIGIN = (438000.0, 5342040.0)  # upper-left corner (x, y), on the tile's 60 m grid
SCENE_SIZE = 200  # pixels per side
SEASON_START = date(2017, 9, 1)
SEASON_END = date(2018, 8, 31)

#: Bands of the cube; TimeSen2Crop's B1..B9 are all of them but B08.
BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
TS2C_BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12")

#: TimeSen2Crop class ids and names.
CROP_CLASSES: dict[int, str] = {
    0: "Legumes", 1: "Grassland", 2: "Maize", 3: "Potato", 4: "Sunflower", 5: "Soy",
    6: "Winter barley", 7: "Winter caraway", 8: "Rye", 9: "Rapeseed", 10: "Beet",
    11: "Spring cereals", 12: "Winter wheat", 13: "Winter triticale",
    14: "Permanent plantation", 15: "Other crops",
}
#: Share of the parcels per class (Upper Austria, rounded; sums to 1).
PROPORTIONS: dict[int, float] = {
    1: .20, 2: .17, 12: .14, 6: .10, 11: .05, 9: .05, 5: .05, 13: .04, 10: .03, 0: .03,
    14: .03, 15: .04, 3: .02, 8: .02, 4: .02, 7: .01,
}
MARGIN = -1  #: Pseudo-class of field margins (grass strips); roads are -2.
ROAD = -2

# Endmember spectra (BOA reflectance) in the order of BANDS.
SOIL = np.array([.070, .100, .130, .160, .180, .200, .220, .230, .310, .260])
VEG = np.array([.025, .060, .030, .100, .280, .380, .430, .450, .210, .100])
DRY = np.array([.090, .130, .170, .210, .250, .280, .300, .310, .400, .330])
YELLOW = np.array([.050, .200, .220, .250, .300, .360, .400, .410, .250, .130])
WHITE = np.array([.120, .150, .140, .180, .300, .380, .420, .430, .250, .130])
SNOW = np.array([.800, .780, .750, .720, .700, .670, .640, .630, .080, .060])
CLOUD = np.array([.520, .500, .490, .490, .500, .510, .520, .520, .360, .250])
CIRRUS = np.array([.040, .040, .040, .038, .036, .034, .032, .032, .020, .010])
ASPHALT = np.array([.080, .090, .100, .110, .120, .130, .140, .140, .160, .150])
#: Bands whose vegetation reflectance follows the canopy's near-infrared factor.
NIR_WEIGHT = np.array([0, 0, 0, .3, .8, 1, 1, 1, .2, 0])
#: Canopy near-infrared factor per class (broad leaves bright, cereals and grass darker).
NIR_FACTOR: dict[int, float] = {
    0: 1.08, 1: .90, 2: .97, 3: 1.05, 4: .95, 5: 1.12, 6: .93, 7: .97, 8: 1.0, 9: 1.0,
    10: 1.10, 11: .92, 12: .95, 13: 1.03, 14: .85, 15: 1.0, MARGIN: .88,
}

Key = tuple[str, float, float]


def day(mmdd: str) -> float:
    """Day of the season (0 = 1 September 2017) of a ``"MM-DD"`` date."""
    month, dom = (int(v) for v in mmdd.split("-"))
    year = 2017 if month >= 9 else 2018
    return float((date(year, month, dom) - SEASON_START).days)


_CATCH: list[Key] = [("09-01", .05, .5), ("09-20", .05, .1), ("10-25", .45, .05),
                     ("11-25", .55, .05), ("12-20", .2, .45), ("02-20", .05, .4)]
_BARE: list[Key] = [("09-01", .05, .5), ("10-15", .03, .1), ("02-20", .03, .05)]
#: Summer crops: the season from the seedbed on (autumn: catch crop or bare, per parcel).
_SUMMER: dict[int, list[Key]] = {
    0: [("03-20", 0, .02), ("04-15", .2, 0), ("05-20", .8, 0), ("06-15", .85, 0),
        ("07-01", .4, .5), ("07-14", .1, .8), ("07-16", 0, .45), ("08-31", .15, .3)],
    2: [("04-20", 0, .02), ("05-10", .04, 0), ("06-15", .4, 0), ("07-01", .8, 0),
        ("08-10", .85, 0), ("08-31", .65, .25)],
    3: [("04-05", 0, 0), ("05-15", .1, 0), ("06-10", .75, 0), ("07-10", .8, 0),
        ("08-01", .35, .4), ("08-10", .1, .5), ("08-14", 0, .15), ("08-31", .05, .1)],
    4: [("04-15", 0, 0), ("05-15", .1, 0), ("06-15", .6, 0), ("07-10", .75, 0),
        ("08-10", .4, .4), ("08-31", .15, .65)],
    5: [("05-10", 0, 0), ("06-10", .05, 0), ("07-05", .4, 0), ("08-01", .85, 0),
        ("08-31", .92, 0)],
    10: [("03-25", 0, 0), ("05-01", .05, 0), ("06-01", .45, 0), ("07-01", .9, 0),
         ("08-31", .9, 0)],
    11: [("03-15", 0, 0), ("04-20", .3, 0), ("05-20", .85, 0), ("06-15", .85, 0),
         ("07-05", .3, .65), ("07-22", .05, .85), ("07-25", 0, .5), ("08-31", .12, .35)],
    15: [("05-10", 0, 0), ("06-10", .2, 0), ("07-10", .6, 0), ("08-10", .5, .3),
         ("08-31", .3, .5)],
}
#: Winter and perennial crops: the whole season.
_WHOLE: dict[int, list[Key]] = {
    1: [("09-01", .65, .1), ("10-15", .55, .1), ("11-30", .4, .15), ("01-15", .35, .2),
        ("03-10", .4, .15), ("04-20", .8, 0), ("05-14", .85, .05), ("05-15", .3, .25),
        ("06-15", .8, .05), ("06-24", .82, .05), ("06-25", .3, .25), ("07-25", .75, .05),
        ("08-09", .77, .05), ("08-10", .3, .25), ("08-31", .65, .1)],
    6: [("09-01", .05, .5), ("09-15", .02, .05), ("09-25", 0, 0), ("10-25", .3, 0),
        ("11-30", .35, 0), ("01-15", .28, .05), ("03-10", .33, 0), ("04-10", .8, 0),
        ("05-10", .9, 0), ("06-01", .5, .45), ("06-20", .05, .85), ("06-30", 0, .85),
        ("07-01", 0, .5), ("08-10", .3, .2), ("08-31", .45, .1)],
    7: [("09-01", .45, .1), ("11-15", .5, .05), ("01-15", .4, .1), ("04-01", .65, 0),
        ("05-20", .85, 0), ("06-25", .5, .4), ("07-10", .1, .8), ("07-14", .02, .8),
        ("07-15", 0, .4), ("08-31", .1, .3)],
    8: [("09-01", .05, .5), ("09-20", .02, .05), ("10-01", 0, 0), ("11-01", .3, 0),
        ("01-15", .25, .05), ("03-10", .35, 0), ("04-15", .85, 0), ("05-15", .88, 0),
        ("06-10", .55, .4), ("06-30", .08, .87), ("07-11", .02, .88), ("07-12", 0, .5),
        ("08-31", .1, .4)],
    9: [("09-01", .3, .05), ("10-01", .7, 0), ("11-15", .75, 0), ("01-15", .5, .1),
        ("03-15", .6, .05), ("04-10", .85, 0), ("05-20", .9, 0), ("06-15", .5, .45),
        ("07-05", .1, .85), ("07-11", .03, .85), ("07-12", 0, .45), ("08-10", .2, .3),
        ("08-31", .3, .2)],
    12: [("09-01", .05, .5), ("10-05", .02, .05), ("10-15", 0, 0), ("11-15", .2, 0),
         ("01-15", .18, .05), ("03-20", .3, 0), ("04-25", .8, 0), ("05-25", .9, 0),
         ("06-20", .6, .35), ("07-10", .1, .85), ("07-21", .03, .88), ("07-22", 0, .5),
         ("08-31", .15, .35)],
    13: [("09-01", .05, .5), ("09-25", .02, .05), ("10-05", 0, 0), ("11-10", .25, 0),
         ("01-15", .22, .05), ("03-15", .32, 0), ("04-20", .85, 0), ("05-25", .95, 0),
         ("06-25", .55, .4), ("07-10", .12, .85), ("07-16", .03, .88), ("07-17", 0, .5),
         ("08-31", .1, .4)],
    14: [("09-01", .6, .05), ("10-15", .5, .1), ("11-15", .3, .25), ("01-15", .25, .25),
         ("04-01", .3, .15), ("05-01", .5, .05), ("06-01", .65, 0), ("08-31", .65, .05)],
    MARGIN: [("09-01", .5, .2), ("11-30", .35, .3), ("03-15", .35, .25), ("05-15", .7, .1),
             ("08-31", .55, .2)],
}
#: Flowers on top of the canopy: (date, fraction) key points.
YELLOW_FLOWERS: dict[int, list[tuple[str, float]]] = {
    9: [("04-15", 0), ("05-01", .7), ("05-15", 0)],
    4: [("07-01", 0), ("07-12", .5), ("07-28", 0)],
}
WHITE_FLOWERS: dict[int, list[tuple[str, float]]] = {7: [("05-15", 0), ("06-01", .4), ("06-20", 0)]}


def phenology_table(crop: int, catch_crop: bool) -> np.ndarray:
    """Key points (n, 5): day, g, d, yellow-flower and white-flower fractions."""
    if crop in _WHOLE:
        keys = list(_WHOLE[crop])
    else:
        keys = (_CATCH if catch_crop else _BARE) + _SUMMER[crop]
    days = np.array([day(k[0]) for k in keys])
    if np.any(np.diff(days) <= 0):
        raise AssertionError(f"phenology key dates of class {crop} are not increasing")
    table = np.zeros((len(keys), 5))
    table[:, 0], table[:, 1], table[:, 2] = days, [k[1] for k in keys], [k[2] for k in keys]
    for col, flowers in ((3, YELLOW_FLOWERS), (4, WHITE_FLOWERS)):
        if crop in flowers:
            fd = [day(k) for k, _ in flowers[crop]]
            table[:, col] = np.interp(days, fd, [v for _, v in flowers[crop]])
            # add the flower key points themselves so the peak is not cut off
            extra = np.zeros((len(fd), 5))
            extra[:, 0] = fd
            extra[:, 1] = np.interp(fd, days, table[:, 1])
            extra[:, 2] = np.interp(fd, days, table[:, 2])
            extra[:, col] = [v for _, v in flowers[crop]]
            table = np.concatenate([table[~np.isin(days, fd)], extra])
            table = table[np.argsort(table[:, 0])]
            days = table[:, 0]
    return table
